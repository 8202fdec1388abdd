//! The span of one handler call: started through the global provider (so it flows to the OTLP
//! exporter and, through the Sentry span processor, to Sentry), active for the whole body, and
//! ended when the call returns, panics or is cancelled. The code `#[forkline::handler]` generates
//! makes one per call (through `__private`); the tracer comes from `telemetry::tracer_cache`,
//! shared with the HTTP layer's server spans.

use crate::handler::attributes::AttributeKey;
use crate::handler::unwind::{recording_panics, Instrumented};
use crate::telemetry::tracer_cache::{parent_decides, start_span};
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::future::Future;

/// A handler call's span. Ends when dropped.
#[derive(Debug)]
pub struct HandlerSpan {
    /// `None` when no span was made (an unsampled parent decides for it).
    cx: Option<Context>,
}

impl HandlerSpan {
    /// Starts a span as a child of the current context, with `attributes`.
    /// `capacity` is how many attributes to expect (more are fine).
    #[inline]
    pub fn start(
        name: &'static str,
        kind: SpanKind,
        capacity: usize,
        attributes: impl FnOnce(&mut Vec<KeyValue>),
    ) -> Self {
        Self::start_as(name, Some(kind), capacity, attributes)
    }

    /// [`HandlerSpan::start`] for a handler with no `kind = ...`: see `default_kind`.
    #[inline]
    pub fn start_default_kind(
        name: &'static str,
        capacity: usize,
        attributes: impl FnOnce(&mut Vec<KeyValue>),
    ) -> Self {
        Self::start_as(name, None, capacity, attributes)
    }

    #[inline]
    fn start_as(
        name: &'static str,
        kind: Option<SpanKind>,
        capacity: usize,
        attributes: impl FnOnce(&mut Vec<KeyValue>),
    ) -> Self {
        // One look at the current context: skip an unsampled parent, else take it as parent
        // (and, with no explicit kind, read the default off it).
        let parent_decides = parent_decides();
        let Some((parent, kind)) = Context::map_current(|cx| {
            (!(parent_decides && is_unsampled(cx)))
                .then(|| (cx.clone(), kind.unwrap_or_else(|| default_kind(cx))))
        }) else {
            return Self { cx: None };
        };
        let mut out = Vec::with_capacity(capacity);
        attributes(&mut out);
        let builder = SpanBuilder {
            name: name.into(),
            span_kind: Some(kind),
            attributes: Some(out),
            ..SpanBuilder::default()
        };
        Self {
            cx: Some(start_span(builder, &parent)),
        }
    }

    /// The span's context: what nested spans, spawned tasks and outgoing calls carry (the
    /// current one when no span was made).
    pub fn context(&self) -> Context {
        match &self.cx {
            Some(cx) => cx.clone(),
            None => Context::current(),
        }
    }

    /// Runs a synchronous body with the span active; a panic is recorded on the span and
    /// resumed (Sentry's panic handler, when installed, has captured it inside the span).
    #[inline]
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let Some(cx) = &self.cx else {
            return body();
        };
        let _active = cx.clone().attach();
        recording_panics(cx, body)
    }

    /// The future of an async body, with the span active whenever it runs.
    pub fn instrument<F: Future>(&self, body: F) -> Instrumented<F> {
        Instrumented::new(body, self.cx.clone())
    }

    /// Records an error value: status Error, an `exception` event.
    pub fn record_error(&self, type_name: &str, message: String) {
        let Some(cx) = &self.cx else {
            return;
        };
        let span = cx.span();
        span.add_event(
            "exception",
            vec![
                KeyValue::new("exception.type", type_name.to_string()),
                KeyValue::new(
                    "exception.message",
                    crate::handler::attributes::bounded(&message),
                ),
            ],
        );
        span.set_status(Status::error(message));
    }
}

impl Drop for HandlerSpan {
    fn drop(&mut self) {
        if let Some(cx) = &self.cx {
            cx.span().end();
        }
    }
}

/// The kind of a handler's span when `kind = ...` is not given: `Server` at the head of the
/// trace in this process (no span, or only a parent extracted from another process's headers),
/// `Internal` under a span of this process — `TelemetryLayer`'s server span of the request, or an
/// outer handler's — so a request has one SERVER span. OTel's SERVER kind is "the server side of a
/// remote call", which is exactly a parent that is remote or absent. One look at the parent's span
/// context: no lock, no allocation.
#[inline]
pub fn default_kind(cx: &Context) -> SpanKind {
    if !cx.has_active_span() {
        return SpanKind::Server;
    }
    let span = cx.span();
    let parent = span.span_context();
    if parent.is_valid() && !parent.is_remote() {
        SpanKind::Internal
    } else {
        SpanKind::Server
    }
}

/// Whether `cx` holds a valid span context that is not sampled.
fn is_unsampled(cx: &Context) -> bool {
    let span = cx.span();
    let parent = span.span_context();
    parent.is_valid() && !parent.is_sampled()
}

/// Records one handler argument or field value.
#[inline]
pub fn record<T: crate::handler::attributes::SpanAttributes + ?Sized>(
    value: &T,
    key: &'static str,
    out: &mut Vec<KeyValue>,
) {
    value.record(AttributeKey::Argument(key), out);
}
