//! The `tracing` bridge (feature `tracing`): code instrumented with `tracing` (its spans,
//! `#[tracing::instrument]`, and libraries such as hyper, tower-http, sqlx, reqwest) flows into
//! the same provider as forkline's own spans, children of whatever OTel span is active.
//!
//! `worker_init` installs it as the global `tracing` subscriber, after the propagators. A process
//! that already has a subscriber keeps it (forkline logs that it did not install its own); add
//! [`layer`] to that subscriber instead.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

/// The OpenTelemetry layer for `tracing`, exporting through `provider`; compose it into your own
/// subscriber (`registry().with(forkline::telemetry::tracing_bridge::layer(&provider))`).
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("forkline-tracing"))
        .with_error_records_to_exceptions(true)
}

/// Installs the bridge as the global `tracing` subscriber for this process's provider. Returns
/// whether it was installed (`false`: no forkline provider, or a subscriber was already set).
pub fn install() -> bool {
    let Some(provider) = crate::telemetry::otel_pipeline::current_provider() else {
        return false;
    };
    let subscriber = tracing_subscriber::registry().with(layer(&provider));
    match tracing::subscriber::set_global_default(subscriber) {
        Ok(()) => true,
        Err(_) => {
            crate::diag::log_info!(
                "a tracing subscriber is already set: forkline's tracing bridge was not installed; \
                 add forkline::telemetry::tracing_bridge::layer to it to export tracing spans"
            );
            false
        }
    }
}
