//! One worker process, from fork to exit: post_fork → runtime → worker_init → serve →
//! worker_exit. The setup each point generates runs before the user's hook for that point;
//! at exit the user's hook runs first, so it can still emit telemetry, then the teardown.

use crate::config::TelemetryConfig;
use crate::error::{Error, Result};
use crate::health::serving::AbortReason;
use crate::lifecycle::hooks::WorkerHook;
use crate::lifecycle::plan::Plan;
use crate::lifecycle::run;
use crate::lifecycle::Worker;
use crate::server::accept::listeners::Listeners;
use crate::server::master::boot_failure;
use crate::server::scoreboard::Scoreboard;
use crate::server::signals::{self, SignalInbox};
use crate::server::worker::abort_report;
use crate::server::worker::access_log::AccessLog;
use crate::server::worker::max_requests::{Recycle, RECYCLED};
use crate::server::worker::shutdown_signal::{Shutdown, StopKind, StopSender};
use crate::server::worker::timeout;
use crate::server::worker::worker_report::{BootTimes, WorkerReport};
use crate::server::{App, Serve, Settings};
use crate::stats::counters;
use crate::sys;
use crate::telemetry::otel_pipeline::{self, Previous, ProcessIdentity};
use crate::telemetry::teardown::TeardownReport;
use crate::telemetry::{sentry_pipeline, teardown};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Exit code of a worker that could not boot: the master stops rather than respawn it.
pub(crate) const BOOT_ERROR: i32 = 3;
/// Exit code of a worker whose app returned an error or panicked while serving.
pub(crate) const SERVE_ERROR: i32 = 1;
/// The signals a worker takes: stops (TERM graceful, INT/QUIT quick) and Gunicorn's operational
/// signals, which must never kill it by their default action.
const WORKER_SIGNALS: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];
/// The master's other signals: back to their default action in a worker, as for any process.
const MASTER_ONLY_SIGNALS: [libc::c_int; 4] =
    [libc::SIGCHLD, libc::SIGHUP, libc::SIGTTIN, libc::SIGTTOU];
/// The telemetry flush budget of a quick stop (INT / QUIT).
const QUICK_DEADLINE: Duration = Duration::from_millis(500);

pub(crate) struct WorkerRun<'a, A> {
    pub(crate) id: usize,
    /// The worker's scoreboard slot: its id, unless a worker of that id still holds it (during
    /// a HUP the new worker starts before the old one stops).
    pub(crate) slot: usize,
    pub(crate) master_pid: u32,
    pub(crate) forked: bool,
    pub(crate) plan: &'a Plan,
    pub(crate) config: &'a TelemetryConfig,
    pub(crate) settings: &'a Settings,
    pub(crate) listeners: &'a Listeners,
    pub(crate) app: &'a A,
    /// The mask the process started with, restored once the worker's own handlers are in place.
    pub(crate) mask: Option<&'a signals::SignalMask>,
    /// The shared scoreboard (the worker's record is its slot's).
    pub(crate) board: &'static Scoreboard,
}

/// A worker that booted: everything its serve and exit phases need.
struct Booted<F> {
    rt: tokio::runtime::Runtime,
    shutdown: Shutdown,
    app: Pin<Box<F>>,
    /// The app already returned on its first poll (a TERM that came during boot): polling a
    /// finished `async fn` again panics.
    finished: bool,
    /// The worker, and what it leaves behind at exit (the abort thread holds a copy).
    leaving: Leaving,
}

