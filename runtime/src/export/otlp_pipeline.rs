//! What the three guarded OTLP pipelines (spans, metrics, logs) share: the engine's parameters
//! and the SDK's `force_flush` and `shutdown`. One definition, so the signals batch, retry, hold
//! through an outage, flush and stop alike, and a change to one is a change to all.

use crate::config::GuardConfig;
use crate::export::engine::params::{Params, Retries, WhileOpen, Words};
use crate::export::engine::state::{PipelineState, ShutdownBy};
use crate::export::figures::DropReason;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use std::sync::mpsc::TrySendError;
use std::time::{Duration, Instant};

/// How often an export thread looks at shutdown and flush requests when idle.
const TICK: Duration = Duration::from_millis(20);

/// The longest a flush waits.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What one signal's pipeline batches and keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batching {
    /// Items (spans, records; collections for metrics) per request at most.
    pub(crate) max_batch: usize,
    /// How long a partial batch may wait.
    pub(crate) batch_delay: Duration,
    /// The most undelivered batches kept, encoded, for a collector that comes back: the
    /// policy's byte budget, or less.
    pub(crate) ride_through_bytes: usize,
}

/// How a signal's pipeline names itself and its refusals in its log lines.
pub(crate) fn words(refused: &'static str, runner: &'static str) -> Words {
    Words {
        backend: "collector",
        refused,
        runner,
    }
}

/// The engine's parameters for an OTLP signal: `batching`, retried without a count limit and
/// held while the breaker is open; `words` name the signal in its log lines.
pub(crate) fn params(policy: GuardConfig, batching: Batching, words: Words) -> Params {
    Params {
        policy,
        max_batch: batching.max_batch.max(1),
        batch_delay: batching.batch_delay,
        ride_through_bytes: Some(batching.ride_through_bytes.min(policy.buffer_budget_bytes)),
        retries: Retries::Unlimited,
        while_open: WhileOpen::Hold,
        last_attempt_at_shutdown: false,
        idle_poll: Some(TICK),
        words,
    }
}

/// An item handed to the pipeline's queue: on its way, or dropped and counted (a full queue, a
/// pipeline shut down).
#[inline]
pub(crate) fn queued<T>(state: &PipelineState, sent: Result<(), TrySendError<T>>) {
    match sent {
        Ok(()) => state.sent_to_channel(),
        Err(TrySendError::Full(_)) => state.finish(1, Some(DropReason::QueueFull)),
        Err(TrySendError::Disconnected(_)) => state.finish(1, Some(DropReason::Shutdown)),
    }
}

/// The SDK's `force_flush`: the pipeline hurries its partial batch and waits until nothing is
/// pending, for at most 5 s.
pub(crate) fn force_flush(state: &PipelineState) -> OTelSdkResult {
    state.hurry(true);
    let flushed = state.wait_idle(FLUSH_TIMEOUT);
    state.hurry(false);
    if flushed {
        Ok(())
    } else {
        Err(OTelSdkError::Timeout(FLUSH_TIMEOUT))
    }
}

/// The SDK's `shutdown`: the pipeline closes; what is left has until the teardown's deadline
/// (`by`, when it set one) or else `timeout`, and is counted as dropped past it.
pub(crate) fn shutdown(
    state: &PipelineState,
    by: Option<&ShutdownBy>,
    timeout: Duration,
) -> OTelSdkResult {
    let now = Instant::now();
    let end = by
        .and_then(|by| by.lock().ok().and_then(|end| *end))
        .unwrap_or(now + timeout);
    let left = end.saturating_duration_since(now);
    state.close(left);
    if state.wait_idle(left) {
        return Ok(());
    }
    state.abandon();
    Err(OTelSdkError::Timeout(left))
}
