//! The global propagators a worker installs in `worker_init`.
//!
//! Sentry's own Rust propagator only hands an incoming `sentry-trace` to Sentry: the OTel span
//! the server then starts begins a new trace, so a caller that propagates with a Sentry SDK and a
//! forkline server do not share a trace in the OTLP backend. [`SentryTracePropagator`] also sets
//! the OTel remote parent from `sentry-trace` (unless a W3C `traceparent` already did), so both
//! backends see one trace with the caller's span as the parent.

use crate::config::PropagatorKind;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapCompositePropagator,
    TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use sentry::integrations::opentelemetry::SentryPropagator;

/// `sentry-trace` both ways: Sentry's propagator plus the OTel remote parent.
#[derive(Debug, Default)]
pub struct SentryTracePropagator {
    sentry: SentryPropagator,
}

impl SentryTracePropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Parses `TRACE_ID-SPAN_ID[-SAMPLED]`; anything else is ignored. A missing sampled flag means
/// "deferred" to Sentry; OTel has no such state, so the trace is continued as sampled.
fn parse_sentry_trace(header: &str) -> Option<SpanContext> {
    let mut parts = header.trim().split('-');
    let trace = parts.next().filter(|t| t.len() == 32)?;
    let span = parts.next().filter(|s| s.len() == 16)?;
    let sampled = match parts.next() {
        None => true,
        Some("1") => true,
        Some("0") => false,
        Some(_) => return None,
    };
    if parts.next().is_some() {
        return None;
    }
    let trace_id = TraceId::from_hex(trace)
        .ok()
        .filter(|t| *t != TraceId::INVALID)?;
    let span_id = SpanId::from_hex(span)
        .ok()
        .filter(|s| *s != SpanId::INVALID)?;
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        TraceState::default(),
    ))
}

impl TextMapPropagator for SentryTracePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.sentry.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let with_sentry = self.sentry.extract_with_context(cx, extractor);
        if cx.span().span_context().is_valid() {
            return with_sentry; // A W3C traceparent already set the parent; it wins.
        }
        match extractor.get("sentry-trace").and_then(parse_sentry_trace) {
            Some(parent) => with_sentry.with_remote_span_context(parent),
            None => with_sentry,
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        self.sentry.fields()
    }
}

/// W3C `baggage`, carrying Sentry's dynamic sampling context (DSC) as Sentry SDKs expect it:
/// an incoming DSC (`sentry-*` entries) is kept and forwarded as it is; at the head of a trace
/// (no incoming DSC) outgoing calls get one made from this process's Sentry client — trace id,
/// public key, release, environment, sample rate and the sampling decision — so that the services
/// called sample the trace in Sentry as this one did. Sentry's Rust propagator sends no DSC.
#[derive(Debug, Default)]
pub struct DscBaggagePropagator {
    baggage: BaggagePropagator,
}

impl DscBaggagePropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

/// This process's DSC for a trace it heads, or `None` without a Sentry client.
fn head_dsc(cx: &Context) -> Option<Vec<KeyValue>> {
    let client = sentry::Hub::current().client()?;
    let options = client.options();
    let dsn = options.dsn.as_ref()?;
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return None;
    }
    let mut dsc = vec![
        KeyValue::new("sentry-trace_id", sc.trace_id().to_string()),
        KeyValue::new("sentry-public_key", dsn.public_key().to_string()),
        KeyValue::new("sentry-sampled", sc.is_sampled().to_string()),
    ];
    if let sentry::TracesSamplingStrategy::FixedRate(rate) = &options.traces_sampling_strategy {
        dsc.push(KeyValue::new("sentry-sample_rate", rate.to_string()));
    }
    if let Some(release) = &options.release {
        dsc.push(KeyValue::new("sentry-release", release.to_string()));
    }
    if let Some(environment) = &options.environment {
        dsc.push(KeyValue::new("sentry-environment", environment.to_string()));
    }
    Some(dsc)
}

impl TextMapPropagator for DscBaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        // A caller's DSC is forwarded as it is; only the head of a trace makes one.
        let has_dsc = cx
            .baggage()
            .iter()
            .any(|(k, _)| k.as_str().starts_with("sentry-"));
        match (!has_dsc).then(|| head_dsc(cx)).flatten() {
            Some(dsc) => {
                let mut entries: Vec<KeyValue> = cx
                    .baggage()
                    .iter()
                    .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
                    .collect();
                entries.extend(dsc);
                self.baggage
                    .inject_context(&cx.with_baggage(entries), injector);
            }
            None => self.baggage.inject_context(cx, injector),
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.baggage.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.baggage.fields()
    }
}

/// Installs the global propagators, in the configured order.
pub fn install(kinds: &[PropagatorKind]) {
    opentelemetry::global::set_text_map_propagator(composite(kinds));
}

pub(crate) fn composite(kinds: &[PropagatorKind]) -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(
        kinds
            .iter()
            .map(|kind| -> Box<dyn TextMapPropagator + Send + Sync> {
                match kind {
                    PropagatorKind::TraceContext => Box::new(TraceContextPropagator::new()),
                    PropagatorKind::Baggage => Box::new(DscBaggagePropagator::new()),
                    PropagatorKind::Sentry => Box::new(SentryTracePropagator::new()),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn extract(headers: &[(&str, &str)]) -> Context {
        let map: HashMap<String, String> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        composite(&[
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
            PropagatorKind::Sentry,
        ])
        .extract(&map)
    }

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn sentry_trace_sets_the_otel_remote_parent() {
        let cx = extract(&[("sentry-trace", &format!("{TRACE}-00f067aa0ba902b7-1"))]);
        let sc = cx.span().span_context().clone();
        assert_eq!(sc.trace_id().to_string(), TRACE);
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_remote() && sc.is_sampled());
        let unsampled = extract(&[("sentry-trace", &format!("{TRACE}-00f067aa0ba902b7-0"))]);
        assert!(!unsampled.span().span_context().is_sampled());
    }

    #[test]
    fn traceparent_wins_over_sentry_trace() {
        let cx = extract(&[
            ("traceparent", &format!("00-{TRACE}-1111111111111111-01")),
            (
                "sentry-trace",
                "0af7651916cd43dd8448eb211c80319c-2222222222222222-1",
            ),
        ]);
        assert_eq!(
            cx.span().span_context().span_id().to_string(),
            "1111111111111111"
        );
    }

    #[test]
    fn malformed_or_hostile_headers_are_ignored() {
        let long = "f".repeat(100_000);
        for bad in [
            "",
            "-",
            "nothex0000000000000000000000000000-00f067aa0ba902b7-1",
            &format!("{TRACE}-00f067aa0ba902b7-2"),
            &format!("{TRACE}-00f067aa0ba902b7-1-extra"),
            &format!("{TRACE}-0000000000000000-1"),
            "00000000000000000000000000000000-00f067aa0ba902b7-1",
            &long,
            "\u{1F4A5}\u{1F4A5}\u{1F4A5}\u{1F4A5}\u{1F4A5}\u{1F4A5}\u{1F4A5}\u{1F4A5}-00f067aa0ba902b7",
        ] {
            let cx = extract(&[("sentry-trace", bad)]);
            assert!(!cx.span().span_context().is_valid(), "{bad:?} must be ignored");
        }
    }
}
