//! The state a pipeline's front end, its delivery thread and health readers share: counters,
//! breaker, the pending count and the shutdown gate (what shutdown abandons is counted once and
//! its late fate never), waiting for idle, waking the delivery thread, and the health snapshot.

use crate::export::breaker::{Breaker, BreakerState};
use crate::export::engine::params::Params;
use crate::export::figures::{DropReason, PipelineCounters, PipelineHealth};
use crate::export::transition_log::TransitionLog;
use crate::stats::ProcessCounters;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// When a pipeline must have finished shutting down, set by the worker's teardown: its one
/// deadline, which the SDK's own provider shutdown (a fixed 5 s) does not know.
pub(crate) type ShutdownBy = std::sync::Arc<Mutex<Option<Instant>>>;

/// Process-wide counters a pipeline also feeds (delivered, failed), besides its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProcessTally {
    pub(crate) delivered: &'static AtomicU64,
    pub(crate) failed: &'static AtomicU64,
}

/// One pipeline's shared state.
///
/// Items accepted and not yet delivered or dropped are `pending`, an atomic so that handing an
/// item over takes no lock; `gate` orders the per-batch accounting against shutdown's
/// abandonment, so that what shutdown counts as left behind is never counted again. (An item
/// whose thread is descheduled between the `closed` check and the increment for longer than the
/// whole shutdown deadline could escape both counts; that is the one inexact case.)
#[derive(Debug)]
pub(crate) struct PipelineState {
    pub(crate) counters: PipelineCounters,
    pub(crate) breaker: Breaker,
    pub(crate) transitions: TransitionLog,
    pending: AtomicUsize,
    /// Whether shutdown abandoned what is left.
    gate: Mutex<bool>,
    idle: Condvar,
    closed: AtomicBool,
    flush_now: AtomicBool,
    /// Items in the channel, not yet taken by the delivery thread.
    in_channel: AtomicUsize,
    /// The delivery thread, unparked when a full batch waits or a flush / shutdown begins: the
    /// front end wakes it once per batch, not once per item (a wake-up per span costs a futex
    /// call and a context switch, ten times the span itself).
    worker: OnceLock<std::thread::Thread>,
    pub(crate) max_batch: usize,
    /// When shutdown will give up.
    deadline: Mutex<Option<Instant>>,
    /// When the attempt in flight started, if one is.
    attempt_since: Mutex<Option<Instant>>,
    process: Option<ProcessTally>,
}

impl PipelineState {
    /// The state of a pipeline run with `params`, its breaker changes logged by `transitions`,
    /// feeding the process-wide `process` counters if given.
    pub(crate) fn new(
        params: &Params,
        transitions: TransitionLog,
        process: Option<ProcessTally>,
    ) -> Self {
        let policy = &params.policy;
        Self {
            counters: PipelineCounters::default(),
            breaker: Breaker::new(policy.breaker_failures, policy.breaker_cooldown),
            transitions,
            pending: AtomicUsize::new(0),
            gate: Mutex::new(false),
            idle: Condvar::new(),
            closed: AtomicBool::new(false),
            flush_now: AtomicBool::new(false),
            in_channel: AtomicUsize::new(0),
            worker: OnceLock::new(),
            max_batch: params.max_batch.max(1),
            deadline: Mutex::new(None),
            attempt_since: Mutex::new(None),
            process,
        }
    }

    pub(crate) fn health(&self) -> PipelineHealth {
        self.counters
            .snapshot(self.breaker.state(), self.breaker.consecutive_failures())
    }

    // --- The front end's side.

