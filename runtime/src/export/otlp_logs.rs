//! What OTLP logs bring to the delivery engine: an encoder (log records with their
//! instrumentation scopes to one `ExportLogsServiceRequest` in protobuf); the transport is
//! `otlp_transport`'s (OTLP/HTTP, or OTLP/gRPC with feature `grpc`).
//!
//! The conversion is opentelemetry-proto's own (`group_logs_by_resource_and_scope`, feature
//! `logs`): it is what opentelemetry-otlp sends (records grouped by scope, the scope named by
//! the record's target when it has one, trace and span ids, severity, body and attributes), so
//! forkline does not keep a second copy. It runs on the delivery thread, never on the request
//! path.

use crate::export::engine::signal::{Encode, Encoded};
use crate::export::figures::DropReason;
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::logs::{LogBatch, SdkLogRecord};
use std::sync::{Arc, Mutex};

/// One record as the processor hands it over: owned, with the scope of its logger. Not boxed:
/// the channel's slots hold it, so that handing a record over allocates nothing.
pub(crate) type Record = (SdkLogRecord, InstrumentationScope);

/// `records` as one OTLP request with `resource`.
pub(crate) fn to_request(
    records: &[Record],
    resource: &ResourceAttributesWithSchema,
) -> ExportLogsServiceRequest {
    let borrowed: Vec<(&SdkLogRecord, &InstrumentationScope)> =
        records.iter().map(|r| (&r.0, &r.1)).collect();
    ExportLogsServiceRequest {
        resource_logs: group_logs_by_resource_and_scope(&LogBatch::new(&borrowed), resource),
    }
}

/// The log records a request carries.
#[cfg(test)]
pub(crate) fn record_count(request: &ExportLogsServiceRequest) -> usize {
    request
        .resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum()
}

/// Encodes records with the provider's resource (set by the processor's `set_resource`).
pub(crate) struct LogEncoder {
    pub(crate) resource: Arc<Mutex<ResourceAttributesWithSchema>>,
}

impl Encode for LogEncoder {
    type Item = Record;
    type Meta = ();

    fn encode(&mut self, mut records: Vec<Record>) -> Result<Encoded<()>, DropReason> {
        let items = records.len();
        // The tracing bridge sets only the observed time; a backend that files records by their
        // time (otelite) then shows them at 0, outside every time window. Filled in here, on
        // the export thread, not on the request path.
        // And the other way round: opentelemetry-proto's conversion unwraps the observed time,
        // which the SDK's logger always sets; a record without one must not panic this thread.
        for (record, _) in &mut records {
            use opentelemetry::logs::LogRecord as _;
            match (record.timestamp(), record.observed_timestamp()) {
                (None, Some(observed)) => record.set_timestamp(observed),
                (time, None) => {
                    record.set_observed_timestamp(time.unwrap_or_else(std::time::SystemTime::now))
                }
                (Some(_), Some(_)) => {}
            }
        }
        let request = {
            let resource = self.resource.lock().unwrap_or_else(|p| p.into_inner());
            to_request(&records, &resource)
        };
        Ok(Encoded::protobuf(&request, items))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use opentelemetry::logs::{
        AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity,
    };
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};
    use opentelemetry_sdk::Resource;
    use prost::Message;

    pub(crate) const TRACE: u128 = 0x0af7651916cd43dd8448eb211c80319c;
    pub(crate) const SPAN: u64 = 0xb7ad6b7169203331;

