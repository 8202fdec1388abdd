//! The guard both export paths (OTLP spans, Sentry envelopes) will share: how a delivery attempt
//! is classified, when to retry and how long to wait, and a circuit breaker that stops trying a
//! dead backend. Pure logic, no I/O: the transports that use it own their sockets and threads.

pub(crate) mod attempt;
pub(crate) mod backoff;
pub(crate) mod breaker;
pub(crate) mod figures;
pub(crate) mod http_client;
#[cfg(feature = "grpc")]
pub(crate) mod otlp_grpc;
pub(crate) mod outcome;
pub(crate) mod retry_after;
pub(crate) mod sentry_transport;
pub(crate) mod span_export;
pub(crate) mod transition_log;
