//! What one export pipeline has done: the numbers behind `forkline::health()`.

use crate::export::breaker::BreakerState;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why something was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    QueueFull,
    BreakerOpen,
    Timeout,
    Network,
    Throttled,
    ServerError,
    Rejected,
    RateLimited,
    Shutdown,
    BufferFull,
}

#[derive(Debug, Default)]
pub(crate) struct PipelineCounters {
    pub(crate) accepted: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    dropped: [AtomicU64; 10],
    last_error: Mutex<Option<String>>,
    last_success_unix_ms: AtomicU64,
}

impl PipelineCounters {
    pub(crate) fn dropped(&self, reason: DropReason, n: u64) {
        self.dropped[reason as usize].fetch_add(n, Relaxed);
    }

    pub(crate) fn delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.last_success_unix_ms.store(now, Relaxed);
    }

    pub(crate) fn error(&self, message: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }

    pub(crate) fn snapshot(
        &self,
        breaker: BreakerState,
        consecutive_failures: u32,
    ) -> PipelineHealth {
        let d = |r: DropReason| self.dropped[r as usize].load(Relaxed);
        let dropped = Dropped {
            queue_full: d(DropReason::QueueFull),
            breaker_open: d(DropReason::BreakerOpen),
            timeout: d(DropReason::Timeout),
            network: d(DropReason::Network),
            throttled: d(DropReason::Throttled),
            server_error: d(DropReason::ServerError),
            rejected: d(DropReason::Rejected),
            rate_limited: d(DropReason::RateLimited),
            shutdown: d(DropReason::Shutdown),
            buffer_full: d(DropReason::BufferFull),
        };
        let last_success = self.last_success_unix_ms.load(Relaxed);
        let accepted = self.accepted.load(Relaxed);
        let delivered = self.delivered.load(Relaxed);
        let dropped_total = dropped.total();
        PipelineHealth {
            breaker,
            consecutive_failures,
            accepted,
            delivered,
            pending: accepted.saturating_sub(delivered + dropped_total),
            retried: self.retried.load(Relaxed),
            dropped_total,
            dropped,
            last_error: self.last_error(),
            last_success_unix_ms: (last_success > 0).then_some(last_success),
        }
    }
}

/// Drops by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// The queue was full when the item was handed over.
    pub queue_full: u64,
    /// The circuit breaker was open.
    pub breaker_open: u64,
    /// The last attempt timed out.
    pub timeout: u64,
    /// The last attempt failed to connect or lost its connection.
    pub network: u64,
    /// The backend kept answering 429 / 503.
    pub throttled: u64,
    /// The backend kept answering another 5xx (or 408).
    pub server_error: u64,
    /// The backend refused the data (4xx): never retried.
    pub rejected: u64,
    /// The backend's rate limits for this kind of data were in force.
    pub rate_limited: u64,
    /// Still queued when shutdown's deadline passed, or handed over after shutdown.
    pub shutdown: u64,
    /// Oldest undelivered data dropped to keep the ride-through buffer within its memory budget.
    #[serde(default)]
    pub buffer_full: u64,
}

impl Dropped {
    /// All drops.
    pub fn total(&self) -> u64 {
        self.queue_full
            + self.breaker_open
            + self.timeout
            + self.network
            + self.throttled
            + self.server_error
            + self.rejected
            + self.rate_limited
            + self.shutdown
            + self.buffer_full
    }
}

/// One pipeline's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineHealth {
    /// The circuit breaker.
    pub breaker: BreakerState,
    /// Consecutive failed deliveries.
    pub consecutive_failures: u32,
    /// Items handed to the pipeline.
    pub accepted: u64,
    /// Items the backend acknowledged.
    pub delivered: u64,
    /// Items accepted and not yet delivered or dropped: queued, batched, in flight or held in
    /// the ride-through buffer (read without a lock, so approximate while spans flow).
    #[serde(default)]
    pub pending: u64,
    /// Retry attempts made.
    pub retried: u64,
    /// Items dropped, all reasons.
    pub dropped_total: u64,
    /// Items dropped, by reason.
    pub dropped: Dropped,
    /// The last error (never contains secrets).
    pub last_error: Option<String>,
    /// When the backend last acknowledged a delivery (Unix milliseconds).
    pub last_success_unix_ms: Option<u64>,
}
