//! A worker's metric collection as OTLP: the SDK's collection converted with
//! opentelemetry-proto's own conversion, plus the series forkline aggregates itself
//! ([`duration_series`]). Below both the exporters and the embedded sink, which send or write
//! the same request.

// Recorded by the HTTP layer (feature `tower`); merged into collections with or without it.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) mod duration_series;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::metrics::data::ResourceMetrics;

pub(crate) use duration_series::DURATION_BOUNDARIES;

/// One collection as OTLP, with the request duration series forkline aggregates itself
/// (`duration_series`). A collection with no data point is `None`: nothing to send.
pub(crate) fn to_request(metrics: &ResourceMetrics) -> Option<ExportMetricsServiceRequest> {
    let mut request = ExportMetricsServiceRequest::from(metrics);
    duration_series::merge_into(&mut request);
    (data_points(&request) > 0).then_some(request)
}

/// The data points a request carries (all aggregations).
pub(crate) fn data_points(request: &ExportMetricsServiceRequest) -> u64 {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    request
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| match &m.data {
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        } as u64)
        .sum()
}
