//! The server's settings as `Server`'s builder methods leave them, read by the supervisor and
//! every worker.

use crate::export::backoff::Backoff;
use crate::server::accept::bind_address::BindAddress;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) workers: usize,
    /// The addresses `Server::bind` and `Server::listener` gave, in order.
    pub(crate) code_binds: Vec<BindAddress>,
    /// `FORKLINE_BIND`'s addresses, which replace the code's: where to listen is the
    /// deployment's to say.
    pub(crate) env_binds: Option<Vec<BindAddress>>,
    /// The mode of the Unix socket files the master creates.
    pub(crate) unix_socket_mode: u32,
    /// Gunicorn's `backlog`.
    pub(crate) backlog: u32,
    pub(crate) graceful_timeout: Duration,
    pub(crate) quick_timeout: Duration,
    pub(crate) no_fork: bool,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) allow_threads_at_fork: bool,
    pub(crate) balanced_accept: bool,
    pub(crate) max_requests_per_connection: Option<u64>,
    /// How old a keep-alive connection on a crowded worker must be before `serve_axum` closes
    /// it after its next response (`None`: never).
    pub(crate) rebalance_after: Option<Duration>,
    /// How long a stopping worker keeps idle keep-alive connections open for their next
    /// request (see `Server::drain_window`).
    pub(crate) drain_window: Duration,
    /// Gunicorn's `max_requests` (`None`: never recycle).
    pub(crate) max_requests: Option<u64>,
    /// Gunicorn's `max_requests_jitter`.
    pub(crate) max_requests_jitter: u64,
    /// A worker that dies this soon after its fork is an early death (a crash loop's sign).
    pub(crate) crash_window: Duration,
    /// The longest wait before replacing a worker after early deaths (from the second in a row,
    /// the wait doubles from `CRASH_BACKOFF_FIRST` with each).
    pub(crate) crash_backoff_cap: Duration,
    /// Early deaths in a row after which the master stops (0: never).
    pub(crate) crash_loop_limit: u32,
    /// Gunicorn's `timeout`: a worker whose runtime makes no progress for this long is aborted
    /// and replaced (`None`: never).
    pub(crate) timeout: Option<Duration>,
    /// uWSGI's `harakiri`: a worker with a request in flight for this long is aborted and
    /// replaced, whatever the request is doing (`None`: never).
    pub(crate) harakiri: Option<Duration>,
    /// Gunicorn's `forwarded_allow_ips`: the peers whose forwarding headers are believed.
    pub(crate) forwarded_allow_ips: crate::server::worker::forwarded::TrustedProxies,
    /// Gunicorn's `accesslog` (`None`: off) and its format, parsed.
    pub(crate) access_log: Option<crate::server::worker::access_log::Target>,
    pub(crate) access_log_format: crate::server::worker::access_log::Format,
    /// uWSGI's `reload-on-rss`, in bytes: a worker past it is replaced gracefully.
    pub(crate) reload_on_rss: Option<u64>,
    /// uWSGI's `evil-reload-on-rss`, in bytes: a worker past it is aborted.
    pub(crate) evil_reload_on_rss: Option<u64>,
    /// Gunicorn's `limit_request_line`, `limit_request_fields`, `limit_request_field_size`.
    pub(crate) limits: crate::server::worker::request_limits::Limits,
    /// Gunicorn's `pidfile`: the master's pid, moved to `<path>.oldbin` during a binary upgrade.
    pub(crate) pidfile: Option<PathBuf>,
}

/// The wait before replacing a worker after its second early death in a row (one crash is not
/// a loop: the first is replaced at once).
pub(crate) const CRASH_BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// How long a worker aborted for a timeout has to flush and exit before it is killed.
pub(crate) const ABORT_GRACE: Duration = Duration::from_secs(2);

impl Settings {
    /// The addresses to bind: `FORKLINE_BIND`'s if set, else the code's.
    pub(crate) fn binds(&self) -> &[BindAddress] {
        self.env_binds.as_deref().unwrap_or(&self.code_binds)
    }

    /// How often a worker's runtime beats (and publishes its requests in flight): often enough
    /// that the timeout or `harakiri`, the shorter, is seen within a quarter of itself, and at
    /// most once a second.
    pub(crate) fn heartbeat_every(&self) -> Option<Duration> {
        let shortest = match (self.timeout, self.harakiri) {
            (Some(t), Some(h)) => Some(t.min(h)),
            (t, h) => t.or(h),
        };
        shortest.map(|t| (t / 4).clamp(Duration::from_millis(10), Duration::from_secs(1)))
    }

    /// Whether the master may abort a worker (its timeout, `harakiri`, `evil_reload_on_rss`):
    /// then the worker waits for ABRT on a thread of its own.
    pub(crate) fn aborts(&self) -> bool {
        self.heartbeat_every().is_some() || self.evil_reload_on_rss.is_some()
    }

    /// The wait before replacing a worker after `early` early deaths in a row: none after the
    /// first, then 100 ms doubling up to the cap (the export guard's backoff ceiling, unjittered:
    /// one master, nobody to spread out).
    pub(crate) fn crash_backoff(&self, early: u32) -> Duration {
        if early <= 1 {
            return Duration::ZERO;
        }
        Backoff {
            base: CRASH_BACKOFF_FIRST,
            cap: self.crash_backoff_cap,
        }
        .ceiling(early - 2)
    }
}
