//! Per-process counters: every span and event is counted where it is created, delivered or
//! dropped, so that no loss is silent.

use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub(crate) struct ProcessCounters {
    pub(crate) spans_started: AtomicU64,
    pub(crate) spans_ended: AtomicU64,
    pub(crate) spans_exported: AtomicU64,
    pub(crate) spans_export_failed: AtomicU64,
    pub(crate) spans_dropped_inherited: AtomicU64,
    pub(crate) spans_discarded_no_exporter: AtomicU64,
    /// Written to the embedded sink, then deleted with the oldest file to stay in budget.
    pub(crate) spans_budget_rotated: AtomicU64,
    /// Never written: a single span larger than one file's share of the budget.
    pub(crate) spans_budget_refused: AtomicU64,
    pub(crate) sentry_events_captured: AtomicU64,
    pub(crate) sentry_events_written: AtomicU64,
    pub(crate) sentry_events_discarded_budget: AtomicU64,
    pub(crate) sentry_transactions_written: AtomicU64,
    pub(crate) sentry_transactions_discarded_budget: AtomicU64,
    pub(crate) sentry_write_failed: AtomicU64,
    pub(crate) attribute_values_truncated: AtomicU64,
    /// Log records handed to the embedded logs sink's batch processor.
    pub(crate) logs_emitted: AtomicU64,
    pub(crate) logs_written: AtomicU64,
    /// Written to `logs-<pid>.jsonl`, then deleted with the oldest file to stay in budget.
    pub(crate) logs_budget_rotated: AtomicU64,
    /// Never written: a single record larger than one file's share of the budget.
    pub(crate) logs_budget_refused: AtomicU64,
    pub(crate) logs_write_failed: AtomicU64,
    /// Stack traces taken unresolved for Sentry events (`telemetry::deferred_stacks`), resolved
    /// on the symbolizing thread, and not kept or never resolved; microseconds spent taking them
    /// on request threads and resolving them.
    pub(crate) stacks_taken: AtomicU64,
    pub(crate) stacks_resolved: AtomicU64,
    pub(crate) stacks_dropped: AtomicU64,
    pub(crate) stack_take_us: AtomicU64,
    pub(crate) stack_resolve_us: AtomicU64,
}

/// This process's counters until it counts elsewhere (`count_in`).
static LOCAL: ProcessCounters = ProcessCounters {
    spans_started: AtomicU64::new(0),
    spans_ended: AtomicU64::new(0),
    spans_exported: AtomicU64::new(0),
    spans_export_failed: AtomicU64::new(0),
    spans_dropped_inherited: AtomicU64::new(0),
    spans_discarded_no_exporter: AtomicU64::new(0),
    spans_budget_rotated: AtomicU64::new(0),
    spans_budget_refused: AtomicU64::new(0),
    sentry_events_captured: AtomicU64::new(0),
    sentry_events_written: AtomicU64::new(0),
    sentry_events_discarded_budget: AtomicU64::new(0),
    sentry_transactions_written: AtomicU64::new(0),
    sentry_transactions_discarded_budget: AtomicU64::new(0),
    sentry_write_failed: AtomicU64::new(0),
    attribute_values_truncated: AtomicU64::new(0),
    logs_emitted: AtomicU64::new(0),
    logs_written: AtomicU64::new(0),
    logs_budget_rotated: AtomicU64::new(0),
    logs_budget_refused: AtomicU64::new(0),
    logs_write_failed: AtomicU64::new(0),
    stacks_taken: AtomicU64::new(0),
    stacks_resolved: AtomicU64::new(0),
    stacks_dropped: AtomicU64::new(0),
    stack_take_us: AtomicU64::new(0),
    stack_resolve_us: AtomicU64::new(0),
};

/// Where this process counts, when not in `LOCAL`.
static ELSEWHERE: AtomicPtr<ProcessCounters> = AtomicPtr::new(std::ptr::null_mut());

/// This process's counters: its own static, or, in a worker, its scoreboard record's, which
/// live in memory the master shares, so that what a worker killed with KILL had counted (spans
/// ended, exported, failed) is still there for the master to read.
#[inline]
pub(crate) fn counters() -> &'static ProcessCounters {
    let at = ELSEWHERE.load(std::sync::atomic::Ordering::Acquire);
    if at.is_null() {
        &LOCAL
    } else {
        // SAFETY: only `count_in` stores here, from a `&'static`.
        unsafe { &*at }
    }
}

