//! `forkline::health()`: what each export pipeline of this process is doing, its span counters,
//! and, in a worker, what its server did. Pipelines and the worker's scoreboard record register
//! here as they are built; the registry keeps only what this very process built.

pub(crate) mod serving;

use serving::{Record, Serving};

use crate::export::engine::state::PipelineState;
use crate::export::figures::PipelineHealth;
use crate::identity::fork_generation;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

/// The health of this process's telemetry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Health {
    /// The guarded OTLP traces pipeline (counts are spans); `None` unless spans go to OTLP.
    /// Named like the other signals' (`metrics`, `logs`); reports written as `otlp` still read.
    #[serde(alias = "otlp")]
    pub traces: Option<PipelineHealth>,
    /// The guarded OTLP metrics pipeline (counts are collections, one per export interval);
    /// `None` unless metrics go to OTLP.
    #[serde(default)]
    pub metrics: Option<PipelineHealth>,
    /// The guarded OTLP logs pipeline (counts are log records); `None` unless logs go to OTLP.
    #[serde(default)]
    pub logs: Option<PipelineHealth>,
    /// The guarded Sentry transport (counts are envelopes); `None` when Sentry is off or writes
    /// to the embedded sink.
    pub sentry: Option<PipelineHealth>,
    /// Span counters (created, exported, dropped by reason).
    pub spans: crate::stats::Stats,
    /// This worker's connections and requests (`None` outside a worker).
    #[serde(default)]
    pub serving: Option<Serving>,
}

/// This worker's scoreboard record; null in the master, and in a worker until it serves.
static SERVING: AtomicPtr<Record> = AtomicPtr::new(std::ptr::null_mut());

pub(crate) fn register_serving(record: &'static Record) {
    // Release / Acquire, as every other published pointer: a reader on another thread sees the
    // record as claimed, not as the master left it.
    SERVING.store(std::ptr::from_ref(record).cast_mut(), Ordering::Release);
}

fn serving() -> Option<Serving> {
    // SAFETY: only ever set from a `&'static Record`.
    unsafe { SERVING.load(Ordering::Acquire).as_ref() }.map(Record::serving)
}

/// A pipeline registered in this process, with the fork generation it was built in.
type Registered<T> = Mutex<Option<(u64, Arc<T>)>>;

static SENTRY: Registered<PipelineState> = Mutex::new(None);
static SPANS: Registered<PipelineState> = Mutex::new(None);
static METRICS: Registered<PipelineState> = Mutex::new(None);
static LOGS: Registered<PipelineState> = Mutex::new(None);

fn register<T>(slot: &Registered<T>, shared: Arc<T>) {
    if let Ok(mut slot) = slot.lock() {
        *slot = Some((fork_generation(), shared));
    }
}

/// The pipeline registered in this very process (not one inherited across fork).
fn current<T>(
    slot: &Registered<T>,
    health: impl Fn(&T) -> PipelineHealth,
) -> Option<PipelineHealth> {
    slot.lock().ok().and_then(|slot| {
        slot.as_ref()
            .filter(|(generation, _)| *generation == fork_generation())
            .map(|(_, shared)| health(shared))
    })
}

pub(crate) fn register_sentry(shared: Arc<PipelineState>) {
    register(&SENTRY, shared);
}

pub(crate) fn register_spans(shared: Arc<PipelineState>) {
    register(&SPANS, shared);
}

pub(crate) fn register_metrics(shared: Arc<PipelineState>) {
    register(&METRICS, shared);
}

pub(crate) fn register_logs(shared: Arc<PipelineState>) {
    register(&LOGS, shared);
}

/// The health of this process's telemetry pipelines.
pub fn health() -> Health {
    Health {
        traces: current(&SPANS, PipelineState::health),
        metrics: current(&METRICS, PipelineState::health),
        logs: current(&LOGS, PipelineState::health),
        sentry: current(&SENTRY, PipelineState::health),
        spans: crate::stats(),
        serving: serving(),
    }
}
