//! What the master prepares once, before forking, for every worker: thread-free and immutable,
//! so it is safe to inherit. Today that is the HTTP clients of the guarded OTLP/HTTP and Sentry
//! paths (none for a signal over gRPC, whose channel must be made after fork), whose TLS
//! trust store would otherwise be loaded again by every worker at boot. Built by
//! `telemetry::prepared`; carried here, with the configuration it was built from.

/// Prepared in the master, inherited by every worker.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub(crate) otlp_http: Option<reqwest::Client>,
    pub(crate) otlp_metrics_http: Option<reqwest::Client>,
    pub(crate) otlp_logs_http: Option<reqwest::Client>,
    pub(crate) sentry_http: Option<reqwest::Client>,
}
