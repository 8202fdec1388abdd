//! Gunicorn's `max_requests`: a worker that has answered its share of requests stops taking new
//! ones, finishes those in flight, runs `worker_exit` (the telemetry flush included) and exits
//! with `RECYCLED`; the master starts its replacement. The share is drawn once per worker from
//! `[max_requests, max_requests + jitter]`, so that workers started together do not all recycle
//! at once. Requests are counted by `request_policy`: `serve_axum`, or an app's own server through
//! `ConnectionDrain::last_response`.

use crate::server::worker::shutdown_signal::{StopKind, StopSender};
use rand::RngExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A worker's exit code after it reached its `max_requests`.
pub(crate) const RECYCLED: i32 = 4;

/// One worker's request budget.
#[derive(Debug)]
pub(crate) struct Recycle {
    limit: u64,
    served: AtomicU64,
    reached: AtomicBool,
    stop: StopSender,
}

impl Recycle {
    /// Draws this worker's limit (the RNG is reseeded after fork, so workers differ).
    pub(crate) fn draw(max_requests: u64, jitter: u64, stop: StopSender) -> Self {
        let extra = if jitter == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter)
        };
        Self::with_limit(max_requests.saturating_add(extra), stop)
    }

    pub(crate) fn with_limit(limit: u64, stop: StopSender) -> Self {
        Self {
            limit: limit.max(1),
            served: AtomicU64::new(0),
            reached: AtomicBool::new(false),
            stop,
        }
    }

    /// Counts one request; true from the one that reaches the limit on, so that each of those
    /// responses closes its connection and the client moves to another worker.
    pub(crate) fn request_served(&self) -> bool {
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        if served == self.limit {
            self.reached.store(true, Ordering::Relaxed);
            self.stop.stop(StopKind::Graceful);
        }
        served >= self.limit
    }

    /// Whether the limit was reached (the worker then exits with `RECYCLED`).
    pub(crate) fn reached(&self) -> bool {
        self.reached.load(Ordering::Relaxed)
    }

    /// The limit drawn.
    pub(crate) fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::worker::shutdown_signal::Shutdown;

    #[test]
    fn the_request_that_reaches_the_limit_stops_the_worker_gracefully() {
        let (stop, shutdown) = Shutdown::channel();
        let recycle = Recycle::with_limit(3, stop);
        assert!(!recycle.request_served());
        assert!(!recycle.request_served());
        assert_eq!(shutdown.requested(), None);
        assert!(recycle.request_served(), "the third closes its connection");
        assert_eq!(shutdown.requested(), Some(StopKind::Graceful));
        assert!(recycle.reached());
        assert!(recycle.request_served(), "and so does every later one");
    }

    #[test]
    fn the_drawn_limit_stays_within_the_jitter() {
        let limits: std::collections::BTreeSet<u64> = (0..200)
            .map(|_| Recycle::draw(100, 10, Shutdown::channel().0).limit())
            .collect();
        assert!(limits.iter().all(|l| (100..=110).contains(l)), "{limits:?}");
        assert!(limits.len() > 3, "jittered: {limits:?}");
        assert_eq!(Recycle::draw(100, 0, Shutdown::channel().0).limit(), 100);
    }
}