impl<A: App> WorkerRun<'_, A> {
    /// Runs the worker to its end and returns its exit code.
    ///
    /// The child's path from `fork()` to its own setup, in order, and why each step is safe
    /// when the master had other threads (opted in): only the forking thread exists here, and a
    /// lock another master thread held at that instant stays locked forever.
    /// 1. `die_with_parent`, `parent_pid`: system calls.
    /// 2. `SignalInbox::install`: `pipe2`, `sigaction`, atomics; no lock, no allocation but the
    ///    inbox's list of signals (glibc's `malloc` resets its locks in the child).
    /// 3. The signal mask: back to the one the process started with, stop signals unblocked.
    /// 4. The counters moved to the scoreboard record, from zero (atomics) and the RNG reseed (thread-local, `getrandom`).
    /// 5. From here on the worker's own setup runs (`post_fork`, runtime, `worker_init`); it
    ///    takes the SDKs' global locks, which only the master's forking thread touched, and
    ///    forkline's log lines are written with one `write(2)` each, never through the stderr lock.
    pub(crate) fn run(self) -> i32 {
        if self.forked {
            sys::die_with_parent(libc::SIGTERM);
            if sys::parent_pid() != self.master_pid {
                return 0; // The master died between fork and here.
            }
        }
        let inbox = match SignalInbox::install(&WORKER_SIGNALS, &MASTER_ONLY_SIGNALS) {
            Ok(inbox) => inbox,
            Err(e) => return self.boot_failed(&format!("installing its signal handlers: {e}")),
        };
        if let Some(mask) = self.mask {
            signals::restore(mask);
        }
        if let Err(e) = inbox.unblock() {
            return self.boot_failed(&format!("unblocking its stop signals: {e}"));
        }
        let timed = self.forked && self.settings.aborts();
        if timed {
            if let Err(e) = timeout::block_abort() {
                return self.boot_failed(&format!("blocking ABRT for its timeout: {e}"));
            }
        }
        if self.forked {
            // In the scoreboard record, so the master can read them even after a KILL.
            match self.board.record(self.slot) {
                Some(record) => crate::stats::count_in(record.counters()),
                None => counters().reset(),
            }
            // Before anything draws a random id: see `fork_rng`.
            crate::telemetry::fork_rng::reseed_thread_rng();
        }
        // Anything that goes wrong before the app serves is a boot failure, panics included:
        // the master stops with its message rather than respawn a worker that cannot start.
        let booted = match catch_unwind(AssertUnwindSafe(|| self.boot(inbox))) {
            Ok(Ok(booted)) => booted,
            Ok(Err(message)) => return self.boot_failed(&message),
            Err(panic) => {
                let message = format!("panicked: {}", crate::diag::panic_message(&*panic));
                return self.boot_failed(&message);
            }
        };
        self.serve_and_exit(booted)
    }

    fn boot_failed(&self, message: &str) -> i32 {
        crate::diag::log_error!("worker {} failed to boot: {message}", self.id);
        boot_failure::record(&self.config.run_dir, std::process::id(), message);
        BOOT_ERROR
    }

    fn boot(&self, inbox: SignalInbox) -> std::result::Result<Booted<A::Future>, String> {
        let threads_at_post_fork = sys::thread_count();
        let worker = Worker::new(self.id, self.master_pid, self.config.run_dir.clone());
        let mut boot = BootTimes::default();
        post_fork(&worker, self.config, self.plan, &mut boot)
            .map_err(|e| format!("in post_fork: {e}"))?;
        let rt = self.build_runtime().map_err(|e| e.to_string())?;
        worker.set_runtime(rt.handle().clone());
        let (stop, shutdown) = Shutdown::channel();
        // Only a forked worker recycles: in one process there is no master to replace it.
        let recycle = self
            .settings
            .max_requests
            .filter(|_| self.forked)
            .map(|max| {
                Arc::new(Recycle::draw(
                    max,
                    self.settings.max_requests_jitter,
                    stop.clone(),
                ))
            });
        let access_log = match &self.settings.access_log {
            Some(target) => Some(Arc::new(
                AccessLog::new(target.clone(), self.settings.access_log_format.clone())
                    .map_err(|e| format!("opening its access log {target:?}: {e}"))?,
            )),
            None => None,
        };
        {
            let _context = rt.enter();
            listen_for_signals(inbox, stop, self.id, access_log.clone())
                .map_err(|e| format!("listening for its signals: {e}"))?;
            worker_init(&worker, self.config, self.plan, &mut boot)
                .map_err(|e| format!("in worker_init: {e}"))?;
        }
        let listeners = self
            .listeners
            .for_worker()
            .map_err(|e| format!("preparing its listening sockets: {e}"))?;
        let record = self.board.record(self.slot).map(|record| {
            record.claim(worker.pid());
            crate::health::register_serving(record);
            (self.board, record)
        });
        let leaving = Leaving {
            id: self.id,
            worker: worker.clone(),
            run_dir: self.config.run_dir.clone(),
            threads_at_post_fork,
            boot,
            recycle: recycle.clone(),
        };
        if let (Some((_, record)), true) = (record, self.forked) {
            if let Some(every) = self.settings.heartbeat_every() {
                let _context = rt.enter();
                timeout::start_heartbeat(record, every);
            }
            if self.settings.aborts() {
                let abort_hooks = self.plan.worker_abort;
                let leaving = leaving.clone();
                let (silence, deadline) = (
                    self.settings
                        .timeout
                        .or(self.settings.harakiri)
                        .unwrap_or_default(),
                    self.config.worker_exit_deadline.min(timeout::ABORT_FLUSH),
                );
                timeout::watch_for_abort(move || {
                    leaving.abort(silence, deadline, record.abort_reason(), abort_hooks)
                })
                .map_err(|e| format!("starting its abort thread: {e}"))?;
            }
        }
        let serve = Serve {
            worker: worker.clone(),
            listeners,
            shutdown: shutdown.clone(),
            record,
            balance: self.settings.balanced_accept,
            max_requests_per_connection: self.settings.max_requests_per_connection,
            rebalance_after: self.settings.rebalance_after,
            trusted: self.settings.forwarded_allow_ips.clone(),
            access_log,
            limits: self.settings.limits,
            drain_window: self
                .settings
                .drain_window
                .min(self.settings.graceful_timeout),
            recycle: recycle.clone(),
            server_counts_requests: false,
        };
        let mut app = {
            let _context = rt.enter();
            Box::pin(self.app.serve(serve))
        };
        // The app's first poll binds its accept loop; an app that fails there never served.
        let first = rt.block_on(std::future::poll_fn(|cx| {
            std::task::Poll::Ready(app.as_mut().poll(cx))
        }));
        if let std::task::Poll::Ready(Err(e)) = first {
            return Err(format!("the app failed as it started: {e}"));
        }
        crate::diag::log_info!("worker {} booted (pid {})", self.id, worker.pid());
        Ok(Booted {
            rt,
            shutdown,
            app,
            finished: first.is_ready(),
            leaving,
        })
    }

    fn serve_and_exit(&self, booted: Booted<A::Future>) -> i32 {
        let Booted {
            rt,
            shutdown,
            mut app,
            finished,
            leaving,
        } = booted;
        let worker = &leaving.worker;
        let quick_stop = shutdown.clone();
        let served = if finished {
            Ok(())
        } else {
            rt.block_on(async move {
                tokio::select! {
                    result = &mut app => result,
                    // A quick stop does not wait for the app to wind down.
                    () = quick_stop.wait_quick() => Ok(()),
                }
            })
        };
        let mut code = 0;
        if let Err(e) = served {
            crate::diag::log_error!("worker {} stopped serving: the app: {e}", self.id);
            code = SERVE_ERROR;
        } else if leaving.recycle.as_ref().is_some_and(|r| r.reached()) {
            code = RECYCLED;
        }
        let _context = rt.enter();

        let quick = shutdown.requested() == Some(StopKind::Quick);
        if quick {
            run::worker_hooks("worker_int", self.plan.worker_int, worker);
        }
        let exit_hook = self.plan.worker_exit.map(|h| (&h.site, h.run));
        if let Err(e) = run::optional_worker_hook("worker_exit", exit_hook, worker) {
            crate::diag::log_error!("{e}");
        }
        let deadline = if quick {
            self.config.worker_exit_deadline.min(QUICK_DEADLINE)
        } else {
            self.config.worker_exit_deadline
        };
        leaving.leave(teardown::teardown(deadline), false);
        code
    }

    fn build_runtime(&self) -> Result<tokio::runtime::Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.enable_all().thread_name("forkline-worker");
        if let Some(n) = self.settings.worker_threads {
            builder.worker_threads(n);
        }
        builder
            .build()
            .map_err(|e| Error::io("building the worker's async runtime", e))
    }
}

