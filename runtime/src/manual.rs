//! Building forkline's telemetry by hand, without [`Server`](crate::Server).
//!
//! A program served by [`Server`](crate::Server) never needs this module: the lifecycle macros
//! generate every step at the right point of each worker's life. Use it when a program forks by
//! itself (or does not fork) and still wants forkline's pipelines, in this order in each process
//! that exports:
//!
//! 1. [`install_otel`]: the resource, sampler, guarded exporter and tracer provider with its
//!    late-bound slot (single-threaded, after `fork()`), then the metrics and logs pipelines;
//! 2. [`init_sentry`] on the process's main thread, then [`bind_sentry_span_processor`];
//! 3. [`install_propagators`];
//! 4. at exit, [`teardown`] under one deadline.
//!
//! Also here: the guarded exporters themselves ([`GuardedSpanProcessor`],
//! [`GuardedSentryTransport`]) for an SDK setup of your own, the `tracing` layers for a
//! subscriber of your own, and [`provider_installed`] for the handler macros' tracer cache when
//! a tracer provider is installed outside forkline.

pub use crate::export::sentry_transport::GuardedSentryTransport;
pub use crate::export::span_export::{GuardedSpanProcessor, SpanExportSettings};
pub use crate::telemetry::logs_pipeline::logger_provider;
pub use crate::telemetry::otel_pipeline::{
    install as install_otel, otlp_settings, Previous, ProcessIdentity,
};
pub use crate::telemetry::propagation::{
    install as install_propagators, DscBaggagePropagator, SentryTracePropagator,
    StrictTraceContextPropagator,
};
pub use crate::telemetry::sentry_pipeline::{
    bind_span_processor as bind_sentry_span_processor, init as init_sentry,
};
pub use crate::telemetry::slot::LateSlot;
pub use crate::telemetry::teardown::teardown;
pub use crate::telemetry::tracer_cache::{provider_installed, sdk_provider_installed};
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use crate::telemetry::tracing_bridge::{
    install as install_tracing, layer as tracing_layer, logs_layer as tracing_logs_layer,
    sentry_layer as tracing_sentry_layer,
};
