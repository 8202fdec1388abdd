//! What Sentry envelopes bring to the delivery engine: an encoder that lets an envelope through
//! Sentry's rate limits (item by item, as the server's `x-sentry-rate-limits` ask) and
//! serializes it, and a transport that posts it to the DSN's envelope endpoint.

use crate::config::GuardConfig;
use crate::export::attempt;
use crate::export::engine::signal::{Attempted, Encode, Encoded, Transport};
use crate::export::figures::{DropReason, ItemKind, KindCounts};
use sentry::transports::RateLimiter;
use sentry::Envelope;
use std::sync::Arc;

/// Filters envelopes through the rate limits the server announced, and serializes them.
pub(crate) struct EnvelopeEncoder {
    limiter: RateLimiter,
    /// The items the rate limits stopped, by kind.
    kinds: Arc<KindCounts>,
}

impl EnvelopeEncoder {
    pub(crate) fn new(kinds: Arc<KindCounts>) -> Self {
        Self {
            limiter: RateLimiter::new(),
            kinds,
        }
    }

    /// What of `envelope` the rate limits let through.
    fn allowed(&self, envelope: Envelope) -> Option<Envelope> {
        // Deprecated in sentry 0.49 "with no public equivalent"; it is still Sentry's own
        // item-by-item filtering, which is what the server's rate limits ask for.
        #[allow(deprecated)]
        self.limiter.filter_envelope(envelope)
    }

    /// [`Self::allowed`], counting by kind the items it stops.
    fn allowed_counted(&self, envelope: Envelope) -> Option<Envelope> {
        let before = tally(&envelope);
        let allowed = self.allowed(envelope);
        let after = allowed.as_ref().map(tally).unwrap_or_default();
        for (kind, n) in before {
            let kept = after
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |(_, n)| *n);
            self.kinds.rate_limited(kind, n.saturating_sub(kept));
        }
        allowed
    }
}

/// An envelope's items, counted by kind.
fn tally(envelope: &Envelope) -> Vec<(ItemKind, u64)> {
    let mut out: Vec<(ItemKind, u64)> = Vec::new();
    for item in envelope.items() {
        let (kind, n) = ItemKind::of(item);
        match out.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => out.push((kind, n)),
        }
    }
    out
}

impl Encode for EnvelopeEncoder {
    type Item = Envelope;
    /// The envelope, to check the rate limits again before a retry.
    type Meta = Envelope;

    /// Encodes one envelope (the pipeline's batches are of one).
    fn encode(&mut self, envelopes: Vec<Envelope>) -> Result<Encoded<Envelope>, DropReason> {
        let envelope = envelopes.into_iter().next().ok_or(DropReason::Rejected)?;
        let envelope = self
            .allowed_counted(envelope)
            .ok_or(DropReason::RateLimited)?;
        let mut body = Vec::new();
        envelope
            .to_writer(&mut body)
            .map_err(|_| DropReason::Rejected)?;
        Ok(Encoded {
            body: body.into(),
            items: 1,
            meta: envelope,
        })
    }

    /// Sentry's category limits stop sending that kind of data for a while. (A plain
    /// Retry-After is honoured by waiting before the retry: the one delivery thread holds the
    /// queue behind it.)
    fn learn(&mut self, headers: &reqwest::header::HeaderMap) {
        if let Some(limits) = headers
            .get("x-sentry-rate-limits")
            .and_then(|v| v.to_str().ok())
        {
            self.limiter.update_from_sentry_header(limits);
        }
    }

    /// A 429 with Sentry rate limits means "stop sending this", not "send it again".
    fn still_wanted(&self, batch: &Encoded<Envelope>) -> bool {
        // The body is re-sent whole or not at all: only a refusal of all of it drops items.
        let wanted = self.allowed(batch.meta.clone()).is_some();
        if !wanted {
            for (kind, n) in tally(&batch.meta) {
                self.kinds.rate_limited(kind, n);
            }
        }
        wanted
    }
}

/// Posts envelopes to one DSN's envelope endpoint.
pub(crate) struct EnvelopeTransport {
    pub(crate) client: reqwest::Client,
    pub(crate) url: String,
    /// Carries the DSN's public key: sent as a header, never logged.
    pub(crate) auth: String,
    pub(crate) policy: GuardConfig,
}

impl Transport for EnvelopeTransport {
    async fn attempt(&mut self, body: bytes::Bytes) -> Attempted {
        let request = self
            .client
            .post(&self.url)
            .header("X-Sentry-Auth", &self.auth)
            .header("Content-Type", "application/x-sentry-envelope")
            .body(body);
        attempt::send(request, &self.policy).await
    }
}