/// One worker lifecycle point: forkline's generated setup, timed into `setup_us`, then the
/// user's hook for that point, if there is one.
fn lifecycle_point(
    worker: &Worker,
    name: &str,
    hook: Option<run::WorkerHookRef<'_>>,
    setup_us: &mut u64,
    setup: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let started = std::time::Instant::now();
    setup()?;
    *setup_us = started.elapsed().as_micros() as u64;
    run::optional_worker_hook(name, hook, worker)
}

fn post_fork(
    worker: &Worker,
    config: &TelemetryConfig,
    plan: &Plan,
    boot: &mut BootTimes,
) -> Result<()> {
    let hook = plan.post_fork.map(|h| (&h.site, h.run));
    lifecycle_point(
        worker,
        "post_fork",
        hook,
        &mut boot.post_fork_setup_us,
        || {
            let who = ProcessIdentity {
                worker_id: Some(worker.id()),
                pid: worker.pid(),
                instance_id: worker.instance_id().to_string(),
            };
            if let Previous::InheritedFrom(pid) = otel_pipeline::install(config, &who)? {
                crate::diag::log_warn!(
                "the tracer provider built in pid {pid} before fork() was detected in worker {} and rebuilt",
                worker.id()
            );
            }
            Ok(())
        },
    )
}

fn worker_init(
    worker: &Worker,
    config: &TelemetryConfig,
    plan: &Plan,
    boot: &mut BootTimes,
) -> Result<()> {
    let hook = plan.worker_init.map(|h| (&h.site, h.run));
    lifecycle_point(
        worker,
        "worker_init",
        hook,
        &mut boot.worker_init_setup_us,
        || {
            if sentry_pipeline::init(config, worker.pid())? {
                sentry_pipeline::bind_span_processor()?;
            }
            crate::telemetry::propagation::install(&config.propagators);
            #[cfg(feature = "tracing")]
            crate::telemetry::tracing_bridge::install(config);
            Ok(())
        },
    )
}