    /// Two records as the SDK hands them to a processor: one emitted inside an active span
    /// (the SDK fills in its trace context), one outside, from two targets.
    pub(crate) fn emitted() -> Vec<Record> {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let logger = provider.logger("forkline-test");
        let span = SpanContext::new(
            TraceId::from(TRACE),
            SpanId::from(SPAN),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        {
            use opentelemetry::trace::TraceContextExt as _;
            let _active = opentelemetry::Context::current()
                .with_remote_span_context(span)
                .attach();
            let mut record = logger.create_log_record();
            record.set_target("checkout::orders");
            record.set_severity_number(Severity::Info);
            record.set_severity_text("INFO");
            record.set_body(AnyValue::from("order placed"));
            record.add_attribute("order.id", 42_i64);
            logger.emit(record);
        }
        let mut record = logger.create_log_record();
        record.set_target("checkout::db");
        record.set_severity_number(Severity::Warn);
        record.set_body(AnyValue::from("slow query"));
        logger.emit(record);
        exporter
            .get_emitted_logs()
            .expect("logs")
            .into_iter()
            .map(|l| (l.record, l.instrumentation))
            .collect()
    }

    fn resource() -> ResourceAttributesWithSchema {
        (&Resource::builder_empty()
            .with_attributes([KeyValue::new("process.pid", 4242_i64)])
            .build())
            .into()
    }

    #[test]
    fn records_encode_to_otlp_protobuf_with_resource_trace_ids_and_targets_as_scopes() {
        let mut encoder = LogEncoder {
            resource: Arc::new(Mutex::new(resource())),
        };
        let encoded = encoder.encode(emitted()).expect("encoded");
        assert_eq!(encoded.items, 2, "items are records");
        let back = ExportLogsServiceRequest::decode(encoded.body.as_ref()).expect("protobuf");
        assert_eq!(record_count(&back), 2);
        let rl = &back.resource_logs[0];
        let pid = rl
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "process.pid"))
            .and_then(|kv| kv.value.as_ref()?.value.clone());
        assert_eq!(pid, Some(Value::IntValue(4242)));
        let scope_of = |name: &str| {
            rl.scope_logs
                .iter()
                .find(|sl| sl.scope.as_ref().is_some_and(|s| s.name == name))
                .unwrap_or_else(|| panic!("no scope {name} in {rl:?}"))
        };
        let placed = &scope_of("checkout::orders").log_records[0];
        assert_eq!(placed.trace_id, TRACE.to_be_bytes().to_vec());
        assert_eq!(placed.span_id, SPAN.to_be_bytes().to_vec());
        assert_eq!(placed.severity_number, Severity::Info as i32);
        assert_eq!(placed.severity_text, "INFO");
        assert_eq!(
            placed.body.as_ref().and_then(|b| b.value.clone()),
            Some(Value::StringValue("order placed".into()))
        );
        assert_eq!(placed.attributes[0].key, "order.id");
        let slow = &scope_of("checkout::db").log_records[0];
        assert!(slow.trace_id.is_empty(), "no span was active: {slow:?}");
        assert_eq!(slow.severity_number, Severity::Warn as i32);
    }

    #[test]
    fn a_record_without_an_observed_time_gets_its_time_instead_of_panicking_the_encoder() {
        let mut encoder = LogEncoder {
            resource: Arc::new(Mutex::new(resource())),
        };
        let provider = SdkLoggerProvider::builder().build();
        let logger = provider.logger("forkline-test");
        // Made, not emitted: the SDK's logger sets the observed time only in `emit`.
        let mut timed = logger.create_log_record();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        timed.set_timestamp(at);
        let untimed = logger.create_log_record();
        let scope = InstrumentationScope::builder("forkline-test").build();
        let encoded = encoder
            .encode(vec![(timed, scope.clone()), (untimed, scope)])
            .expect("encoded");
        let request = ExportLogsServiceRequest::decode(encoded.body).expect("protobuf");
        let records: Vec<_> = request.resource_logs[0]
            .scope_logs
            .iter()
            .flat_map(|sl| &sl.log_records)
            .collect();
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[0].observed_time_unix_nano,
            1_700_000_000_000_000_000
        );
        assert!(records[1].observed_time_unix_nano > 1_700_000_000_000_000_000);
    }

    #[test]
    fn an_empty_batch_is_an_empty_request_body() {
        let mut encoder = LogEncoder {
            resource: Arc::new(Mutex::new(resource())),
        };
        let encoded = encoder.encode(Vec::new()).expect("encoded");
        assert_eq!(encoded.items, 0);
        let back = ExportLogsServiceRequest::decode(encoded.body.as_ref()).expect("protobuf");
        assert_eq!(record_count(&back), 0);
    }
}