    /// One item handed to the pipeline.
    #[inline]
    pub(crate) fn accept(&self) {
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// An accepted item dropped before it became pending.
    pub(crate) fn refuse(&self, reason: DropReason) {
        self.counters.dropped(reason, 1);
        if let Some(process) = self.process {
            ProcessCounters::add(process.failed, 1);
        }
    }

    /// An item becomes pending (before it is put in the channel).
    #[inline]
    pub(crate) fn add_pending(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    /// An item becomes pending unless `capacity` items already are.
    pub(crate) fn add_pending_within(&self, capacity: usize) -> bool {
        self.pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .is_ok()
    }

    /// An item is in the channel; the delivery thread is woken when a full batch waits.
    #[inline]
    pub(crate) fn sent_to_channel(&self) {
        let waiting = self
            .in_channel
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        if waiting == self.max_batch {
            self.wake();
        }
    }

    /// Asks for partial batches to go out now (a flush), or stops asking.
    pub(crate) fn hurry(&self, on: bool) {
        self.flush_now.store(on, Ordering::Relaxed);
        if on {
            self.wake();
        }
    }

    /// Shutdown begins: nothing more is accepted, and what is left has until `timeout`.
    pub(crate) fn close(&self, timeout: Duration) {
        self.close_at(Instant::now() + timeout);
    }

    /// As `close`, with the deadline as an instant of the engine's clock (a fake one in tests).
    pub(crate) fn close_at(&self, at: Instant) {
        if let Ok(mut deadline) = self.deadline.lock() {
            *deadline = Some(at);
        }
        self.closed.store(true, Ordering::Relaxed);
        self.wake();
    }

    /// Waits until nothing is pending; false if `timeout` passed first.
    pub(crate) fn wait_idle(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut gate = self.gate();
        while self.pending.load(Ordering::Acquire) > 0 {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                return false;
            };
            // Short waits: an enqueue-side drop does not take the gate to notify.
            let wait = left.min(Duration::from_millis(10));
            gate = match self.idle.wait_timeout(gate, wait) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// After a missed deadline: what is left is counted as dropped once; its late fate is not.
    pub(crate) fn abandon(&self) {
        let mut abandoned = self.gate();
        if !*abandoned {
            *abandoned = true;
            let n = self.pending.load(Ordering::Acquire) as u64;
            self.counters.dropped(DropReason::Shutdown, n);
            if let Some(process) = self.process {
                ProcessCounters::add(process.failed, n);
            }
        }
    }

    /// Whether delivery is failing or stalled: the breaker is not closed, the last attempt
    /// failed, or the attempt in flight has gone unanswered for `bound` or longer.
    pub(crate) fn unhealthy(&self, now: Instant, bound: Duration) -> bool {
        let stalled = self
            .attempt_since
            .lock()
            .map(|since| since.is_some_and(|t| now.duration_since(t) >= bound))
            .unwrap_or(false);
        self.breaker.state() != BreakerState::Closed
            || self.breaker.consecutive_failures() > 0
            || stalled
    }

    // --- The delivery thread's side.

    pub(crate) fn set_worker(&self, thread: std::thread::Thread) {
        let _ = self.worker.set(thread);
    }

    pub(crate) fn wake(&self) {
        if let Some(thread) = self.worker.get() {
            thread.unpark();
        }
    }

    pub(crate) fn waiting_in_channel(&self) -> usize {
        self.in_channel.load(Ordering::Acquire)
    }

    pub(crate) fn taken_from_channel(&self, n: usize) {
        self.in_channel.fetch_sub(n, Ordering::AcqRel);
    }

    pub(crate) fn flush_requested(&self) -> bool {
        self.flush_now.load(Ordering::Relaxed)
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline.lock().ok().and_then(|d| *d)
    }

    pub(crate) fn abandoned(&self) -> bool {
        *self.gate()
    }

    pub(crate) fn attempt_started(&self, since: Option<Instant>) {
        if let Ok(mut slot) = self.attempt_since.lock() {
            *slot = since;
        }
    }

    /// Counts the fate of `items` pending items (`None`: delivered) and retires them, in one
    /// step with shutdown's accounting.
    pub(crate) fn finish(&self, items: usize, fate: Option<DropReason>) {
        let n = items as u64;
        let abandoned = self.gate();
        if !*abandoned {
            match fate {
                None => {
                    self.counters.delivered(n);
                    if let Some(process) = self.process {
                        ProcessCounters::add(process.delivered, n);
                    }
                }
                Some(reason) => {
                    self.counters.dropped(reason, n);
                    if let Some(process) = self.process {
                        ProcessCounters::add(process.failed, n);
                    }
                }
            }
        }
        if self.pending.fetch_sub(items, Ordering::AcqRel) == items {
            self.idle.notify_all();
        }
    }

    /// The gate; its value is whether shutdown abandoned what is left.
    fn gate(&self) -> MutexGuard<'_, bool> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }
}
