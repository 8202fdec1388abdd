//! What one export pipeline has done: the numbers behind `forkline::health()`.

use crate::export::breaker::BreakerState;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
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
    EncodeFailed,
}

/// The kind of a Sentry envelope item, for the Sentry pipeline's drops broken down by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Event,
    Transaction,
    Session,
    Log,
    Other,
}

impl ItemKind {
    /// The kind of one envelope item, and how many items of that kind it holds.
    pub(crate) fn of(item: &sentry::protocol::EnvelopeItem) -> (Self, u64) {
        use sentry::protocol::{EnvelopeItem, ItemContainer};
        match item {
            EnvelopeItem::Event(_) => (Self::Event, 1),
            EnvelopeItem::Transaction(_) => (Self::Transaction, 1),
            EnvelopeItem::SessionUpdate(_) => (Self::Session, 1),
            EnvelopeItem::SessionAggregates(a) => (
                Self::Session,
                a.aggregates
                    .iter()
                    .map(|g| u64::from(g.exited + g.errored + g.abnormal + g.crashed))
                    .sum::<u64>()
                    .max(1),
            ),
            EnvelopeItem::ItemContainer(ItemContainer::Logs(logs)) => {
                (Self::Log, logs.len() as u64)
            }
            _ => (Self::Other, 1),
        }
    }

    /// The field of [`ByItemKind`] that counts it.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Event => "event",
            Self::Transaction => "transaction",
            Self::Session => "session",
            Self::Log => "log",
            Self::Other => "other",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Self::Event => "error events",
            Self::Transaction => "transactions",
            Self::Session => "sessions",
            Self::Log => "logs",
            Self::Other => "other items",
        }
    }
}

/// Sentry items the server's rate limits stopped, by kind; the first of each kind is logged
/// once ("Sentry host refuses transactions: ..."), so a server that never takes a kind (Bugsink
/// refuses transactions for a day with every answer) reads as that, not as lost errors.
#[derive(Debug, Default)]
pub(crate) struct KindCounts([AtomicU64; 5]);

impl KindCounts {
    /// Counts `n` items of `kind` dropped by rate limits; logs the first of a kind.
    pub(crate) fn rate_limited(&self, kind: ItemKind, n: u64) {
        if n == 0 {
            return;
        }
        if self.0[kind as usize].fetch_add(n, Relaxed) == 0 {
            crate::diag::log_warn!(
                "Sentry host refuses {}: they are dropped client-side and counted under \
                 rate_limited.{}",
                kind.plural(),
                kind.key()
            );
        }
    }

    fn snapshot(&self) -> ByItemKind {
        let n = |k: ItemKind| self.0[k as usize].load(Relaxed);
        ByItemKind {
            event: n(ItemKind::Event),
            transaction: n(ItemKind::Transaction),
            session: n(ItemKind::Session),
            log: n(ItemKind::Log),
            other: n(ItemKind::Other),
        }
    }
}

/// Sentry items by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ByItemKind {
    /// Error events (and messages).
    #[serde(default)]
    pub event: u64,
    /// Transactions (performance data).
    #[serde(default)]
    pub transaction: u64,
    /// Release-health sessions (each session of an aggregate counts).
    #[serde(default)]
    pub session: u64,
    /// Structured logs.
    #[serde(default)]
    pub log: u64,
    /// Attachments, check-ins, client reports.
    #[serde(default)]
    pub other: u64,
}

impl ByItemKind {
    /// Items of every kind.
    pub fn total(&self) -> u64 {
        self.event + self.transaction + self.session + self.log + self.other
    }
}

#[derive(Debug, Default)]
pub(crate) struct PipelineCounters {
    /// The Sentry pipeline's drops by item kind (unset for spans).
    kinds: OnceLock<Arc<KindCounts>>,
    pub(crate) accepted: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    dropped: [AtomicU64; 11],
    last_error: Mutex<Option<String>>,
    last_success_unix_ms: AtomicU64,
}

impl PipelineCounters {
    /// Shares the Sentry encoder's counts by item kind with this pipeline's figures.
    pub(crate) fn set_kinds(&self, kinds: Arc<KindCounts>) {
        let _ = self.kinds.set(kinds);
    }

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
            encode_failed: d(DropReason::EncodeFailed),
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
            rate_limited_by_kind: self.kinds.get().map(|k| k.snapshot()).unwrap_or_default(),
        }
    }
}

/// Drops by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// A batch the encoder panicked on (a forkline bug, whose message is the pipeline's last
    /// error): its items are dropped and the pipeline goes on with the next batch.
    #[serde(default)]
    pub encode_failed: u64,
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
            + self.encode_failed
    }
}

/// One pipeline's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Retries scheduled after a failed attempt (each is made unless shutdown or the breaker
    /// cuts it off first).
    pub retried: u64,
    /// Items dropped, all reasons.
    pub dropped_total: u64,
    /// Items dropped, by reason.
    pub dropped: Dropped,
    /// The last error (never contains secrets).
    pub last_error: Option<String>,
    /// When the backend last acknowledged a delivery (Unix milliseconds).
    pub last_success_unix_ms: Option<u64>,
    /// Sentry only: the items behind `dropped.rate_limited` (which counts envelopes), by kind —
    /// what the Sentry host's rate limits refuse, such as Bugsink's transactions.
    #[serde(default)]
    pub rate_limited_by_kind: ByItemKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{EnvelopeItem, SessionAggregateItem, SessionAggregates};

    #[test]
    fn item_kinds_count_each_session_of_an_aggregate_and_log_once_per_kind() {
        let aggregates = SessionAggregates {
            aggregates: vec![SessionAggregateItem {
                started: SystemTime::now(),
                distinct_id: None,
                exited: 3,
                errored: 1,
                abnormal: 0,
                crashed: 1,
            }],
            attributes: sentry::protocol::SessionAttributes {
                release: "shop@1.0.0".into(),
                environment: None,
                ip_address: None,
                user_agent: None,
            },
        };
        let (kind, n) = ItemKind::of(&EnvelopeItem::SessionAggregates(aggregates));
        assert_eq!((kind, n), (ItemKind::Session, 5));
        let counts = KindCounts::default();
        counts.rate_limited(kind, n);
        counts.rate_limited(ItemKind::Transaction, 2);
        counts.rate_limited(ItemKind::Transaction, 0);
        let counters = PipelineCounters::default();
        assert_eq!(
            counters
                .snapshot(BreakerState::Closed, 0)
                .rate_limited_by_kind,
            ByItemKind::default(),
            "no Sentry encoder: zeros"
        );
        counters.set_kinds(Arc::new(counts));
        let by_kind = counters
            .snapshot(BreakerState::Closed, 0)
            .rate_limited_by_kind;
        assert_eq!(
            by_kind,
            ByItemKind {
                session: 5,
                transaction: 2,
                ..Default::default()
            }
        );
        // Older reports, without the field, still read.
        let old: ByItemKind = serde_json::from_str("{}").expect("defaults");
        assert_eq!(old, ByItemKind::default());
    }
}
