//! The engine's decisions, free of threads and clocks: every call is given the time. Batches
//! are cut and encoded into the outbox; the front batch is attempted when its time has come and
//! the breaker permits; an attempt's outcome delivers it, refuses it, or schedules its retry
//! (full-jitter backoff, at least the backend's `Retry-After`, at most the backoff cap); what
//! leaves without being delivered is dropped and counted by reason, once.

use crate::export::attempt;
use crate::export::breaker::Permit;
use crate::export::engine::batcher::Batcher;
use crate::export::engine::outbox::Outbox;
use crate::export::engine::params::{Params, Retries, WhileOpen};
use crate::export::engine::signal::{Attempted, Encode};
use crate::export::engine::state::PipelineState;
use crate::export::figures::DropReason;
use crate::export::outcome::Outcome;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a held batch looks at an open breaker again.
const HOLD_POLL: Duration = Duration::from_millis(20);

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Attempt the front batch now.
    Attempt,
    /// Nothing can be attempted now (see [`Delivery::due`] for when to look again).
    Wait,
}

/// One pipeline's delivery decisions.
pub(crate) struct Delivery<E: Encode> {
    params: Params,
    encoder: E,
    state: Arc<PipelineState>,
    batch: Batcher<E::Item>,
    outbox: Outbox<E::Meta>,
    next_attempt: Instant,
    failures_in_a_row: u32,
    /// Shutdown found the breaker open and let one probe through at once (only one).
    probed_at_shutdown: bool,
}

impl<E: Encode> Delivery<E> {
    pub(crate) fn new(params: Params, encoder: E, state: Arc<PipelineState>, now: Instant) -> Self {
        Self {
            batch: Batcher::new(params.max_batch, params.batch_delay),
            outbox: Outbox::new(params.ride_through_bytes),
            params,
            encoder,
            state,
            next_attempt: now,
            failures_in_a_row: 0,
            probed_at_shutdown: false,
        }
    }

    pub(crate) fn state(&self) -> &Arc<PipelineState> {
        &self.state
    }

    /// Whether more items may be taken from the queue now: the batch has room, and (without a
    /// ride-through buffer) nothing is being delivered.
    pub(crate) fn wants_items(&self) -> bool {
        !self.batch.is_full()
            && (self.params.ride_through_bytes.is_some()
                || (self.outbox.is_empty() && self.batch.is_empty()))
    }

    /// Nothing batched, nothing waiting for delivery.
    pub(crate) fn is_idle(&self) -> bool {
        self.batch.is_empty() && self.outbox.is_empty()
    }

    /// Takes an item into the batch; `now` is read only when it starts a batch.
    pub(crate) fn take(&mut self, item: E::Item, now: impl FnOnce() -> Instant) {
        self.batch.take(item, now);
    }

    /// Cuts the batch if it is due, encodes it and puts it in the outbox (evicting the oldest
    /// batches past the byte budget, counted `buffer_full`; a batch the encoder panics on is
    /// counted `encode_failed`).
    pub(crate) fn cut(&mut self, now: Instant, hurry: bool) {
        let Some(items) = self.batch.cut(now, hurry) else {
            return;
        };
        let n = items.len();
        // Encoding reads whatever the application put in its telemetry: a panic there (one
        // was found: a log record without an observed time) must cost that batch, counted,
        // not the pipeline's thread and with it everything after.
        let encoded = std::panic::catch_unwind(AssertUnwindSafe(|| self.encoder.encode(items)));
        match encoded {
            Err(panic) => {
                let runner = self.params.words.runner;
                let message = crate::diag::panic_message(&*panic);
                self.state
                    .counters
                    .error(format!("{runner} could not encode a batch: {message}"));
                self.state.finish(n, Some(DropReason::EncodeFailed));
            }
            Ok(Err(reason)) => self.state.finish(n, Some(reason)),
            Ok(Ok(encoded)) => {
                while let Some(old) = self.outbox.evict_for(encoded.body.len()) {
                    self.state.finish(old.items, Some(DropReason::BufferFull));
                }
                self.outbox.push(encoded);
            }
        }
    }

    /// When something is next due: the batch's delay, the next attempt, or the idle poll.
    pub(crate) fn due(&self, now: Instant) -> Option<Instant> {
        let mut due = self.params.idle_poll.map(|poll| now + poll);
        let mut sooner = |at: Instant| due = Some(due.map_or(at, |d| d.min(at)));
        if let Some(batch) = self.batch.due() {
            sooner(batch);
        }
        if !self.outbox.is_empty() {
            sooner(self.next_attempt.max(now));
        }
        due
    }

