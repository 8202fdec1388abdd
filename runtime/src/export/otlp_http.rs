//! The transport of the OTLP/HTTP signals that have no other (metrics, logs): one POST of a
//! protobuf body to the signal's URL, bounded and classified by the guard (`attempt`). Spans
//! have their own (`otlp_spans`), which also speaks gRPC.

use crate::config::GuardPolicy;
use crate::export::attempt;
use crate::export::engine::signal::{Attempted, Transport};

/// An OTLP/HTTP POST of a protobuf body to `url`.
pub(crate) struct OtlpHttpTransport {
    /// Carries the policy's timeouts and the signal's headers.
    pub(crate) client: reqwest::Client,
    pub(crate) url: String,
    pub(crate) policy: GuardPolicy,
}

impl Transport for OtlpHttpTransport {
    async fn attempt(&mut self, body: bytes::Bytes) -> Attempted {
        let request = self
            .client
            .post(self.url.as_str())
            .header("Content-Type", "application/x-protobuf")
            .body(body);
        attempt::send(request, &self.policy).await
    }
}
