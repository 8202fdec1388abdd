//! Checks the master makes before every fork, so that telemetry built there is never silently
//! inherited by workers.
//!
//! - A provider forkline built in the master is fine: each worker detects it (fork generation)
//!   and rebuilds it in `post_fork`. The master is told once that this is wasted work.
//! - A Sentry client, a tracer provider or a meter provider set up in the master by hand is not: its threads do
//!   not survive `fork()`, so the workers would drop everything and hang at exit. Start-up
//!   fails with a message naming the hook to move the code to. A logger provider has no global
//!   slot to look in: its batch processor's thread is what stops start-up, with its own advice.
//! - Any other thread in the master at fork time is a start-up error that names each thread
//!   and where its work belongs, unless the user opted in (`allow_threads_at_fork`), which still
//!   warns. A thread count alone is not the whole hazard (see `server/signals.rs` for state a
//!   runtime leaves behind with no thread), but a thread at fork is always one.

use crate::error::{Error, ForkHazard, Result, THREADS_HAZARD};
use crate::sys::{other_threads, OtherThread};
use opentelemetry::trace::{
    Span, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::Context;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static TOLD_ABOUT_REBUILD: AtomicBool = AtomicBool::new(false);
static TOLD_ABOUT_THREADS: AtomicBool = AtomicBool::new(false);

/// How a thread that has been told to stop gets to finish exiting before it counts: a runtime
/// dropped just before `serve` has joined its threads, but the kernel may list them a moment
/// longer.
const EXITING_GRACE: Duration = Duration::from_millis(200);

pub(crate) fn check_before_fork(allow_threads: bool) -> Result<()> {
    if sentry::Hub::main().client().is_some_and(|c| c.is_enabled()) {
        return Err(Error::ForkSafety(ForkHazard::SentryInMaster));
    }
    if crate::telemetry::otel_pipeline::installed_here() {
        if !TOLD_ABOUT_REBUILD.swap(true, Ordering::Relaxed) {
            crate::diag::log_warn!(
                "telemetry was built in the master before fork(); every worker will rebuild it in \
                 post_fork. Building it in #[forkline::post_fork] instead avoids the waste"
            );
        }
    } else if foreign_provider_installed() {
        return Err(Error::ForkSafety(ForkHazard::TracerProviderInMaster));
    } else if foreign_meter_provider_installed() {
        return Err(Error::ForkSafety(ForkHazard::MeterProviderInMaster));
    }
    // Opted in, threads are expected to stay: no point waiting for them to go.
    let threads = if allow_threads {
        other_threads()
    } else {
        threads_at_fork()
    };
    if threads.is_empty() {
        return Ok(());
    }
    let listed = describe(&threads);
    if !allow_threads {
        return Err(Error::ForkSafety(ForkHazard::ThreadsAtFork {
            count: threads.len(),
            threads: listed,
        }));
    }
    if !TOLD_ABOUT_THREADS.swap(true, Ordering::Relaxed) {
        crate::diag::log_warn!(
            "the master has {} other thread(s) at fork(), allowed by allow_threads_at_fork: \
             {listed}. {THREADS_HAZARD}",
            threads.len()
        );
    }
    Ok(())
}

/// The master's other threads, after giving exiting ones a moment to go.
fn threads_at_fork() -> Vec<OtherThread> {
    let end = Instant::now() + EXITING_GRACE;
    loop {
        let threads = other_threads();
        if threads.is_empty() || Instant::now() >= end {
            return threads;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Each thread with its name and where its work belongs, judged by the name the library that
/// started it gives its threads (the kernel keeps 15 bytes of it).
fn describe(threads: &[OtherThread]) -> String {
    let mut by_name: Vec<(&str, Vec<i32>)> = Vec::new();
    for t in threads {
        match by_name.iter_mut().find(|(name, _)| *name == t.name) {
            Some((_, tids)) => tids.push(t.tid),
            None => by_name.push((&t.name, vec![t.tid])),
        }
    }
    by_name
        .iter()
        .map(|(name, tids)| {
            let tids: Vec<String> = tids.iter().map(i32::to_string).collect();
            format!("\"{name}\" (tid {}): {}", tids.join(", "), advice(name))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn advice(name: &str) -> &'static str {
    const KNOWN: &[(&str, &str)] = &[
        (
            "tokio-",
            "a tokio runtime is still alive; drop it before serve, or do that work in \
             #[worker_init] (each worker has its own runtime)",
        ),
        (
            // The SDK's batch log processor: OTel 0.32 has no global logger provider to find,
            // so its thread is how a hand-made one shows.
            "OpenTelemetry.L",
            "an OpenTelemetry batch log processor (a logger provider built in the master); let \
             #[forkline::post_fork(...)] build the logger provider in each worker, and give \
             forkline::manual::logger_provider() to your own appender",
        ),
        (
            "OpenTelemetry",
            "an OpenTelemetry SDK processor; let #[forkline::post_fork(...)] build the provider \
             in each worker",
        ),
        (
            "sentry-transpor",
            "a Sentry transport; let #[forkline::worker_init(sentry(...))] initialise Sentry",
        ),
        (
            "reqwest-interna",
            "a reqwest blocking client's runtime; drop the client before serve, or create it in \
             #[worker_init]",
        ),
        (
            "forkline-",
            "forkline telemetry built in the master; let #[forkline::post_fork] build it",
        ),
    ];
    KNOWN
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, advice)| *advice)
        .unwrap_or("start it in #[worker_init] (in every worker) instead of main or a master hook")
}

/// Whether the global tracer provider is a real SDK (not the default no-op), found without
/// exporting anything: the probe span's parent is unsampled, so a parent-based sampler drops it,
/// while the SDK still gives it a new span id. The no-op tracer returns the parent's context.
fn foreign_provider_installed() -> bool {
    let parent = SpanContext::new(
        TraceId::from_bytes([0x46; 16]),
        SpanId::from_bytes([0x4b; 8]),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let cx = Context::new().with_remote_span_context(parent.clone());
    let tracer = opentelemetry::global::tracer_provider().tracer("forkline.fork_check");
    let span = tracer.build_with_context(
        opentelemetry::trace::SpanBuilder::from_name("forkline.fork_check.probe"),
        &cx,
    );
    let found = span.span_context().span_id() != parent.span_id();
    drop(span);
    found
}

/// Whether the global meter provider is a real SDK one with a reader (not the default no-op),
/// found without recording anything: the SDK keeps an observable instrument's callback for its
/// readers to call, the no-op drops it at once. (The probe gauge observes nothing, so it never
/// exports a point; start-up stops anyway when it is found.)
fn foreign_meter_provider_installed() -> bool {
    let kept = std::sync::Arc::new(());
    let probe = kept.clone();
    let _gauge = opentelemetry::global::meter("forkline.fork_check")
        .u64_observable_gauge("forkline.fork_check.probe")
        .with_callback(move |_| {
            let _ = &probe;
        })
        .build();
    std::sync::Arc::strong_count(&kept) > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_no_op_meter_provider_is_not_taken_for_an_sdk_one() {
        // Nothing installed in this test process's global meter provider.
        assert!(!foreign_meter_provider_installed());
    }
}