    /// Whether the front batch may be attempted at `now`; drops what an open breaker refuses
    /// when the parameters say so.
    pub(crate) fn next(&mut self, now: Instant, closing: bool) -> Step {
        while !self.outbox.is_empty() {
            let cut_short = closing && self.params.last_attempt_at_shutdown;
            if now < self.next_attempt && !cut_short {
                return Step::Wait;
            }
            if self.state.breaker.permit(now) != Permit::Refuse {
                return Step::Attempt;
            }
            match self.params.while_open {
                WhileOpen::Drop => self.retire_front(Some(DropReason::BreakerOpen)),
                WhileOpen::Hold if closing => {
                    // Shutting down with the breaker open: what it knows may be stale (a
                    // collector that restarted is back long before the cool-down ends; seen in
                    // the soak as a third of all spans dropped by workers recycled or replaced
                    // after a blip). So one probe goes at once, within the deadline.
                    if !self.probed_at_shutdown {
                        self.probed_at_shutdown = true;
                        if self.state.breaker.probe_now() {
                            return Step::Attempt;
                        }
                    }
                    // The probe failed: wait for the next one only if it comes before the
                    // deadline; otherwise waiting cannot deliver anything, so what is left is
                    // dropped and counted now.
                    match (self.state.breaker.probe_at(), self.state.deadline()) {
                        (Some(probe), Some(deadline)) if probe < deadline => {
                            self.next_attempt = probe
                        }
                        _ => {
                            while !self.outbox.is_empty() {
                                self.retire_front(Some(DropReason::BreakerOpen));
                            }
                        }
                    }
                    return Step::Wait;
                }
                WhileOpen::Hold => {
                    // Nothing is attempted; the batch waits (within the budget) for the probe.
                    self.next_attempt = now + HOLD_POLL;
                    return Step::Wait;
                }
            }
        }
        Step::Wait
    }

    /// The body of the front batch, to attempt.
    pub(crate) fn front_body(&self) -> Option<bytes::Bytes> {
        self.outbox.front().map(|front| front.body.clone())
    }

    /// The front batch cannot be attempted: the delivery thread has no runtime.
    pub(crate) fn no_runtime(&mut self, error: &std::io::Error) {
        let runner = self.params.words.runner;
        self.state
            .counters
            .error(format!("{runner} has no runtime: {error}"));
        self.retire_front(Some(DropReason::Network));
    }

    /// Records the front batch's attempt, finished at `now`. Returns whether the next batch may
    /// be attempted right away (false: a retry is scheduled).
    pub(crate) fn record(&mut self, attempted: Attempted, now: Instant) -> bool {
        if let Some(headers) = &attempted.headers {
            self.encoder.learn(headers);
        }
        let state = &self.state;
        let failed = matches!(attempted.outcome, Outcome::Retryable { .. });
        if let Some(changed) = state.breaker.record(!failed, now) {
            let last = state.counters.last_error();
            state.transitions.changed(changed, last.as_deref());
        }
        let words = self.params.words;
        match attempted.outcome {
            Outcome::Delivered => {
                self.failures_in_a_row = 0;
                self.retire_front(None);
                true
            }
            Outcome::Rejected { status } => {
                self.failures_in_a_row = 0;
                state
                    .counters
                    .error(format!("{} with {status}", words.refused));
                self.retire_front(Some(DropReason::Rejected));
                true
            }
            Outcome::Retryable { reason, after } => {
                let policy = &self.params.policy;
                state
                    .counters
                    .error(attempt::describe(reason, words.backend, policy));
                let out_of_retries = matches!(
                    self.params.retries,
                    Retries::PerBatch(max) if self.failures_in_a_row >= max
                );
                if out_of_retries || (self.params.last_attempt_at_shutdown && state.is_closed()) {
                    self.retire_front(Some(attempt::drop_reason(reason)));
                    return true;
                }
                let wanted = self
                    .outbox
                    .front()
                    .is_some_and(|front| self.encoder.still_wanted(front));
                if !wanted {
                    self.retire_front(Some(DropReason::RateLimited));
                    return true;
                }
                state.counters.retried.fetch_add(1, Ordering::Relaxed);
                let wait = policy
                    .backoff()
                    .delay(self.failures_in_a_row)
                    .max(after.unwrap_or_default())
                    .min(policy.backoff_cap);
                self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
                // Unless the parameters say otherwise, also while shutting down: shutdown's
                // deadline bounds the retries, and what it cuts off is counted there.
                self.next_attempt = now + wait;
                false
            }
        }
    }

    /// The front batch leaves the outbox: delivered (`None`) or dropped for a reason.
    fn retire_front(&mut self, fate: Option<DropReason>) {
        if let Some(front) = self.outbox.pop_front() {
            self.state.finish(front.items, fate);
        }
        if matches!(self.params.retries, Retries::PerBatch(_)) {
            self.failures_in_a_row = 0;
        }
    }

    #[cfg(test)]
    pub(crate) fn next_attempt(&self) -> Instant {
        self.next_attempt
    }
}
