//! What a worker's app is: the `App` trait, and `Serve`, what each worker's app is handed.

use crate::health::serving::Record;
use crate::lifecycle::Worker;
use crate::server::accept::balanced_accept::BalancedListener;
use crate::server::scoreboard::Scoreboard;
use crate::server::worker::request_policy::RequestPolicy;
use crate::server::worker::shutdown_signal::Shutdown;
use std::future::Future;

/// What a worker's app is handed: the worker, its copies of the shared listening sockets (take
/// connections from [`balanced_listener`](Serve::balanced_listener)), and the stop request to
/// honour.
#[derive(Debug)]
pub struct Serve {
    /// The worker this app runs in.
    pub worker: Worker,
    /// The sockets the master listens on, this worker's descriptors, non-blocking.
    pub(crate) listeners: Vec<crate::server::accept::listeners::Socket>,
    /// Resolves when the worker is asked to stop.
    pub shutdown: Shutdown,
    pub(crate) record: Option<(&'static Scoreboard, &'static Record)>,
    pub(crate) balance: bool,
    pub(crate) max_requests_per_connection: Option<u64>,
    pub(crate) rebalance_after: Option<std::time::Duration>,
    /// Gunicorn's access log, opened in this worker.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) access_log: Option<std::sync::Arc<crate::server::worker::access_log::AccessLog>>,
    /// The peers trusted to say who the client is (`forwarded_allow_ips`).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) trusted: crate::server::worker::forwarded::TrustedProxies,
    /// Gunicorn's request limits (`serve_axum` enforces them).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) limits: crate::server::worker::request_limits::Limits,
    /// The drain window, within the graceful timeout.
    pub(crate) drain_window: std::time::Duration,
    /// The worker's `max_requests` budget.
    pub(crate) recycle: Option<std::sync::Arc<crate::server::worker::max_requests::Recycle>>,
    /// `serve_axum` counts every request it parses itself; a connection that carried bytes but
    /// no whole request (a client gone mid-request) is no sign of an app that counts nothing.
    pub(crate) server_counts_requests: bool,
}

impl Serve {
    /// How long this worker keeps idle keep-alive connections open for their next request once
    /// it is asked to stop ([`Server::drain_window`](crate::Server::drain_window), within the
    /// graceful timeout): what to hand [`Drain::settled`](crate::net::Drain::settled).
    pub fn drain_window(&self) -> std::time::Duration {
        self.drain_window
    }

    /// The first TCP address the server listens on (`None` if it listens on Unix sockets only).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.listeners.iter().find_map(|l| l.tcp_addr())
    }

    /// The listener that takes this worker's share of new connections, from every socket the
    /// server listens on (TCP and Unix), and counts them in its figures
    /// ([`Serving`](crate::report::Serving)). It is an `axum::serve::Listener`; an app with its own
    /// hyper server accepts from it (see the README), and calls
    /// [`ConnectionDrain::last_response`](crate::net::ConnectionDrain::last_response) once per
    /// response so that its requests are counted and `max_requests`, the per-connection limit and
    /// keep-alive rebalancing hold for it as for `serve_axum`. Clone `shutdown` first if the app
    /// needs it. Call it inside the worker's runtime (in the app's future).
    pub fn balanced_listener(self) -> std::io::Result<BalancedListener> {
        let policy = RequestPolicy {
            max_per_connection: self.max_requests_per_connection,
            rebalance: self
                .rebalance_after
                .filter(|_| self.balance)
                .zip(self.record.map(|(board, _)| board)),
            record: self.record.map(|(_, record)| record),
            recycle: self.recycle,
            warn_if_uncounted: !self.server_counts_requests,
        };
        BalancedListener::new(
            self.listeners,
            self.record,
            self.balance,
            self.shutdown,
            std::sync::Arc::new(policy),
        )
    }
}

/// An async app served by every worker. Any `Fn(Serve) -> impl Future<Output = io::Result<()>>`
/// is one; with the `axum` feature, [`Server::serve_axum`](crate::Server::serve_axum) serves a `Router` directly.
pub trait App {
    /// The app's future for one worker.
    type Future: Future<Output = std::io::Result<()>>;
    /// Starts the app in a worker.
    fn serve(&self, serve: Serve) -> Self::Future;
}

impl<F, Fut> App for F
where
    F: Fn(Serve) -> Fut,
    Fut: Future<Output = std::io::Result<()>>,
{
    type Future = Fut;
    fn serve(&self, serve: Serve) -> Fut {
        self(serve)
    }
}
