//! A Sentry transport that keeps every envelope in memory, for the unit-level tests that check
//! what was captured (the e2e tests check a real Sentry-compatible server).

use std::sync::Mutex;

/// Keeps the envelopes it is given.
#[derive(Debug, Default)]
pub struct KeptEnvelopes(Mutex<Vec<sentry::Envelope>>);

impl sentry::Transport for KeptEnvelopes {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        if let Ok(mut kept) = self.0.lock() {
            kept.push(envelope);
        }
    }
}

/// Release-health sessions sent in request mode, summed over every aggregate kept.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionTotals {
    pub exited: u64,
    pub errored: u64,
    pub abnormal: u64,
    pub crashed: u64,
}

impl KeptEnvelopes {
    /// The sessions of every `sessions` (aggregate) item kept so far.
    pub fn session_totals(&self) -> SessionTotals {
        let kept = self.0.lock().map(|k| k.clone()).unwrap_or_default();
        let mut totals = SessionTotals::default();
        for envelope in &kept {
            for item in envelope.items() {
                if let sentry::protocol::EnvelopeItem::SessionAggregates(a) = item {
                    for g in &a.aggregates {
                        totals.exited += u64::from(g.exited);
                        totals.errored += u64::from(g.errored);
                        totals.abnormal += u64::from(g.abnormal);
                        totals.crashed += u64::from(g.crashed);
                    }
                }
            }
        }
        totals
    }

    /// The events whose message or exception value contains `needle`.
    pub fn events_mentioning(&self, needle: &str) -> Vec<sentry::protocol::Event<'static>> {
        let kept = self.0.lock().map(|k| k.clone()).unwrap_or_default();
        kept.iter()
            .filter_map(|e| e.event().cloned())
            .filter(|e| {
                e.message.as_deref().is_some_and(|m| m.contains(needle))
                    || e.exception
                        .values
                        .iter()
                        .any(|x| x.value.as_deref().is_some_and(|v| v.contains(needle)))
            })
            .collect()
    }
}

/// The trace and span ids an event was linked to (its `trace` context).
pub fn trace_context(event: &sentry::protocol::Event<'static>) -> (String, String) {
    match event.contexts.get("trace") {
        Some(sentry::protocol::Context::Trace(t)) => {
            (t.trace_id.to_string(), t.span_id.to_string())
        }
        other => panic!("no trace context on the Sentry event: {other:?}"),
    }
}
