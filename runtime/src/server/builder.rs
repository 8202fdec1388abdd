//! `Server`: the public builder of a pre-fork server (workers, address, timeouts, telemetry
//! overrides), and `serve`, which resolves the configuration and hands over to the master's boot.

use crate::config::{Env, Telemetry, TelemetryConfig};
use crate::error::{Error, Result};
use crate::lifecycle::plan::Plan;
use crate::server::accept::bind_address::{self, BindAddress, ToBindAddress};
use crate::server::accept::unix_socket;
use crate::server::app::App;
#[cfg(feature = "axum")]
use crate::server::app::Serve;
use crate::server::check;
use crate::server::master::master_boot;
use crate::server::settings::Settings;
use crate::server::worker::access_log;
use crate::server::worker::forwarded::TrustedProxies;
#[cfg(feature = "axum")]
use crate::server::worker::keep_alive;
use crate::server::worker::request_limits;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::time::Duration;

/// How long a stopping worker keeps an idle keep-alive connection open for its client's next
/// request. A client sends its next request as soon as it has read a response, and a
/// connection just taken sends its first right after connecting; on a loaded machine either
/// can take longer than 100 ms (a binary-upgrade test lost a request at that bound in CI).
/// Waiting longer only delays the exit of a worker whose clients sent nothing more.
const DEFAULT_DRAIN_WINDOW: Duration = Duration::from_secs(1);

/// Gunicorn's `backlog`: std listens with 128, which a burst of new connections overflows
/// while every worker is busy (the kernel then drops their SYNs, and each client waits a second
/// to try again).
const DEFAULT_BACKLOG: u32 = 2048;

/// How old a connection on a crowded worker gets before `serve_axum` closes it.
const DEFAULT_REBALANCE_AFTER: Duration = Duration::from_millis(500);

/// A pre-fork server. Build it, then [`serve`](Server::serve) an app.
///
/// ```no_run
/// # fn app(_: forkline::Serve) -> std::future::Ready<std::io::Result<()>> { std::future::ready(Ok(())) }
/// fn main() -> forkline::Result<()> {
///     forkline::Server::from_env()?.workers(4).bind("127.0.0.1:8000")?.serve(app)
/// }
/// ```
#[derive(Debug)]
pub struct Server {
    env: Env,
    telemetry: Telemetry,
    pub(crate) settings: Settings,
}

impl Server {
    /// A server configured from the process environment (`OTEL_*`, `SENTRY_*`, `FORKLINE_*`).
    /// Every telemetry variable is validated here: a bad one is an error naming it.
    pub fn from_env() -> Result<Self> {
        Self::with_env(Env::from_process())
    }