/// Turns the worker's signals into stop requests, on its runtime. The inbox was made in this
/// process after fork (see `signals.rs`): nothing the master left behind can take them.
fn listen_for_signals(
    inbox: SignalInbox,
    stop: StopSender,
    id: usize,
    access_log: Option<Arc<AccessLog>>,
) -> std::io::Result<()> {
    // SAFETY: the inbox's read end stays open for the life of this process: only a new
    // `SignalInbox::install` closes it, and a worker installs once.
    let inbox = unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(inbox, tokio::io::Interest::READABLE)
    }?;
    tokio::spawn(async move {
        loop {
            let received = inbox.get_ref().take();
            if received.contains(libc::SIGTERM) {
                stop.stop(StopKind::Graceful);
            }
            if received.contains(libc::SIGINT) || received.contains(libc::SIGQUIT) {
                stop.stop(StopKind::Quick);
            }
            if received.contains(libc::SIGUSR1) {
                // logrotate's "reopen logs": the access log's file, if it has one.
                match access_log.as_deref().map(AccessLog::reopen) {
                    Some(Ok(())) => {
                        crate::diag::log_info!("worker {id}: USR1: the access log is reopened")
                    }
                    Some(Err(e)) => crate::diag::log_error!(
                        "worker {id}: USR1: could not reopen the access log: {e}"
                    ),
                    None => crate::diag::log_info!(
                        "worker {id}: USR1: forkline writes its log to stderr, so there is no file \
                         to reopen"
                    ),
                }
            }
            for (signal, name) in [(libc::SIGUSR2, "USR2"), (libc::SIGWINCH, "WINCH")] {
                if received.contains(signal) {
                    crate::diag::log_info!(
                        "worker {id}: {name} has no meaning in a worker; ignored"
                    );
                }
            }
            match inbox.readable().await {
                Ok(mut ready) => ready.clear_ready(),
                Err(e) => {
                    crate::diag::log_error!("worker {id}: its signal inbox failed: {e}");
                    return;
                }
            }
        }
    });
    Ok(())
}

/// What a worker leaves behind as it exits: its report in the run folder and its last log line.
#[derive(Clone)]
struct Leaving {
    id: usize,
    worker: Worker,
    run_dir: std::path::PathBuf,
    threads_at_post_fork: usize,
    boot: BootTimes,
    recycle: Option<Arc<Recycle>>,
}

impl Leaving {
    fn leave(&self, shutdown: TeardownReport, timed_out: bool) {
        let health = crate::health();
        let report = WorkerReport {
            worker_id: self.id,
            pid: self.worker.pid(),
            threads_at_post_fork: self.threads_at_post_fork,
            boot: self.boot,
            shutdown,
            stats: crate::stats(),
            traces: health.traces,
            sentry: health.sentry,
            metrics: health.metrics,
            logs: health.logs,
            serving: health.serving.unwrap_or_default(),
            max_requests: self.recycle.as_ref().map(|r| r.limit()),
            timed_out,
        };
        if let Err(e) = report.write(&self.run_dir) {
            crate::diag::log_warn!("could not write the worker report: {e}");
        }
        crate::diag::log_info!(
            "worker {} exiting: {} spans exported, {} dropped, {} discarded by the embedded budget, {} Sentry events; telemetry shut down in {} ms",
            self.id,
            report.stats.spans_exported,
            report.stats.spans_export_failed
                + report.stats.spans_dropped_unexported
                + report.stats.spans_dropped_inherited,
            report.stats.spans_discarded_budget,
            report.stats.sentry_events_captured,
            report.shutdown.elapsed_ms
        );
    }

    /// The master's ABRT for a timeout, on the abort thread while the runtime is stuck: a Sentry
    /// event naming the requests in flight, their spans ended with an error, the telemetry
    /// flushed within `deadline`, the report, and the exit. The `worker_abort` hooks run first,
    /// on this thread.
    fn abort(
        self,
        timeout: Duration,
        deadline: Duration,
        said: Option<AbortReason>,
        hooks: &[WorkerHook],
    ) -> ! {
        let requests = crate::server::worker::in_flight::in_flight(Duration::from_millis(50));
        let message = abort_report::message(self.id, self.worker.pid(), timeout, said, &requests);
        crate::diag::log_error!("{message}; flushing its telemetry");
        run::worker_hooks("worker_abort", hooks, &self.worker);
        // Stuck requests come first: the event links to the first one with a span, before the
        // spans end (Sentry's span processor forgets a span once it ends).
        let linked = requests.iter().find_map(|r| r.span.as_ref());
        abort_report::capture_event(&message, linked);
        abort_report::end_spans(&requests);
        self.leave(teardown::teardown(deadline), true);
        crate::sys::exit_now(timeout::TIMED_OUT)
    }
}
