//! Which request's response is a connection's last, and the count every answered request gets,
//! by one rule for `serve_axum` and for an app with its own server (through
//! `ConnectionDrain::last_response`): the worker's `requests_served` figure, Gunicorn's
//! `max_requests` (the worker's last requests close their connections, then it recycles), the
//! per-connection limit, and keep-alive rebalancing (a connection on a worker over its share of
//! the open connections is closed after a response, at most once per `rebalance_after`).

use crate::health::serving::Record;
use crate::server::scoreboard::Scoreboard;
use crate::server::worker::max_requests::Recycle;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A worker's rule, shared by its connections.
#[derive(Debug, Default)]
pub(crate) struct RequestPolicy {
    /// `None`: no per-connection limit.
    pub(crate) max_per_connection: Option<u64>,
    /// `None`: connections are never closed to rebalance (or there is no board to look at).
    pub(crate) rebalance: Option<(Duration, &'static Scoreboard)>,
    pub(crate) record: Option<&'static Record>,
    pub(crate) recycle: Option<Arc<Recycle>>,
    /// Whether a connection that carried data with no request counted means an app that counts
    /// nothing (an app's own server), rather than a client gone mid-request (`serve_axum`).
    pub(crate) warn_if_uncounted: bool,
}

impl RequestPolicy {
    /// Whether a request not counted leaves a setting without effect: `max_requests` or the
    /// per-connection limit.
    pub(crate) fn needs_counting(&self) -> bool {
        self.warn_if_uncounted && (self.recycle.is_some() || self.max_per_connection.is_some())
    }
}

/// One connection's requests under its worker's rule.
#[derive(Debug)]
pub(crate) struct ConnectionRequests {
    policy: Arc<RequestPolicy>,
    served: AtomicU64,
    /// When to look at rebalancing next (`sys::monotonic_ms`).
    next_look_ms: AtomicU64,
}

impl ConnectionRequests {
    pub(crate) fn new(policy: Arc<RequestPolicy>) -> Self {
        let first_look = policy.rebalance.map_or(u64::MAX, |(every, _)| {
            crate::sys::monotonic_ms() + millis(every)
        });
        Self {
            policy,
            served: AtomicU64::new(0),
            next_look_ms: AtomicU64::new(first_look),
        }
    }

    /// Counts one request (the worker's record and its `max_requests` budget) and says whether
    /// its response must be the connection's last: the worker's budget is spent, the connection
    /// reached its limit, or its worker holds more than its share of the open connections.
    pub(crate) fn request(&self) -> bool {
        let policy = &*self.policy;
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(record) = policy.record {
            record.request_served();
        }
        let recycling = policy.recycle.as_ref().is_some_and(|r| r.request_served());
        recycling
            || policy.max_per_connection.is_some_and(|max| served >= max)
            || self.over_share_now()
    }

    /// Requests counted on this connection.
    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Whether to close this connection to rebalance: looked at once per `rebalance_after`.
    fn over_share_now(&self) -> bool {
        let (Some((every, board)), Some(record)) = (self.policy.rebalance, self.policy.record)
        else {
            return false;
        };
        let now = crate::sys::monotonic_ms();
        if now < self.next_look_ms.load(Ordering::Relaxed) {
            return false;
        }
        self.next_look_ms
            .store(now + millis(every), Ordering::Relaxed);
        let (open, live) = board.load();
        live > 1 && record.open() > open / live
    }
}

fn millis(every: Duration) -> u64 {
    (every.as_millis() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::worker::shutdown_signal::{Shutdown, StopKind};

    #[test]
    fn the_connection_limit_and_the_workers_budget_each_close_a_connection() {
        let per_connection = Arc::new(RequestPolicy {
            max_per_connection: Some(2),
            ..RequestPolicy::default()
        });
        let c = ConnectionRequests::new(per_connection.clone());
        assert!(!c.request());
        assert!(c.request(), "the second of two closes");
        assert_eq!(c.served(), 2);
        assert!(
            !ConnectionRequests::new(per_connection).request(),
            "a new connection starts over"
        );

        let (stop, shutdown) = Shutdown::channel();
        let budget = Arc::new(RequestPolicy {
            recycle: Some(Arc::new(Recycle::with_limit(3, stop))),
            warn_if_uncounted: true,
            ..RequestPolicy::default()
        });
        let (a, b) = (
            ConnectionRequests::new(budget.clone()),
            ConnectionRequests::new(budget.clone()),
        );
        assert!(!a.request() && !b.request());
        assert!(
            a.request(),
            "the worker's third request closes its connection"
        );
        assert_eq!(shutdown.requested(), Some(StopKind::Graceful));
        assert!(budget.needs_counting());
        assert!(!RequestPolicy::default().needs_counting());
        let by_the_server = RequestPolicy {
            warn_if_uncounted: false,
            recycle: budget.recycle.clone(),
            ..RequestPolicy::default()
        };
        assert!(
            !by_the_server.needs_counting(),
            "serve_axum counts for itself"
        );
    }
}
