//! What OTLP spans bring to the delivery engine: an encoder (a batch of spans to an
//! `ExportTraceServiceRequest` in protobuf, grouped by resource and scope); the transport is
//! `otlp_transport`'s (an OTLP/HTTP POST, or an OTLP/gRPC call with feature `grpc`).

use crate::export::engine::signal::{Encode, Encoded};
use crate::export::figures::DropReason;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use std::sync::{Arc, Mutex};

/// Encodes spans with the provider's resource (set by the processor's `set_resource`).
pub(crate) struct SpanEncoder {
    pub(crate) resource: Arc<Mutex<ResourceAttributesWithSchema>>,
}

impl Encode for SpanEncoder {
    type Item = SpanData;
    type Meta = ();

    fn encode(&mut self, spans: Vec<SpanData>) -> Result<Encoded<()>, DropReason> {
        let items = spans.len();
        let request = {
            let resource = self.resource.lock().unwrap_or_else(|p| p.into_inner());
            ExportTraceServiceRequest {
                resource_spans: group_spans_by_resource_and_scope(spans, &resource),
            }
        };
        Ok(Encoded::protobuf(&request, items))
    }
}
