//! Checks the master makes before every fork, so that telemetry built there is never silently
//! inherited by workers.
//!
//! - A provider forkline built in the master is fine: each worker detects it (fork generation)
//!   and rebuilds it in `post_fork`. The master is told once that this is wasted work.
//! - A Sentry client or a tracer provider set up in the master by hand is not: its threads do
//!   not survive `fork()`, so the workers would drop everything and hang at exit. Start-up
//!   fails with a message naming the hook to move the code to.

use crate::error::{Error, Result};
use opentelemetry::trace::{
    Span, SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider,
};
use opentelemetry::Context;
use std::sync::atomic::{AtomicBool, Ordering};

static TOLD_ABOUT_REBUILD: AtomicBool = AtomicBool::new(false);
static TOLD_ABOUT_THREADS: AtomicBool = AtomicBool::new(false);

/// The message for a Sentry client initialised in the master.
pub const SENTRY_IN_MASTER: &str = "sentry::init was called in the master process before fork(): \
     its transport thread does not survive fork(), so workers would lose every event and hang at \
     exit. Remove it and let #[forkline::worker_init(sentry(...))] initialise Sentry in each worker";

/// The message for a tracer provider installed in the master by hand.
pub const PROVIDER_IN_MASTER: &str = "an OpenTelemetry tracer provider was installed in the \
     master process before fork() (opentelemetry::global::set_tracer_provider): its batch export \
     thread does not survive fork(), so workers would silently drop every span. Remove it and let \
     #[forkline::post_fork(...)] build the provider in each worker";

pub(crate) fn check_before_fork() -> Result<()> {
    if sentry::Hub::main().client().is_some_and(|c| c.is_enabled()) {
        return Err(Error::ForkSafety(SENTRY_IN_MASTER.into()));
    }
    if crate::telemetry::otel_pipeline::installed_here() {
        if !TOLD_ABOUT_REBUILD.swap(true, Ordering::Relaxed) {
            crate::diag::log_warn!(
                "telemetry was built in the master before fork(); every worker will rebuild it in \
                 post_fork. Building it in #[forkline::post_fork] instead avoids the waste"
            );
        }
    } else if foreign_provider_installed() {
        return Err(Error::ForkSafety(PROVIDER_IN_MASTER.into()));
    }
    let threads = crate::server::sys::thread_count();
    if threads > 1 && !TOLD_ABOUT_THREADS.swap(true, Ordering::Relaxed) {
        crate::diag::log_warn!(
            "the master has {threads} threads at fork(); only the forking thread exists in the \
             worker, and locks held by the others stay locked there. Start threads in \
             #[worker_init], not in master hooks"
        );
    }
    Ok(())
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
    let tracer = opentelemetry::global::tracer_provider().tracer("forkline.fork_guard");
    let span = tracer.build_with_context(
        opentelemetry::trace::SpanBuilder::from_name("forkline.fork_guard.probe"),
        &cx,
    );
    let found = span.span_context().span_id() != parent.span_id();
    drop(span);
    found
}
