//! The one error type of the facade. Every message names what to change.

use std::fmt;

/// `Result` with forkline's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, phrased for the person who has to fix it.
///
/// `Debug` prints the same message as `Display`: a `main` that returns
/// `Result<(), Box<dyn Error>>` shows its error with `Debug`, and the message is what helps there.
#[non_exhaustive]
pub enum Error {
    /// A configuration value (environment variable, macro argument or code) is invalid.
    Config {
        /// Where the value came from: the variable's name, or `code` / a hook's argument.
        source_name: String,
        /// What is wrong and what is expected. Never contains secret values.
        message: String,
    },
    /// A hook returned an error or the hooks of the binary contradict each other.
    Hook {
        /// The hook's function and location.
        hook: String,
        /// What went wrong.
        message: String,
    },
    /// Telemetry state was created where it cannot survive a `fork()`: which, and what to do.
    ForkSafety(ForkHazard),
    /// A worker could not boot; the master stopped instead of respawning it forever.
    WorkerBoot {
        /// The worker's slot number.
        worker_id: usize,
        /// Its exit code.
        code: i32,
        /// Why, as the worker said it (a hook's error, a panic's message).
        message: String,
    },
    /// Workers kept dying soon after they started: the master stopped instead of respawning them
    /// in a loop.
    CrashLoop {
        /// The slot of the last worker that died.
        worker_id: usize,
        /// Early deaths in a row.
        crashes: u32,
        /// What counts as early: dying this soon after the fork.
        window: std::time::Duration,
        /// How the last one ended.
        last: String,
    },
    /// A worker stopped serving with an error (no-fork mode reports it as the server's result).
    WorkerFailed {
        /// The worker's slot number.
        worker_id: usize,
        /// Its exit code.
        code: i32,
    },
    /// An operating-system call failed.
    Io {
        /// What forkline was doing.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The telemetry SDKs refused to build.
    Telemetry(String),
}

impl Error {
    pub(crate) fn config(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            source_name: source_name.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// A result's error message, or nothing: what configuration tests compare.
#[cfg(test)]
pub(crate) fn message_of<T>(result: Result<T>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config {
                source_name,
                message,
            } => write!(f, "invalid configuration: {source_name}: {message}"),
            Self::Hook { hook, message } => write!(f, "hook {hook}: {message}"),
            Self::ForkSafety(hazard) => write!(f, "fork safety: {hazard}"),
            Self::WorkerBoot {
                worker_id,
                code,
                message,
            } => write!(
                f,
                "worker {worker_id} failed to boot (exit code {code}): {message}. The master \
                 stopped instead of respawning a worker that cannot start"
            ),
            Self::CrashLoop {
                worker_id,
                crashes,
                window,
                last,
            } => write!(
                f,
                "workers died {crashes} times in a row within {} ms of starting (the last, worker \
                 {worker_id}, {last}); the master stopped instead of respawning them in a loop. \
                 Their errors are logged above (FORKLINE_CRASH_LOOP_LIMIT sets how many early \
                 deaths are tolerated, 0 for no limit)",
                window.as_millis()
            ),
            Self::WorkerFailed { worker_id, code } => write!(
                f,
                "worker {worker_id} stopped serving with an error (exit code {code}); its error is logged above"
            ),
            Self::Io { context, source } => write!(f, "{context}: {source}"),
            Self::Telemetry(message) => write!(f, "telemetry setup failed: {message}"),
        }
    }
}

/// What the master found that would not survive `fork()` ([`Error::ForkSafety`]). Each one's
/// `Display` says where the work belongs instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForkHazard {
    /// `Server::serve` was called from inside an async runtime (`#[tokio::main]`).
    ServeInRuntime,
    /// `sentry::init` was called in the master.
    SentryInMaster,
    /// An OpenTelemetry tracer provider was installed in the master by hand.
    TracerProviderInMaster,
    /// An OpenTelemetry meter provider was installed in the master by hand.
    MeterProviderInMaster,
    /// Other threads ran in the master at fork time: each is named, with where its work belongs.
    ThreadsAtFork {
        /// How many.
        count: usize,
        /// Each thread and its advice.
        threads: String,
    },
}

/// Why a master thread at fork time is a hazard, for both the error and the warning.
pub(crate) const THREADS_HAZARD: &str = "Only the forking thread exists in a worker: locks the \
     others hold stay locked there forever, and the runtime state they share (signal pipes, \
     connection pools) is shared by every worker";

impl fmt::Display for ForkHazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServeInRuntime => f.write_str(
                "Server::serve was called from inside an async runtime (#[tokio::main], or \
                 Runtime::block_on): each worker starts its own runtime after fork(), and the \
                 master must not run one, since its threads and this thread's runtime context \
                 would be copied into every worker (they would panic with \"Cannot start a \
                 runtime from within a runtime\"). Write a plain `fn main() -> \
                 forkline::Result<()>` without #[tokio::main]. Async work per worker goes in \
                 #[forkline::worker_init]; async work before serving can run on a runtime that \
                 you drop before serve: `tokio::runtime::Runtime::new()?.block_on(prepare())`",
            ),
            Self::SentryInMaster => f.write_str(
                "sentry::init was called in the master process before fork(): its transport \
                 thread does not survive fork(), so workers would lose every event and hang at \
                 exit. Remove it and let #[forkline::worker_init(sentry(...))] initialise Sentry \
                 in each worker",
            ),
            Self::TracerProviderInMaster => f.write_str(
                "an OpenTelemetry tracer provider was installed in the master process before \
                 fork() (opentelemetry::global::set_tracer_provider): its batch export thread \
                 does not survive fork(), so workers would silently drop every span. Remove it \
                 and let #[forkline::post_fork(...)] build the provider in each worker",
            ),
            Self::MeterProviderInMaster => f.write_str(
                "an OpenTelemetry meter provider was installed in the master process before \
                 fork() (opentelemetry::global::set_meter_provider): its periodic reader thread \
                 does not survive fork(), so workers would silently lose every metric. Remove it \
                 and let #[forkline::post_fork(...)] build the meter provider in each worker",
            ),
            Self::ThreadsAtFork { count, threads } => write!(
                f,
                "the master has {count} other thread(s) at fork(): {threads}. {THREADS_HAZARD}. \
                 Move that work as said; a runtime or client that is dropped before serve leaves \
                 nothing behind. If you know the risk, opt in with \
                 Server::allow_threads_at_fork() or FORKLINE_ALLOW_THREADS_AT_FORK=1"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
