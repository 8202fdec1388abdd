//! What differs between the pipelines that run on the engine: batching, the ride-through
//! buffer, how many retries, what an open breaker does with data, what shutdown does to retries,
//! and the words of their errors. Each is a value here, not a variant of the delivery loop.

use crate::config::GuardConfig;
use std::time::Duration;

/// What the engine does with data that reaches an open breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WhileOpen {
    /// Nothing is attempted; the data waits (within the ride-through budget) and the oldest
    /// batch is the half-open probe. At shutdown, the probe is waited for only if it comes
    /// before the deadline; otherwise what is left is dropped as `breaker_open`.
    Hold,
    /// The batch at the front is dropped at once, counted `breaker_open`.
    Drop,
}

/// How far a batch is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retries {
    /// Until delivered (or dropped for another reason); the backoff grows with the failures in
    /// a row, across batches, until a delivery or a refusal.
    Unlimited,
    /// At most this many retries per batch; each batch's backoff starts afresh, and a retryable
    /// failure past the limit drops it (counted by the failure's kind).
    PerBatch(u32),
}

/// The words a pipeline's `last_error` uses (they never contain a URL or a header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Words {
    /// The other end: "collector", "Sentry host".
    pub(crate) backend: &'static str,
    /// The start of a refusal's text, followed by " with <status>".
    pub(crate) refused: &'static str,
    /// What runs the attempts, for "<runner> has no runtime".
    pub(crate) runner: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    /// Timeouts, backoff, breaker.
    pub(crate) policy: GuardConfig,
    /// Items per batch at most.
    pub(crate) max_batch: usize,
    /// How long a partial batch may wait.
    pub(crate) batch_delay: Duration,
    /// The byte budget of encoded batches kept for a recovering backend. `None`: one batch at a
    /// time, and the queue waits behind the one being delivered.
    pub(crate) ride_through_bytes: Option<usize>,
    pub(crate) retries: Retries,
    pub(crate) while_open: WhileOpen,
    /// Shutdown ends the retries: a backoff wait is cut short for one more attempt, and an
    /// attempt that fails while closing is final. (Otherwise only shutdown's deadline bounds
    /// them.)
    pub(crate) last_attempt_at_shutdown: bool,
    /// How often an idle delivery thread looks around unasked (`None`: only when woken).
    pub(crate) idle_poll: Option<Duration>,
    pub(crate) words: Words,
}
