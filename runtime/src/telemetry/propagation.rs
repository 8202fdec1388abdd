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
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
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

/// W3C `traceparent` and `tracestate`, with the header's format checked first. The SDK's
/// propagator reads the ids with `from_str_radix`, which takes short ids (a 31-digit trace id
/// becomes a different, zero-padded trace), a `+` sign and a 1-digit flags field; a caller
/// sending such a header then gets a trace that is not its own. A malformed `traceparent` is
/// ignored, and `tracestate` with it, as the specification requires.
#[derive(Debug, Default)]
pub struct StrictTraceContextPropagator {
    w3c: TraceContextPropagator,
}

impl StrictTraceContextPropagator {
    /// A new propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The `traceparent` format (W3C Trace Context level 1): `version-traceid-parentid-flags` in
/// lowercase hex of 2, 32, 16 and 2 digits, version `ff` invalid; version `00` is exactly that,
/// a later version may go on after a `-`. (All-zero ids are refused by the SDK.)
fn well_formed_traceparent(value: &str) -> bool {
    let v = value.trim().as_bytes();
    let hex = |r: std::ops::Range<usize>| {
        v.get(r)
            .is_some_and(|s| s.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    };
    let dash = |i: usize| v.get(i) == Some(&b'-');
    let fields = hex(0..2) && dash(2) && hex(3..35) && dash(35) && hex(36..52) && dash(52);
    let version_00 = v.starts_with(b"00");
    fields && hex(53..55) && !v.starts_with(b"ff") && (v.len() == 55 || (!version_00 && dash(55)))
}

impl TextMapPropagator for StrictTraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.w3c.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get("traceparent") {
            Some(value) if well_formed_traceparent(value) => {
                self.w3c.extract_with_context(cx, extractor)
            }
            _ => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        self.w3c.fields()
    }
}

/// Parses `TRACE_ID-SPAN_ID[-SAMPLED]`, ids in lowercase hex as Sentry's SDKs match them
/// (`from_hex` alone would also take uppercase and a `+` sign); anything else is ignored. A
/// missing sampled flag means "deferred" to Sentry; OTel has no such state, so the trace is
/// continued as sampled.
fn parse_sentry_trace(header: &str) -> Option<SpanContext> {
    let lower_hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut parts = header.trim().split('-');
    let trace = parts.next().filter(|t| t.len() == 32 && lower_hex(t))?;
    let span = parts.next().filter(|s| s.len() == 16 && lower_hex(s))?;
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
                inject_baggage(cx.with_baggage(entries).baggage(), injector);
            }
            None => inject_baggage(cx.baggage(), injector),
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.baggage.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.baggage.fields()
    }
}

/// Writes `baggage` as the W3C `baggage` header. The SDK's propagator leaves `%` as it is, so
/// a value holding `%41` arrives as `A`; the specification requires `%` to be percent-encoded,
/// as everything outside its `baggage-octet` range.
fn inject_baggage(baggage: &opentelemetry::baggage::Baggage, injector: &mut dyn Injector) {
    if baggage.is_empty() {
        return;
    }
    let mut header = String::new();
    for (i, (name, (value, metadata))) in baggage.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        percent_encode_into(&mut header, name.as_str().trim(), BAGGAGE_ENCODED);
        header.push('=');
        percent_encode_into(&mut header, value.as_str().trim(), BAGGAGE_ENCODED);
        let metadata = metadata.as_str().trim();
        if !metadata.is_empty() {
            header.push(';');
            // Properties arrive decoded (`k=v;k2`): their separators stay, the rest is encoded,
            // or one stray byte would make the whole header invalid.
            percent_encode_into(&mut header, metadata, PROPERTIES_ENCODED);
        }
    }
    injector.set("baggage", header);
}

/// Every byte outside the W3C `baggage-octet` range (`%x21 / %x23-2B / %x2D-3A / %x3C-5B /
/// %x5D-7E`), `%` itself, and `=` (which receivers split a member on). Non-ASCII bytes are
/// always encoded.
const BAGGAGE_ENCODED: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%')
    .add(b'=');

/// As `BAGGAGE_ENCODED`, but a property list keeps its `;` and `=` separators.
const PROPERTIES_ENCODED: &AsciiSet = &BAGGAGE_ENCODED.remove(b';').remove(b'=');

fn percent_encode_into(out: &mut String, s: &str, set: &'static AsciiSet) {
    out.extend(utf8_percent_encode(s, set));
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
                    PropagatorKind::TraceContext => Box::new(StrictTraceContextPropagator::new()),
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
    fn a_traceparent_the_specification_rejects_is_ignored() {
        let span = "00f067aa0ba902b7";
        for bad in [
            format!("00-{}-{span}-01", &TRACE[1..]),
            format!("00-+{}-{span}-01", &TRACE[1..]),
            format!("00-{TRACE}-{span}-1"),
            format!("00-{TRACE}-{span}-01-"),
            format!("0-{TRACE}-{span}-01"),
        ] {
            let cx = extract(&[("traceparent", &bad), ("tracestate", "a=b")]);
            assert!(
                !cx.span().span_context().is_valid(),
                "{bad:?} must be ignored"
            );
        }
        let future = extract(&[("traceparent", &format!("01-{TRACE}-{span}-01-later"))]);
        assert_eq!(future.span().span_context().trace_id().to_string(), TRACE);
    }

    #[test]
    fn baggage_values_keep_their_percent_signs() {
        let cx = Context::new().with_baggage([KeyValue::new("k", "50%41=x, y;z")]);
        let mut out: HashMap<String, String> = HashMap::new();
        composite(&[PropagatorKind::Baggage]).inject_context(&cx, &mut out);
        let back = composite(&[PropagatorKind::Baggage]).extract(&out);
        assert_eq!(
            back.baggage().get("k").map(|v| v.as_str().to_string()),
            Some("50%41=x, y;z".to_string()),
            "{out:?}"
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
            &format!("{}-00f067aa0ba902b7-1", TRACE.to_uppercase()),
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