    /// A server configured from `env` instead of the process environment.
    pub fn with_env(env: Env) -> Result<Self> {
        let workers = env.positive_usize("FORKLINE_WORKERS")?.unwrap_or(2);
        let graceful_timeout = env
            .millis("FORKLINE_GRACEFUL_TIMEOUT_MS")?
            .unwrap_or(Duration::from_secs(30));
        let allow_threads_at_fork = env.bool("FORKLINE_ALLOW_THREADS_AT_FORK")?.unwrap_or(false);
        let balanced_accept = env.bool("FORKLINE_BALANCED_ACCEPT")?.unwrap_or(true);
        // 0 turns the limit off.
        let max_requests_per_connection = env
            .u64("FORKLINE_MAX_REQUESTS_PER_CONNECTION")?
            .filter(|&n| n > 0);
        // 0 turns the limit off.
        let rebalance_after = match env.u64("FORKLINE_REBALANCE_AFTER_MS")? {
            Some(ms) => Some(Duration::from_millis(ms)).filter(|a| !a.is_zero()),
            None => Some(DEFAULT_REBALANCE_AFTER),
        };
        // Gunicorn's defaults: 0 (never recycle) and no jitter.
        let max_requests = env.u64("FORKLINE_MAX_REQUESTS")?.filter(|&n| n > 0);
        let max_requests_jitter = env.u64("FORKLINE_MAX_REQUESTS_JITTER")?.unwrap_or(0);
        let crash_window = env
            .millis("FORKLINE_CRASH_WINDOW_MS")?
            .unwrap_or(Duration::from_secs(10));
        let crash_backoff_cap = env
            .millis("FORKLINE_CRASH_BACKOFF_CAP_MS")?
            .unwrap_or(Duration::from_secs(10));
        let crash_loop_limit = match env.u64("FORKLINE_CRASH_LOOP_LIMIT")? {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => 10,
        };
        // Gunicorn's default: 30 s; 0 turns it off.
        let timeout = match env.u64("FORKLINE_TIMEOUT_MS")? {
            Some(ms) => Some(Duration::from_millis(ms)).filter(|t| !t.is_zero()),
            None => Some(Duration::from_secs(30)),
        };
        // uWSGI's default: off; 0 turns it off.
        let harakiri = env.millis("FORKLINE_HARAKIRI_MS")?.filter(|h| !h.is_zero());
        // uWSGI's names and unit (MiB); 0 or unset: no limit.
        let mib = |name| -> Result<Option<u64>> {
            Ok(env
                .u64(name)?
                .filter(|&m| m > 0)
                .map(|m| m.saturating_mul(1024 * 1024)))
        };
        let reload_on_rss = mib("FORKLINE_RELOAD_ON_RSS_MB")?;
        let evil_reload_on_rss = mib("FORKLINE_EVIL_RELOAD_ON_RSS_MB")?;
        // Gunicorn reads `FORWARDED_ALLOW_IPS` too; forkline's own name wins.
        let forwarded_allow_ips = match env
            .get("FORKLINE_FORWARDED_ALLOW_IPS")
            .map(|v| ("FORKLINE_FORWARDED_ALLOW_IPS", v))
            .or_else(|| {
                env.get("FORWARDED_ALLOW_IPS")
                    .map(|v| ("FORWARDED_ALLOW_IPS", v))
            }) {
            Some((name, value)) => {
                TrustedProxies::parse(value).map_err(|e| Error::config(name, e))?
            }
            None => TrustedProxies::default(),
        };
        let access_log = env
            .get("FORKLINE_ACCESS_LOG")
            .filter(|t| !t.is_empty())
            .map(access_log::Target::parse);
        let access_log_format = match env.get("FORKLINE_ACCESS_LOG_FORMAT") {
            Some(format) => access_log::Format::parse(format)
                .map_err(|e| Error::config("FORKLINE_ACCESS_LOG_FORMAT", e))?,
            None => access_log::Format::default(),
        };
        let drain_window = env
            .millis("FORKLINE_DRAIN_WINDOW_MS")?
            .unwrap_or(DEFAULT_DRAIN_WINDOW);
        let pidfile = env
            .get("FORKLINE_PIDFILE")
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from);
        let limit = |name, default: usize| -> Result<Option<usize>> {
            // Gunicorn's meaning of 0: no limit.
            Ok(match env.u64(name)? {
                Some(0) => None,
                Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                None => Some(default),
            })
        };
        let limits = request_limits::Limits {
            line: limit("FORKLINE_LIMIT_REQUEST_LINE", request_limits::DEFAULT_LINE)?,
            fields: limit(
                "FORKLINE_LIMIT_REQUEST_FIELDS",
                request_limits::DEFAULT_FIELDS,
            )?
            .unwrap_or(0),
            field_size: limit(
                "FORKLINE_LIMIT_REQUEST_FIELD_SIZE",
                request_limits::DEFAULT_FIELD_SIZE,
            )?,
        };
        if limits.fields > request_limits::MAX_FIELDS {
            return Err(Error::config(
                "FORKLINE_LIMIT_REQUEST_FIELDS",
                format!(
                    "{} is over Gunicorn's most, {}; 0 turns the limit off",
                    limits.fields,
                    request_limits::MAX_FIELDS
                ),
            ));
        }
        let env_binds = env
            .get("FORKLINE_BIND")
            .map(|a| bind_address::parse_list(a).map_err(|e| Error::config("FORKLINE_BIND", e)))
            .transpose()?;
        let unix_socket_mode = match env.get("FORKLINE_UNIX_SOCKET_MODE") {
            Some(text) => {
                parse_mode(text).map_err(|e| Error::config("FORKLINE_UNIX_SOCKET_MODE", e))?
            }
            None => unix_socket::DEFAULT_MODE,
        };
        let server = Self {
            telemetry: Telemetry::default(),
            settings: Settings {
                workers,
                code_binds: Vec::new(),
                env_binds,
                unix_socket_mode,
                backlog: match env.u64("FORKLINE_BACKLOG")? {
                    Some(n) if n > 0 => u32::try_from(n).unwrap_or(u32::MAX),
                    _ => DEFAULT_BACKLOG,
                },
                graceful_timeout,
                quick_timeout: Duration::from_secs(2),
                no_fork: false,
                worker_threads: env.positive_usize("FORKLINE_WORKER_THREADS")?,
                allow_threads_at_fork,
                balanced_accept,
                max_requests_per_connection,
                rebalance_after,
                drain_window,
                max_requests,
                max_requests_jitter,
                crash_window,
                crash_backoff_cap,
                crash_loop_limit,
                timeout,
                harakiri,
                forwarded_allow_ips,
                access_log,
                access_log_format,
                reload_on_rss,
                evil_reload_on_rss,
                pidfile,
                limits,
            },
            env,
        };
        // Fail now, not after the first fork, if anything is misconfigured.
        server.resolve()?;
        Ok(server)
    }

    /// How many workers to keep running (default 2, or `FORKLINE_WORKERS`).
    pub fn workers(mut self, n: usize) -> Self {
        self.settings.workers = n.max(1);
        self
    }

    /// An address to listen on, in Gunicorn's forms: `"127.0.0.1:8000"`, `"unix:/run/app.sock"`,
    /// `"fd://3"`, or a `SocketAddr`. Call it once per address: every worker serves them all. A
    /// host name is resolved now; the sockets are bound after `on_starting`.
    ///
    /// `FORKLINE_BIND` (addresses separated by commas), when set, replaces every address given
    /// in code: where to listen is the deployment's to say. Sockets passed by systemd socket
    /// activation (`LISTEN_FDS`) replace both, as in Gunicorn.
    pub fn bind(mut self, addr: impl ToBindAddress) -> Result<Self> {
        let address = addr
            .to_bind_address()
            .map_err(|e| Error::config("Server::bind", e))?;
        self.settings.code_binds.push(address);
        Ok(self)
    }

    /// A listening socket the program made itself (a `std::net::TcpListener`, a
    /// `std::os::unix::net::UnixListener`, a `socket2::Socket` after `listen`), served like a
    /// [`bind`](Server::bind) address. It must be listening; `serve` says so if not.
    pub fn listener(mut self, listener: impl Into<OwnedFd>) -> Self {
        let fd = listener.into().into_raw_fd();
        self.settings.code_binds.push(BindAddress::Fd(fd));
        self
    }

    /// The mode of the Unix socket files the master creates (default `0o666`, systemd's
    /// `SocketMode=` default; also `FORKLINE_UNIX_SOCKET_MODE`, in octal). Connecting needs
    /// write permission, so `0o660` lets in the socket's group only.
    pub fn unix_socket_mode(mut self, mode: u32) -> Self {
        self.settings.unix_socket_mode = mode & 0o777;
        self
    }

    /// Gunicorn's `backlog`: how many connections the kernel queues on each socket the master
    /// binds before a worker takes them (default 2048; the kernel caps it at
    /// `net.core.somaxconn`; also `FORKLINE_BACKLOG`). Sockets handed over (`fd://`, systemd)
    /// keep their own.
    pub fn backlog(mut self, connections: u32) -> Self {
        self.settings.backlog = connections.max(1);
        self
    }

    /// Gunicorn's `limit_request_line`: the longest request line (method, target and version)
    /// `serve_axum` takes, in bytes (default 4094; 0: no limit; also
    /// `FORKLINE_LIMIT_REQUEST_LINE`). A longer one is answered 414 and its connection closed.
    pub fn limit_request_line(mut self, bytes: usize) -> Self {
        self.settings.limits.line = (bytes > 0).then_some(bytes);
        self
    }

    /// Gunicorn's `limit_request_fields`: the most header fields a request may have (default
    /// 100, at most 32768; 0: 32768; also `FORKLINE_LIMIT_REQUEST_FIELDS`). More is answered 431
    /// by the HTTP parser, which stops reading there.
    pub fn limit_request_fields(mut self, fields: usize) -> Self {
        self.settings.limits.fields = fields.min(request_limits::MAX_FIELDS);
        self
    }

    /// Gunicorn's `limit_request_field_size`: the longest header field (`Name: value`) a request
    /// may have, in bytes (default 8190; 0: no limit; also `FORKLINE_LIMIT_REQUEST_FIELD_SIZE`).
    /// A longer one is answered 400, as nginx answers it, and its connection closed.
    pub fn limit_request_field_size(mut self, bytes: usize) -> Self {
        self.settings.limits.field_size = (bytes > 0).then_some(bytes);
        self
    }

    /// How long workers get to stop after TERM before they are killed (default 30 s).
    pub fn graceful_timeout(mut self, timeout: Duration) -> Self {
        self.settings.graceful_timeout = timeout;
        self
    }

    /// Threads of each worker's async runtime (default: one per core; also
    /// `FORKLINE_WORKER_THREADS`).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.settings.worker_threads = Some(n.max(1));
        self
    }

    /// Runs every lifecycle point in this one process, without forking (development, tests).
    pub fn no_fork(mut self) -> Self {
        self.settings.no_fork = true;
        self
    }

    /// Lets the master fork while it has other threads (default: a start-up error that names
    /// each thread and the hook its work belongs in; also `FORKLINE_ALLOW_THREADS_AT_FORK=1`).
    /// The threads do not exist in the workers, and any lock they held at that instant stays
    /// locked there: only for threads you know hold nothing a worker will touch. It still warns.
    pub fn allow_threads_at_fork(mut self) -> Self {
        self.settings.allow_threads_at_fork = true;
        self
    }

    /// Whether workers share new connections out by their open connections (default `true`;
    /// also `FORKLINE_BALANCED_ACCEPT`). Off, each connection goes to whichever worker wakes
    /// first, which under keep-alive load leaves most of the work to one worker.
    pub fn balanced_accept(mut self, on: bool) -> Self {
        self.settings.balanced_accept = on;
        self
    }

    /// After this many requests on one connection, the response says `Connection: close`
    /// (`serve_axum`, or an app's own server through
    /// [`ConnectionDrain::last_response`](crate::net::ConnectionDrain::last_response))
    /// (default: no limit; also `FORKLINE_MAX_REQUESTS_PER_CONNECTION`, 0 for no limit). A hard
    /// cap, for clients or proxies that want one; spreading long-lived connections over the
    /// workers is [`rebalance_after`](Server::rebalance_after)'s job, which closes far fewer.
    pub fn max_requests_per_connection(mut self, max: Option<u64>) -> Self {
        self.settings.max_requests_per_connection = max.filter(|&n| n > 0);
        self
    }

    /// Keep-alive rebalancing: a connection at least this old, on a worker that holds more than
    /// its share of the open connections (more than their number over the live workers,
    /// rounded down), is closed after its next response (`Connection: close`); its client
    /// reconnects and balanced accept gives it to a worker with fewer. Connections on workers
    /// at or under their share are never closed for it, so evenly spread connections stay put,
    /// and a connection is looked at once per this age, not per request. Default 500 ms;
    /// `None` (or `FORKLINE_REBALANCE_AFTER_MS=0`) turns it off; also
    /// `FORKLINE_REBALANCE_AFTER_MS`. Only with balanced accept; under `serve_axum`, or an
    /// app's own server through
    /// [`ConnectionDrain::last_response`](crate::net::ConnectionDrain::last_response).
    pub fn rebalance_after(mut self, age: Option<Duration>) -> Self {
        self.settings.rebalance_after = age.filter(|a| !a.is_zero());
        self
    }

    /// How long a stopping worker keeps serving the keep-alive connections it holds (default
    /// 1 s; also `FORKLINE_DRAIN_WINDOW_MS`; never longer than the graceful timeout). Every
    /// stop is graceful this way: TERM, HUP, TTOU, WINCH during a binary upgrade, and
    /// `max_requests`. Once asked to stop, a worker takes no new connection; each response
    /// after which nothing more is pending on its connection says `Connection: close`, so a
    /// client that already sent its next request gets it answered first; a connection idle at
    /// the stop stays open for its client's next request, which is answered the same way. Only
    /// what is still idle when the window ends is closed without a last response, and
    /// `Duration::ZERO` closes idle connections at once. Served by
    /// [`serve_axum`](Server::serve_axum); an app with its own server does the same with
    /// [`Drain`](crate::net::Drain) and [`ConnectionDrain`](crate::net::ConnectionDrain).
    pub fn drain_window(mut self, window: Duration) -> Self {
        self.settings.drain_window = window;
        self
    }

    /// Gunicorn's `max_requests`: a worker that has answered this many requests (plus up to
    /// [`max_requests_jitter`](Server::max_requests_jitter), drawn per worker) finishes those in
    /// flight, runs `worker_exit` and is replaced. 0 (the default) never recycles; also
    /// `FORKLINE_MAX_REQUESTS`. Counted by [`serve_axum`](Server::serve_axum), and by an app's
    /// own server that calls
    /// [`ConnectionDrain::last_response`](crate::net::ConnectionDrain::last_response) per
    /// response (a worker whose connections carry data but whose app counts nothing says so in
    /// its log); not with [`no_fork`](Server::no_fork), where no master would replace the worker.
    pub fn max_requests(mut self, max: u64) -> Self {
        self.settings.max_requests = Some(max).filter(|&n| n > 0);
        self
    }

    /// Gunicorn's `max_requests_jitter`: each worker's limit is `max_requests` plus a random
    /// number in `[0, jitter]`, so workers started together do not recycle together (default 0;
    /// also `FORKLINE_MAX_REQUESTS_JITTER`).
    pub fn max_requests_jitter(mut self, jitter: u64) -> Self {
        self.settings.max_requests_jitter = jitter;
        self
    }

    /// Crash-loop protection: a worker that dies within `window` of its fork is an early death;
    /// the first is replaced at once, and after each further one in a row the replacement waits
    /// longer (100 ms, doubling, up to
    /// [`crash_backoff_cap`](Server::crash_backoff_cap)), and after `limit` in a row the master
    /// stops with [`Error::CrashLoop`] instead of spinning (0: never stops). A worker that lives
    /// past `window` resets the count. Defaults: 10 within 10 s (`FORKLINE_CRASH_LOOP_LIMIT`,
    /// `FORKLINE_CRASH_WINDOW_MS`).
    pub fn crash_loop(mut self, limit: u32, window: Duration) -> Self {
        self.settings.crash_loop_limit = limit;
        self.settings.crash_window = window;
        self
    }

    /// The longest wait before replacing a worker after early deaths (default 10 s;
    /// `FORKLINE_CRASH_BACKOFF_CAP_MS`).
    pub fn crash_backoff_cap(mut self, cap: Duration) -> Self {
        self.settings.crash_backoff_cap = cap;
        self
    }

    /// Gunicorn's `timeout`, for a stuck worker: a worker whose async runtime makes no progress
    /// for this long (every runtime thread blocked, by a sync sleep or a lock, say), or one of
    /// whose requests has been inside one poll of its future for this long (that request blocks
    /// its runtime thread, while the others go on), is sent ABRT: it ends the spans of the
    /// requests in flight with an error, sends a Sentry event "worker timeout" that lists them
    /// (route, age, trace id) and is linked to the stuck one's span, flushes its telemetry
    /// within a short deadline and exits; if it is still alive 2 s later it is killed; either
    /// way it is replaced. A request that awaits (a slow backend) is never stuck: see
    /// [`harakiri`](Server::harakiri) for a limit on a request's age. Requests are seen under
    /// [`serve_axum`](Server::serve_axum). Default 30 s; `None` (or `FORKLINE_TIMEOUT_MS=0`)
    /// turns it off; also `FORKLINE_TIMEOUT_MS`.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.timeout = timeout.filter(|t| !t.is_zero());
        self
    }

    /// uWSGI's `harakiri`: a worker with a request in flight for this long, awaiting or not, is
    /// aborted the way [`timeout`](Server::timeout) aborts a stuck one (and the other requests
    /// in flight on it with it). Off by default: an async worker serves long requests (long
    /// polls, streams) beside short ones, and a request that awaits holds no thread; set it
    /// when every request must end within a bound. `None` (or `FORKLINE_HARAKIRI_MS=0`) turns
    /// it off; also `FORKLINE_HARAKIRI_MS`. Requests are seen under
    /// [`serve_axum`](Server::serve_axum).
    pub fn harakiri(mut self, limit: Option<Duration>) -> Self {
        self.settings.harakiri = limit.filter(|h| !h.is_zero());
        self
    }

    /// Gunicorn's `forwarded_allow_ips`: the proxies whose `Forwarded` or `X-Forwarded-For` /
    /// `-Proto` / `-Host` headers say who the client is, as addresses and networks separated by
    /// commas (`"127.0.0.1,10.0.0.0/8"`), or `"*"` for every peer. Default `127.0.0.1` and
    /// `::1`; also `FORKLINE_FORWARDED_ALLOW_IPS` or Gunicorn's `FORWARDED_ALLOW_IPS`. From such
    /// a peer, `serve_axum` gives each request the client's address ([`ClientAddress`], the
    /// server span's `client.address`) and, when forwarded, the scheme and host the client used
    /// (in the request's URI: `url.scheme` and `server.address`, Sentry's request URL); from
    /// any other peer those headers are ignored, so a client cannot claim another's address.
    /// The address chain is read from the right, skipping trusted proxies.
    ///
    /// [`ClientAddress`]: crate::ClientAddress
    pub fn forwarded_allow_ips(mut self, peers: &str) -> Result<Self> {
        self.settings.forwarded_allow_ips = TrustedProxies::parse(peers)
            .map_err(|e| Error::config("Server::forwarded_allow_ips", e))?;
        Ok(self)
    }

    /// Gunicorn's `accesslog`: one line per request answered by [`serve_axum`](Server::serve_axum),
    /// to `"-"` (stderr) or a file every worker appends to (USR1 reopens it, for logrotate).
    /// Off by default; also `FORKLINE_ACCESS_LOG`.
    pub fn access_log(mut self, target: &str) -> Self {
        self.settings.access_log = Some(target)
            .filter(|t| !t.is_empty())
            .map(access_log::Target::parse);
        self
    }

    /// Gunicorn's `access_log_format`, with its atoms (`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s
    /// %(b)s "%(f)s" "%(a)s"`, the default; also `m U q H B T M D L p`) and two of forkline's,
    /// `%(trace_id)s` and `%(span_id)s` (the request's span, under `TelemetryLayer`). An
    /// unknown atom is an error naming it. Also `FORKLINE_ACCESS_LOG_FORMAT`.
    pub fn access_log_format(mut self, format: &str) -> Result<Self> {
        self.settings.access_log_format = access_log::Format::parse(format)
            .map_err(|e| Error::config("Server::access_log_format", e))?;
        Ok(self)
    }

    /// uWSGI's `reload-on-rss`, in MiB: a serving worker whose resident memory passes it is
    /// replaced gracefully, the way a HUP replaces it (its replacement first; then it takes no
    /// new connection, answers what reached it, runs `worker_exit` and exits), so a leak never
    /// grows without bound and no request is lost to it. Read from `/proc` on the master's tick
    /// (100 ms). `None` (or `FORKLINE_RELOAD_ON_RSS_MB=0`, the default) for no limit.
    pub fn reload_on_rss(mut self, mib: Option<u64>) -> Self {
        self.settings.reload_on_rss = mib
            .filter(|&m| m > 0)
            .map(|m| m.saturating_mul(1024 * 1024));
        self
    }

    /// uWSGI's `evil-reload-on-rss`, in MiB: a worker past it takes the timeout's path (ABRT: its
    /// in-flight requests' spans ended and exported, a Sentry event, its flush; KILL after 2 s)
    /// and is replaced. For memory that grows too fast to drain. `None` (or
    /// `FORKLINE_EVIL_RELOAD_ON_RSS_MB=0`, the default) for no limit.
    pub fn evil_reload_on_rss(mut self, mib: Option<u64>) -> Self {
        self.settings.evil_reload_on_rss = mib
            .filter(|&m| m > 0)
            .map(|m| m.saturating_mul(1024 * 1024));
        self
    }

    /// Gunicorn's `pidfile`: the master writes its pid there once it listens and removes it when
    /// it exits (also `FORKLINE_PIDFILE`; default none). During a binary upgrade (USR2) the old
    /// master's file moves to `<path>.oldbin` and the new master writes `<path>`, so `<path>`
    /// always names the master to signal. A file naming a live process is a start-up error.
    pub fn pidfile(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.settings.pidfile = Some(path.into());
        self
    }

    /// Telemetry settings in code: they win over the environment and the hooks' arguments.
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.telemetry = telemetry;
        self
    }

    /// The telemetry configuration the workers will use.
    pub fn telemetry_config(&self) -> Result<TelemetryConfig> {
        self.resolve()
    }

    fn resolve(&self) -> Result<TelemetryConfig> {
        TelemetryConfig::resolve(&self.env, &Plan::collect()?.hook_args(), &self.telemetry)
    }

    /// Gunicorn's `--check-config`: resolves everything a start would (the environment, the
    /// hooks' arguments, the telemetry configuration, the address) without binding, forking or
    /// starting a thread, and describes it, secrets hidden (exporters' credentials and header
    /// values, the Sentry DSN's key). An error is what [`serve`](Server::serve) would fail with.
    /// `FORKLINE_CHECK_CONFIG=1` makes `serve` print this and return instead of serving, so a CI
    /// pipeline can run the service's own binary: exit status 0, or 1 with the error.
    pub fn check(&self) -> Result<String> {
        let config = self.resolve()?;
        let inherited = std::env::var_os(crate::server::master::binary_upgrade::LISTEN_FD)
            .is_some()
            || std::env::var_os("LISTEN_FDS").is_some();
        if self.settings.binds().is_empty() && !inherited {
            return Err(Error::config(
                "Server::bind",
                "no address to listen on: call .bind(\"127.0.0.1:8000\") or set FORKLINE_BIND",
            ));
        }
        Ok(check::describe(&config, &self.settings))
    }

    /// Runs the master (or, with [`no_fork`](Server::no_fork), everything in this process)
    /// until it is stopped. Returns when the last worker has exited.
    ///
    /// Call it from a plain `fn main`, never from inside an async runtime (`#[tokio::main]`):
    /// that is refused at once, before any fork, because each worker starts its own runtime and
    /// the master must not run one.
    pub fn serve<A: App>(self, app: A) -> Result<()> {
        if self.env.bool("FORKLINE_CHECK_CONFIG")?.unwrap_or(false) {
            // Gunicorn's `--check-config`: describe and return, nothing started.
            println!("{}", self.check()?);
            return Ok(());
        }
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::ForkSafety(crate::error::ForkHazard::ServeInRuntime));
        }
        let plan = Plan::collect()?;
        let config = TelemetryConfig::resolve(&self.env, &plan.hook_args(), &self.telemetry)?;
        master_boot::run(&plan, &config, &self.settings, &app)
    }

    /// Serves an axum `Router` in every worker, with graceful shutdown on TERM: connections
    /// shared out over the workers ([`balanced_accept`](Server::balanced_accept)), at most
    /// [`max_requests_per_connection`](Server::max_requests_per_connection) requests each.
    ///
    /// Available with the `axum` feature.
    #[cfg(feature = "axum")]
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn serve_axum(self, router: axum::Router) -> Result<()> {
        // Routed requests name their route template in the worker's in-flight list.
        let router = if router.has_routes() {
            router.route_layer(axum::middleware::map_request(keep_alive::name_route))
        } else {
            router
        };
        self.serve(move |serve: Serve| {
            let make = keep_alive::MakePerConnection {
                router: router.clone(),
                record: serve.record.map(|(_, record)| record),
                trusted: std::sync::Arc::new(serve.trusted.clone()),
                access_log: serve.access_log.clone(),
                limits: serve.limits,
            };
            let shutdown = serve.shutdown.clone();
            let window = serve.drain_window;
            async move {
                let mut serve = serve;
                serve.server_counts_requests = true;
                let listener = serve.balanced_listener()?;
                crate::server::worker::serve_router::serve(listener, make, shutdown, window).await
            }
        })
    }
}

