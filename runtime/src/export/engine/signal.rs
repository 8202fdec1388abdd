//! What a signal brings to the engine: an encoder (items to a request body) and a transport
//! (one attempt to send a body, classified). Everything else — batching, retries, breaker,
//! buffer, accounting — is the engine's.

use crate::export::figures::DropReason;
use crate::export::outcome::Outcome;

/// An encoded batch, as kept in the ride-through buffer and attempted.
#[derive(Debug, Clone)]
pub(crate) struct Encoded<M> {
    pub(crate) body: bytes::Bytes,
    /// How many items it carries (what accounting counts).
    pub(crate) items: usize,
    /// What the encoder keeps beside the body (Sentry: the envelope, to re-check rate limits).
    pub(crate) meta: M,
}

impl Encoded<()> {
    /// An OTLP request (spans, metrics, logs) as its protobuf body, carrying `items`.
    pub(crate) fn protobuf(request: &impl prost::Message, items: usize) -> Self {
        Self {
            body: bytes::Bytes::from(request.encode_to_vec()),
            items,
            meta: (),
        }
    }
}

/// One attempt's result: its classification, and the response's headers if there was one.
#[derive(Debug)]
pub(crate) struct Attempted {
    pub(crate) outcome: Outcome,
    pub(crate) headers: Option<reqwest::header::HeaderMap>,
}

impl From<Outcome> for Attempted {
    fn from(outcome: Outcome) -> Self {
        Self {
            outcome,
            headers: None,
        }
    }
}

/// Turns a batch of items into a request body.
pub(crate) trait Encode: Send + 'static {
    type Item: Send + 'static;
    type Meta: Send + 'static;

    /// Encodes a batch; an error drops its items, counted with that reason.
    fn encode(&mut self, items: Vec<Self::Item>) -> Result<Encoded<Self::Meta>, DropReason>;

    /// What an answer's headers say about data to come (Sentry's rate limits).
    fn learn(&mut self, _headers: &reqwest::header::HeaderMap) {}

    /// Before a retry: whether the backend still wants this batch (if not: `rate_limited`).
    fn still_wanted(&self, _batch: &Encoded<Self::Meta>) -> bool {
        true
    }
}

/// Sends one body to the backend, bounded in time, and classifies the answer.
pub(crate) trait Transport: Send + 'static {
    #[allow(async_fn_in_trait)]
    async fn attempt(&mut self, body: bytes::Bytes) -> Attempted;
}
