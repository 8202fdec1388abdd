//! Flush and shut down everything of a worker's telemetry under ONE total deadline.
//!
//! The OTel tracer, meter and logger providers and the Sentry client are shut down concurrently,
//! each on its own thread, and the worker waits for them only until the deadline: a black-holed backend can stall either
//! one (the Sentry transport has no request timeout; its guard's drop joins a stuck thread), and
//! neither may keep the worker from exiting on time. A part that misses the deadline is
//! abandoned, never joined or dropped; the process is about to exit.

use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How one part of the telemetry ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PartOutcome {
    /// It was not set up in this process.
    #[default]
    Absent,
    /// It shut down cleanly.
    Done,
    /// It reported an error (message).
    Failed(String),
    /// The deadline passed first.
    TimedOut,
}

/// The result of a worker's telemetry shutdown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TeardownReport {
    /// The deadline that applied.
    pub deadline_ms: u64,
    /// How long it took in total.
    pub elapsed_ms: u64,
    /// The OTel tracer provider.
    pub otel: PartOutcome,
    /// The OTel meter provider (its last collection included).
    #[serde(default)]
    pub metrics: PartOutcome,
    /// The OTel logger provider (its last batch included).
    #[serde(default)]
    pub logs: PartOutcome,
    /// The Sentry client.
    pub sentry: PartOutcome,
}

enum Part {
    Otel(PartOutcome),
    Metrics(PartOutcome),
    Logs(PartOutcome),
    Sentry(PartOutcome),
}

/// Shuts down this process's telemetry within `deadline`.
pub fn teardown(deadline: Duration) -> TeardownReport {
    let started = Instant::now();
    let end = started + deadline;
    // Each part gets a little less than the whole, so that a part that runs out of time still
    // has counted what it left behind before the report is written.
    let part_deadline = deadline.saturating_sub((deadline / 10).min(Duration::from_millis(100)));
    let (tx, rx) = mpsc::channel();
    let mut pending = 0;

    let mut otel = PartOutcome::Absent;
    if let Some(provider) = crate::telemetry::otel_pipeline::current_provider() {
        pending += 1;
        otel = PartOutcome::TimedOut;
        let tx = tx.clone();
        spawn("forkline-otel-shutdown", move || {
            let outcome = match provider.shutdown_with_timeout(part_deadline) {
                Ok(()) => PartOutcome::Done,
                Err(e) => PartOutcome::Failed(e.to_string()),
            };
            let _ = tx.send(Part::Otel(outcome));
        });
    }

    let mut metrics = PartOutcome::Absent;
    if let Some(installed) = crate::telemetry::metrics_pipeline::current() {
        pending += 1;
        metrics = PartOutcome::TimedOut;
        let tx = tx.clone();
        let part_end = started + part_deadline;
        spawn("forkline-metrics-shutdown", move || {
            // The SDK's shutdown makes the last collection, then shuts the exporter down with
            // its own fixed timeout: the guarded exporter reads the worker's deadline instead.
            if let Some((_, by)) = &installed.guarded {
                if let Ok(mut by) = by.lock() {
                    *by = Some(part_end);
                }
            }
            let mut outcome = match installed.provider.shutdown_with_timeout(part_deadline) {
                Ok(()) => PartOutcome::Done,
                Err(e) => PartOutcome::Failed(e.to_string()),
            };
            // The SDK stops waiting for its reader after 5 s; delivery may still be under way.
            if let Some((state, _)) = &installed.guarded {
                let left = part_end.saturating_duration_since(Instant::now());
                if outcome != PartOutcome::Done && state.wait_idle(left) {
                    outcome = PartOutcome::Done;
                }
            }
            let _ = tx.send(Part::Metrics(outcome));
        });
    }

    let mut logs = PartOutcome::Absent;
    if let Some(installed) = crate::telemetry::logs_pipeline::current() {
        pending += 1;
        logs = PartOutcome::TimedOut;
        let tx = tx.clone();
        let part_end = started + part_deadline;
        spawn("forkline-logs-shutdown", move || {
            // The guarded processor reads the worker's deadline, not the SDK's fixed timeout.
            if let Some((_, by)) = &installed.guarded {
                if let Ok(mut by) = by.lock() {
                    *by = Some(part_end);
                }
            }
            let outcome = match installed.provider.shutdown_with_timeout(part_deadline) {
                Ok(()) => PartOutcome::Done,
                Err(e) => PartOutcome::Failed(e.to_string()),
            };
            let _ = tx.send(Part::Logs(outcome));
        });
    }

    let mut sentry = PartOutcome::Absent;
    if let Some(client) = sentry::Hub::main().client().filter(|c| c.is_enabled()) {
        pending += 1;
        sentry = PartOutcome::TimedOut;
        spawn("forkline-sentry-shutdown", move || {
            let outcome = if client.close(Some(part_deadline)) {
                PartOutcome::Done
            } else {
                PartOutcome::Failed("events were still queued when the deadline passed".into())
            };
            let _ = tx.send(Part::Sentry(outcome));
        });
    }

    while pending > 0 {
        let Some(left) = end.checked_duration_since(Instant::now()) else {
            break;
        };
        match rx.recv_timeout(left) {
            Ok(Part::Otel(outcome)) => otel = outcome,
            Ok(Part::Metrics(outcome)) => metrics = outcome,
            Ok(Part::Logs(outcome)) => logs = outcome,
            Ok(Part::Sentry(outcome)) => sentry = outcome,
            Err(_) => break,
        }
        pending -= 1;
    }
    TeardownReport {
        deadline_ms: deadline.as_millis() as u64,
        elapsed_ms: started.elapsed().as_millis() as u64,
        otel,
        metrics,
        logs,
        sentry,
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name(name.into()).spawn(f) {
        crate::diag::log_warn!("could not start {name}: {e}; that part is not flushed");
    }
}
