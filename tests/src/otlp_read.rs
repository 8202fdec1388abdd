//! What received OTLP requests carry, read the same way by every test that receives them (the
//! OTLP/HTTP receivers and the gRPC collector).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;

/// The `process.pid` in a resource.
pub fn resource_pid(resource: Option<&Resource>) -> Option<u32> {
    let kv = resource?
        .attributes
        .iter()
        .find(|kv| kv.key == "process.pid")?;
    match kv.value.as_ref()?.value {
        Some(Any::IntValue(pid)) => u32::try_from(pid).ok(),
        _ => None,
    }
}

/// The `process.pid` of a metrics request's (first) resource.
pub fn metrics_pid(request: &ExportMetricsServiceRequest) -> Option<u32> {
    resource_pid(request.resource_metrics.first()?.resource.as_ref())
}

/// The `process.pid` of a logs request's (first) resource.
pub fn logs_pid(request: &ExportLogsServiceRequest) -> Option<u32> {
    resource_pid(request.resource_logs.first()?.resource.as_ref())
}

/// What a metrics request's `http.server.request.duration` histogram counts, all points
/// together.
pub fn duration_count(request: &ExportMetricsServiceRequest) -> u64 {
    request
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .filter(|m| m.name == "http.server.request.duration")
        .map(|m| match &m.data {
            Some(Data::Histogram(h)) => h.data_points.iter().map(|p| p.count).sum(),
            _ => 0,
        })
        .sum()
}
