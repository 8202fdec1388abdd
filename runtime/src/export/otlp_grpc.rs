//! OTLP/gRPC attempts for the guarded OTLP pipelines (feature `grpc`): spans, metrics and logs.
//! The engine around them is the same as for OTLP/HTTP — queue, batches, ride-through buffer,
//! breaker, one deadline — only an attempt differs: a unary `<Signal>Service/Export` call whose
//! `tonic::Code` is classified with the OTLP specification's retry table. One sender serves the
//! three services: only the generated client, and the request type the engine's protobuf body
//! is decoded to, differ.
//!
//! Why tonic's channel is built lazily on the export thread: a channel owns tasks of the runtime
//! it was made on, and a runtime made in the master does not survive fork. Nothing here runs
//! before the first batch.

use crate::config::endpoint::grpc_metadata;
use crate::config::otlp_signal::OtlpSignal;
use crate::config::GuardConfig;
use crate::export::outcome::{Answer, FailureKind, Outcome};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

/// The generated client of the signal's OTLP service.
enum Client {
    Traces(TraceServiceClient<Channel>),
    Metrics(MetricsServiceClient<Channel>),
    Logs(LogsServiceClient<Channel>),
}

/// A gRPC client for one collector and one signal, connected on first use.
pub(crate) struct GrpcSender {
    signal: OtlpSignal,
    endpoint: Endpoint,
    metadata: MetadataMap,
    client: Option<Client>,
}

/// The body, which the pipeline encoded, as the service's request with the sender's metadata.
fn request<R: Message + Default>(
    body: &[u8],
    metadata: &MetadataMap,
) -> Result<tonic::Request<R>, prost::DecodeError> {
    let mut request = tonic::Request::new(R::decode(body)?);
    *request.metadata_mut() = metadata.clone();
    Ok(request)
}

impl GrpcSender {
    /// Checks the endpoint and headers; opens nothing.
    pub(crate) fn new(
        signal: OtlpSignal,
        url: &str,
        headers: &[(String, String)],
        policy: &GuardConfig,
    ) -> std::io::Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|_| std::io::Error::other("the OTLP gRPC endpoint is not a valid URI"))?
            .connect_timeout(policy.connect_timeout);
        Ok(Self {
            signal,
            endpoint,
            metadata: grpc_metadata(headers).map_err(std::io::Error::other)?,
            client: None,
        })
    }

    /// One export call within the policy's attempt timeout. Runs on the export thread's runtime.
    pub(crate) async fn send(&mut self, body: &[u8], policy: &GuardConfig) -> Outcome {
        let (signal, endpoint, metadata) = (self.signal, &self.endpoint, &self.metadata);
        let client = self.client.get_or_insert_with(|| {
            let channel = endpoint.connect_lazy();
            match signal {
                OtlpSignal::Traces => Client::Traces(TraceServiceClient::new(channel)),
                OtlpSignal::Metrics => Client::Metrics(MetricsServiceClient::new(channel)),
                OtlpSignal::Logs => Client::Logs(LogsServiceClient::new(channel)),
            }
        });
        let call = async {
            match client {
                Client::Traces(c) => {
                    let r = request::<ExportTraceServiceRequest>(body, metadata)?;
                    Ok(c.export(r).await.map(drop))
                }
                Client::Metrics(c) => {
                    let r = request::<ExportMetricsServiceRequest>(body, metadata)?;
                    Ok(c.export(r).await.map(drop))
                }
                Client::Logs(c) => {
                    let r = request::<ExportLogsServiceRequest>(body, metadata)?;
                    Ok::<_, prost::DecodeError>(c.export(r).await.map(drop))
                }
            }
        };
        match tokio::time::timeout(policy.attempt_timeout, call).await {
            Err(_) => Outcome::Retryable {
                reason: FailureKind::Timeout,
                after: None,
            },
            // The pipeline encoded it; this cannot happen, and retrying would not help.
            Ok(Err(_undecodable)) => Outcome::Rejected {
                status: Answer::Grpc(Code::InvalidArgument),
            },
            Ok(Ok(Ok(()))) => Outcome::Delivered,
            Ok(Ok(Err(status))) => classify(&status),
        }
    }
}

fn classify(status: &tonic::Status) -> Outcome {
    // A connection that could not be made or broke surfaces as UNAVAILABLE carrying the
    // transport's error; count it as a network failure, like the HTTP path does.
    let transport = std::error::Error::source(status)
        .is_some_and(|e| e.downcast_ref::<tonic::transport::Error>().is_some());
    if transport {
        return Outcome::Retryable {
            reason: FailureKind::Network,
            after: None,
        };
    }
    from_code(status.code())
}

/// Classifies a gRPC status code as the OTLP specification does: CANCELLED, DEADLINE_EXCEEDED,
/// ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retried; RESOURCE_EXHAUSTED is
/// throttling (retried with backoff: the guard does not read `RetryInfo`, and its breaker stops
/// a collector that never recovers); every other code refuses the data.
fn from_code(code: Code) -> Outcome {
    match code {
        Code::Ok => Outcome::Delivered,
        Code::ResourceExhausted => Outcome::Retryable {
            reason: FailureKind::Throttled,
            after: None,
        },
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Outcome::Retryable {
            reason: FailureKind::Status(Answer::Grpc(code)),
            after: None,
        },
        _ => Outcome::Rejected {
            status: Answer::Grpc(code),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_follow_the_otlp_retry_table() {
        assert_eq!(from_code(Code::Ok), Outcome::Delivered);
        for retryable in [1, 4, 10, 11, 14, 15] {
            assert!(
                matches!(
                    from_code(Code::from_i32(retryable)),
                    Outcome::Retryable { .. }
                ),
                "{retryable}"
            );
        }
        assert!(matches!(
            from_code(Code::ResourceExhausted),
            Outcome::Retryable {
                reason: FailureKind::Throttled,
                ..
            }
        ));
        for refused in [2, 3, 5, 6, 7, 9, 12, 13, 16, 99] {
            assert!(
                matches!(from_code(Code::from_i32(refused)), Outcome::Rejected { .. }),
                "{refused}"
            );
        }
        assert_eq!(
            Answer::Grpc(Code::Unavailable).to_string(),
            "gRPC UNAVAILABLE"
        );
        assert_eq!(
            Answer::Grpc(Code::DeadlineExceeded).to_string(),
            "gRPC DEADLINE_EXCEEDED"
        );
        assert_eq!(Answer::Http(503).to_string(), "HTTP 503");
    }
}
