//! What OTLP metrics bring to the delivery engine: an encoder (collections, each already an
//! `ExportMetricsServiceRequest`, to one protobuf body); the transport is
//! `otlp_transport`'s (OTLP/HTTP, or OTLP/gRPC with feature `grpc`).
//!
//! The conversion from the SDK's `ResourceMetrics` (`metric_collection::to_request`) is
//! opentelemetry-proto's own (`From<&ResourceMetrics> for ExportMetricsServiceRequest`, feature
//! `metrics`): it is public, covers every aggregation (sums, gauges, histograms, exponential
//! histograms) with exemplars, and is what opentelemetry-otlp sends, so forkline does not keep a
//! second copy. It runs on the SDK's reader thread, because `ResourceMetrics` is borrowed for
//! the export call only.

use crate::export::engine::signal::{Encode, Encoded};
use crate::export::figures::DropReason;
pub(crate) use crate::metric_collection::to_request;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

/// Encodes collections; several (after an outage) go out as one request.
pub(crate) struct MetricsEncoder;

impl Encode for MetricsEncoder {
    type Item = ExportMetricsServiceRequest;
    type Meta = ();

    fn encode(
        &mut self,
        collections: Vec<ExportMetricsServiceRequest>,
    ) -> Result<Encoded<()>, DropReason> {
        let items = collections.len();
        let request = ExportMetricsServiceRequest {
            resource_metrics: collections
                .into_iter()
                .flat_map(|c| c.resource_metrics)
                .collect(),
        };
        Ok(Encoded::protobuf(&request, items))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metric_collection::data_points;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use opentelemetry_sdk::metrics::{
        InMemoryMetricExporter, InMemoryMetricExporterBuilder, PeriodicReader, SdkMeterProvider,
        Temporality,
    };
    use opentelemetry_sdk::Resource;
    use prost::Message;

    /// A provider with a counter, an up-down counter, a gauge and a histogram recorded, and
    /// what it collected at its last flush.
    pub(crate) fn collected(temporality: Temporality) -> Vec<ResourceMetrics> {
        let exporter: InMemoryMetricExporter = InMemoryMetricExporterBuilder::new()
            .with_temporality(temporality)
            .build();
        let provider = SdkMeterProvider::builder()
            .with_resource(
                Resource::builder_empty()
                    .with_attributes([KeyValue::new("process.pid", 4242_i64)])
                    .build(),
            )
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let meter = provider.meter("forkline.test");
        let get = [KeyValue::new("http.request.method", "GET")];
        let counter = meter.u64_counter("requests").build();
        counter.add(3, &get);
        let active = meter.i64_up_down_counter("active").build();
        active.add(2, &[]);
        active.add(-1, &[]);
        let gauge = meter.f64_gauge("temperature").with_unit("Cel").build();
        gauge.record(21.5, &[]);
        let histogram = meter
            .f64_histogram("http.server.request.duration")
            .with_unit("s")
            .with_boundaries(vec![0.1, 1.0])
            .build();
        for v in [0.05, 0.5, 0.7, 5.0] {
            histogram.record(v, &get);
        }
        provider.force_flush().expect("flushed");
        let collected = exporter.get_finished_metrics().expect("metrics");
        provider.shutdown().expect("shut down");
        collected
    }

    fn decode(body: &[u8]) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest::decode(body).expect("protobuf")
    }

    #[test]
    fn a_collection_encodes_to_otlp_protobuf_with_its_resource_and_every_aggregation() {
        let collected = collected(Temporality::Cumulative);
        let request = to_request(collected.last().expect("one collection")).expect("points");
        assert_eq!(data_points(&request), 4);
        let encoded = MetricsEncoder
            .encode(vec![request.clone(), request])
            .expect("encoded");
        assert_eq!(encoded.items, 2, "items are collections");
        let back = decode(&encoded.body);
        assert_eq!(back.resource_metrics.len(), 2);
        let rm = &back.resource_metrics[0];
        let pid = rm
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "process.pid"))
            .and_then(|kv| kv.value.as_ref()?.value.clone());
        assert_eq!(pid, Some(Value::IntValue(4242)));
        let metrics = &rm.scope_metrics[0].metrics;
        let by_name = |name: &str| {
            metrics
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| m.data.clone())
                .unwrap_or_else(|| panic!("{name} missing from {metrics:?}"))
        };
        let Data::Sum(sum) = by_name("requests") else {
            panic!("requests is not a sum")
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let Data::Sum(active) = by_name("active") else {
            panic!("active is not a sum")
        };
        assert!(!active.is_monotonic);
        assert!(matches!(by_name("temperature"), Data::Gauge(g) if g.data_points.len() == 1));
        let Data::Histogram(h) = by_name("http.server.request.duration") else {
            panic!("not a histogram")
        };
        let point = &h.data_points[0];
        assert_eq!(point.count, 4);
        assert_eq!(point.explicit_bounds, vec![0.1, 1.0]);
        assert_eq!(point.bucket_counts, vec![1, 2, 1]);
        assert_eq!(point.attributes[0].key, "http.request.method");
    }

    #[test]
    fn delta_temporality_is_what_the_request_says() {
        let collected = collected(Temporality::Delta);
        let request = to_request(collected.last().expect("one collection")).expect("points");
        let histogram = request.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .find_map(|m| match &m.data {
                Some(Data::Histogram(h)) => Some(h.aggregation_temporality),
                _ => None,
            });
        assert_eq!(histogram, Some(AggregationTemporality::Delta as i32));
    }

    #[test]
    fn an_empty_collection_is_not_sent() {
        let empty = ResourceMetrics::default();
        assert!(to_request(&empty).is_none());
    }
}
