//! The telemetry pipelines of a process and the steps that build and end them.

pub(crate) mod deferred_stacks;
pub(crate) mod fork_check;
pub(crate) mod fork_rng;
/// The HTTP server metrics, recorded by `TelemetryLayer` and by `serve_axum` for the requests it
/// refuses itself (over Gunicorn's request limits).
#[cfg(feature = "tower")]
pub(crate) mod http_server_metrics;
pub(crate) mod installed;
pub(crate) mod logs_pipeline;
pub(crate) mod metrics_pipeline;
pub(crate) mod operational_metrics;
pub(crate) mod otel_pipeline;
pub(crate) mod prepared;
pub(crate) mod propagation;
pub(crate) mod request_scope;
pub(crate) mod sentry_pipeline;
pub(crate) mod slot;
pub(crate) mod stack_trim;
pub(crate) mod symbolizing_transport;
pub(crate) mod teardown;
pub(crate) mod tracer_cache;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub(crate) mod tracing_bridge;
