//! The aggregation temporality of a worker's metrics: plain data, named by
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, `post_fork(metrics(temporality))` or code.

/// The aggregation temporality forkline's exporter asks of the SDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MetricsTemporality {
    /// `cumulative` (the default): every point counts from the worker's start.
    #[default]
    Cumulative,
    /// `delta`: every point counts since the previous collection.
    Delta,
    /// `lowmemory`: delta for synchronous counters and histograms, cumulative otherwise.
    LowMemory,
}
