//! What OTLP spans bring to the delivery engine: an encoder (a batch of spans to an
//! `ExportTraceServiceRequest` in protobuf, grouped by resource and scope) and a transport (an
//! OTLP/HTTP POST, or an OTLP/gRPC call with feature `grpc`).

use crate::config::GuardPolicy;
use crate::export::attempt;
use crate::export::engine::signal::{Attempted, Encode, Encoded, Transport};
use crate::export::figures::DropReason;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;
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
        Ok(Encoded {
            body: bytes::Bytes::from(request.encode_to_vec()),
            items,
            meta: (),
        })
    }
}

/// How an attempt reaches the collector.
pub(crate) enum SpanTransport {
    Http {
        client: reqwest::Client,
        url: String,
        policy: GuardPolicy,
    },
    #[cfg(feature = "grpc")]
    Grpc {
        sender: Box<crate::export::otlp_grpc::GrpcSender>,
        policy: GuardPolicy,
    },
}

impl Transport for SpanTransport {
    async fn attempt(&mut self, body: bytes::Bytes) -> Attempted {
        match self {
            Self::Http {
                client,
                url,
                policy,
            } => {
                let request = client
                    .post(url.as_str())
                    .header("Content-Type", "application/x-protobuf")
                    .body(body);
                attempt::send(request, policy).await
            }
            #[cfg(feature = "grpc")]
            Self::Grpc { sender, policy } => sender.send(&body, policy).await.into(),
        }
    }
}