/// From here on this process counts in `to`, from zero. A worker calls it right after fork,
/// before anything counts (a pipeline keeps references to the counters it feeds).
pub(crate) fn count_in(to: &'static ProcessCounters) {
    to.reset();
    ELSEWHERE.store(
        (to as *const ProcessCounters).cast_mut(),
        std::sync::atomic::Ordering::Release,
    );
}

impl ProcessCounters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// A new process starts from zero: counts copied from the master by `fork()` are not its own.
    pub(crate) fn reset(&self) {
        for c in [
            &self.spans_started,
            &self.spans_ended,
            &self.spans_exported,
            &self.spans_export_failed,
            &self.spans_dropped_inherited,
            &self.spans_discarded_no_exporter,
            &self.spans_budget_rotated,
            &self.spans_budget_refused,
            &self.sentry_events_captured,
            &self.sentry_events_written,
            &self.sentry_events_discarded_budget,
            &self.sentry_transactions_written,
            &self.sentry_transactions_discarded_budget,
            &self.sentry_write_failed,
            &self.attribute_values_truncated,
            &self.logs_emitted,
            &self.logs_written,
            &self.logs_budget_rotated,
            &self.logs_budget_refused,
            &self.logs_write_failed,
            &self.stacks_taken,
            &self.stacks_resolved,
            &self.stacks_dropped,
            &self.stack_take_us,
            &self.stack_resolve_us,
        ] {
            c.store(0, Relaxed);
        }
    }
}

/// What this process's telemetry has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Spans started (sampled or not, on forkline's provider).
    pub spans_started: u64,
    /// Spans ended and recorded.
    pub spans_ended: u64,
    /// Spans the exporter delivered (for the embedded sink: written to its file, including
    /// those a rotation later discarded).
    pub spans_exported: u64,
    /// Spans in batches the exporter failed to deliver.
    pub spans_export_failed: u64,
    /// Spans ended on a provider inherited across `fork()`, which cannot export them.
    pub spans_dropped_inherited: u64,
    /// Spans discarded because no exporter is configured (`exporter = "none"`, no Sentry).
    pub spans_discarded_no_exporter: u64,
    /// Spans the embedded sink discarded to stay within its byte budget: deleted with the oldest
    /// file on rotation, or (a single span larger than a file's share) never written. The spans
    /// on disk are `spans_exported` minus those rotated away.
    #[serde(default)]
    pub spans_discarded_budget: u64,
    /// Spans ended but neither exported nor failed: lost to a full queue, or still queued when
    /// shutdown's deadline passed. Final only in a worker's report: a snapshot taken while the
    /// worker runs also counts the spans still queued for the embedded sink (the SDK's batch
    /// processor does not say which of them its full queue dropped).
    pub spans_dropped_unexported: u64,
    /// Sentry events handed to the Sentry client after sampling.
    pub sentry_events_captured: u64,
    /// Sentry events written to the embedded sink.
    pub sentry_events_written: u64,
    /// Sentry events the embedded sink discarded to stay within its byte budget (written, then
    /// deleted with the oldest file; or too large to write).
    #[serde(default)]
    pub sentry_events_discarded_budget: u64,
    /// Sentry transactions written to the embedded sink.
    #[serde(default)]
    pub sentry_transactions_written: u64,
    /// Sentry transactions the embedded sink discarded to stay within its byte budget.
    #[serde(default)]
    pub sentry_transactions_discarded_budget: u64,
    /// Sentry events and transactions the embedded sink failed to write (an I/O error).
    #[serde(default)]
    pub sentry_write_failed: u64,
    /// String attribute values cut to `forkline::handler::MAX_VALUE_BYTES`.
    #[serde(default)]
    pub attribute_values_truncated: u64,
    /// Log records emitted to the embedded logs sink (`logs-<pid>.jsonl`; over OTLP they are
    /// counted in `health().logs` instead).
    #[serde(default)]
    pub logs_emitted: u64,
    /// Log records written to the embedded logs sink, including those a rotation later
    /// discarded.
    #[serde(default)]
    pub logs_written: u64,
    /// Log records the embedded sink discarded to stay within its byte budget (written, then
    /// deleted with the oldest file; or too large to write).
    #[serde(default)]
    pub logs_discarded_budget: u64,
    /// Log records the embedded sink failed to write (encoding or I/O error).
    #[serde(default)]
    pub logs_write_failed: u64,
    /// Log records emitted but neither written, failed nor too large: lost to the batch
    /// processor's full queue, or still queued when shutdown's deadline passed. Final only in a
    /// worker's report: a snapshot taken while the worker runs also counts the records still
    /// queued.
    #[serde(default)]
    pub logs_dropped_unwritten: u64,
    /// Stack traces taken for Sentry events (panics, handler errors, the layer's 5xx), without
    /// resolving them on the request's thread.
    #[serde(default)]
    pub stacks_taken: u64,
    /// Of those, resolved on the symbolizing thread before the event was sent or written.
    #[serde(default)]
    pub stacks_resolved: u64,
    /// Stacks not kept (too many waiting) or not resolved in time: their events went without.
    #[serde(default)]
    pub stacks_dropped: u64,
    /// Microseconds request threads spent taking stacks (walking them, unresolved).
    #[serde(default)]
    pub stack_take_us: u64,
    /// Microseconds the symbolizing thread spent resolving them (the first in a process loads
    /// the binary's debug info).
    #[serde(default)]
    pub stack_resolve_us: u64,
}

