//! Export: delivering telemetry to its backends without hurting the worker. One delivery engine
//! ([`engine`]: queue, batch, encode, attempt, classify, retry with backoff behind a circuit
//! breaker, ride-through buffer, health and accounting) runs every pipeline; a signal brings an
//! encoder and a transport (`otlp_spans`, `otlp_metrics`, `otlp_logs` with `otlp_transport`,
//! which speaks OTLP/HTTP or, feature `grpc`, OTLP/gRPC through `otlp_grpc`; `sentry_envelopes`)
//! and a front end its SDK calls (`span_export`, `metric_export`, `log_export`: the
//! OpenTelemetry processors and exporter; `sentry_transport`: the Sentry transport).
//! The guard — what protects an export path against a failing backend — is the policy those
//! pieces apply: bounded attempts (`attempt`), their classification (`outcome`,
//! `retry_after`), `backoff`, the `breaker` and its log (`transition_log`).

pub(crate) mod attempt;
pub(crate) mod backoff;
pub(crate) mod breaker;
pub(crate) mod engine;
pub(crate) mod figures;
pub(crate) mod http_client;
pub(crate) mod log_export;
pub(crate) mod metric_export;
#[cfg(feature = "grpc")]
pub(crate) mod otlp_grpc;
pub(crate) mod otlp_logs;
pub(crate) mod otlp_metrics;
pub(crate) mod otlp_pipeline;
pub(crate) mod otlp_spans;
pub(crate) mod otlp_transport;
pub(crate) mod outcome;
pub(crate) mod retry_after;
pub(crate) mod sentry_envelopes;
pub(crate) mod sentry_transport;
pub(crate) mod span_export;
pub(crate) mod transition_log;
