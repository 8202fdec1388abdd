//! The server's settings as `Server`'s builder methods leave them, read by the supervisor and
//! every worker.

use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) workers: usize,
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) graceful_timeout: Duration,
    pub(crate) quick_timeout: Duration,
    pub(crate) no_fork: bool,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) allow_threads_at_fork: bool,
    pub(crate) balanced_accept: bool,
    pub(crate) max_requests_per_connection: Option<u64>,
    /// Gunicorn's `max_requests` (`None`: never recycle).
    pub(crate) max_requests: Option<u64>,
    /// Gunicorn's `max_requests_jitter`.
    pub(crate) max_requests_jitter: u64,
}