/// A snapshot of this process's counters.
pub fn stats() -> Stats {
    snapshot(counters())
}

/// What `c` holds, as figures.
pub(crate) fn snapshot(c: &ProcessCounters) -> Stats {
    let ended = c.spans_ended.load(Relaxed);
    let exported = c.spans_exported.load(Relaxed);
    let failed = c.spans_export_failed.load(Relaxed);
    let inherited = c.spans_dropped_inherited.load(Relaxed);
    let discarded = c.spans_discarded_no_exporter.load(Relaxed);
    let rotated = c.spans_budget_rotated.load(Relaxed);
    let refused = c.spans_budget_refused.load(Relaxed);
    Stats {
        spans_started: c.spans_started.load(Relaxed),
        spans_ended: ended,
        spans_exported: exported,
        spans_export_failed: failed,
        spans_dropped_inherited: inherited,
        spans_discarded_no_exporter: discarded,
        spans_discarded_budget: rotated + refused,
        // Rotated spans were exported first, so only the refused ones stand beside `exported`.
        spans_dropped_unexported: ended
            .saturating_sub(exported + failed + inherited + discarded + refused),
        sentry_events_captured: c.sentry_events_captured.load(Relaxed),
        sentry_events_written: c.sentry_events_written.load(Relaxed),
        sentry_events_discarded_budget: c.sentry_events_discarded_budget.load(Relaxed),
        sentry_transactions_written: c.sentry_transactions_written.load(Relaxed),
        sentry_transactions_discarded_budget: c.sentry_transactions_discarded_budget.load(Relaxed),
        sentry_write_failed: c.sentry_write_failed.load(Relaxed),
        attribute_values_truncated: c.attribute_values_truncated.load(Relaxed),
        logs_emitted: c.logs_emitted.load(Relaxed),
        logs_written: c.logs_written.load(Relaxed),
        logs_discarded_budget: c.logs_budget_rotated.load(Relaxed)
            + c.logs_budget_refused.load(Relaxed),
        logs_write_failed: c.logs_write_failed.load(Relaxed),
        stacks_taken: c.stacks_taken.load(Relaxed),
        stacks_resolved: c.stacks_resolved.load(Relaxed),
        stacks_dropped: c.stacks_dropped.load(Relaxed),
        stack_take_us: c.stack_take_us.load(Relaxed),
        stack_resolve_us: c.stack_resolve_us.load(Relaxed),
        // Rotated records were written first, so only the refused ones stand beside `written`.
        logs_dropped_unwritten: c.logs_emitted.load(Relaxed).saturating_sub(
            c.logs_written.load(Relaxed)
                + c.logs_write_failed.load(Relaxed)
                + c.logs_budget_refused.load(Relaxed),
        ),
    }
}