/// A file mode in octal, as `chmod` takes it: `660`, `0660`, `0o660`.
fn parse_mode(text: &str) -> std::result::Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|&mode| mode <= 0o777)
        .ok_or_else(|| format!("{text:?} is not a file mode in octal, as 660"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut env: Vec<(&str, String)> = vec![
            ("OTEL_TRACES_EXPORTER", "none".to_string()),
            ("SENTRY_DSN", String::new()),
        ];
        env.extend(pairs.iter().map(|&(k, v)| (k, v.to_string())));
        Server::with_env(Env::from_pairs(env))
            .expect("settings")
            .settings
    }

    #[test]
    fn zero_turns_the_timeout_and_the_keep_alive_limits_off() {
        let off = settings(&[
            ("FORKLINE_TIMEOUT_MS", "0"),
            ("FORKLINE_REBALANCE_AFTER_MS", "0"),
            ("FORKLINE_MAX_REQUESTS_PER_CONNECTION", "0"),
        ]);
        assert_eq!(off.timeout, None);
        assert_eq!(off.rebalance_after, None);
        assert_eq!(off.max_requests_per_connection, None);
        let defaults = settings(&[]);
        assert_eq!(defaults.timeout, Some(Duration::from_secs(30)));
        assert_eq!(defaults.rebalance_after, Some(DEFAULT_REBALANCE_AFTER));
        let set = settings(&[
            ("FORKLINE_TIMEOUT_MS", "1500"),
            ("FORKLINE_REBALANCE_AFTER_MS", "250"),
        ]);
        assert_eq!(set.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(set.rebalance_after, Some(Duration::from_millis(250)));
        assert!(Server::with_env(Env::from_pairs([(
            "FORKLINE_TIMEOUT_MS",
            "soon".to_string()
        )]))
        .is_err());
    }

    #[test]
    fn forkline_bind_replaces_the_codes_addresses() {
        let code = Server::with_env(Env::from_pairs([("SENTRY_DSN", String::new())]))
            .and_then(|s| s.bind("127.0.0.1:9000"))
            .and_then(|s| s.bind("unix:/run/app.sock"))
            .expect("server");
        assert_eq!(
            code.settings.binds(),
            [
                BindAddress::Tcp("127.0.0.1:9000".parse().expect("addr")),
                BindAddress::Unix("/run/app.sock".into())
            ]
        );
        let deployed = Server::with_env(Env::from_pairs([
            ("SENTRY_DSN", String::new()),
            ("FORKLINE_BIND", "unix:/run/other.sock,fd://3".to_string()),
        ]))
        .and_then(|s| s.bind("127.0.0.1:9000"))
        .expect("server");
        assert_eq!(
            deployed.settings.binds(),
            [
                BindAddress::Unix("/run/other.sock".into()),
                BindAddress::Fd(3)
            ]
        );
    }

    #[test]
    fn bad_addresses_and_modes_name_their_variable() {
        for (name, value) in [
            ("FORKLINE_BIND", "unix:"),
            ("FORKLINE_BIND", "fd://three"),
            ("FORKLINE_UNIX_SOCKET_MODE", "999"),
            ("FORKLINE_UNIX_SOCKET_MODE", "rw"),
        ] {
            let error = Server::with_env(Env::from_pairs([(name, value.to_string())]))
                .expect_err(value)
                .to_string();
            assert!(error.contains(name), "{value}: {error}");
        }
        assert_eq!(parse_mode("660"), Ok(0o660));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(Server::from_env()
            .and_then(|s| s.bind("unix:"))
            .is_err_and(|e| e.to_string().contains("Server::bind")));
    }
}
