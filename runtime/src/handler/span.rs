//! The span of one handler call: started through the global provider (so it flows to the OTLP
//! exporter and, through the Sentry span processor, to Sentry), active for the whole body, and
//! ended when the call returns, panics or is cancelled.

use crate::handler::attributes::AttributeKey;
use crate::handler::unwind::{panic_message, Instrumented};
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Bumped whenever forkline installs a tracer provider, so cached tracers are rebuilt.
static PROVIDER_EPOCH: AtomicU64 = AtomicU64::new(1);

pub(crate) fn provider_changed() {
    PROVIDER_EPOCH.fetch_add(1, Ordering::Release);
}

/// The tracer of handler spans, cached: `global::tracer` takes a lock and allocates on every
/// call, a visible share of a span's cost.
fn with_tracer<R>(f: impl FnOnce(&BoxedTracer) -> R) -> R {
    static CACHE: RwLock<Option<(u64, BoxedTracer)>> = RwLock::new(None);
    let epoch = PROVIDER_EPOCH.load(Ordering::Acquire);
    if let Ok(cache) = CACHE.read() {
        if let Some((_, tracer)) = cache.as_ref().filter(|(at, _)| *at == epoch) {
            return f(tracer);
        }
    }
    let tracer = global::tracer("forkline");
    let result = f(&tracer);
    if let Ok(mut cache) = CACHE.write() {
        *cache = Some((epoch, tracer));
    }
    result
}

/// A handler call's span. Ends when dropped.
#[derive(Debug)]
pub struct HandlerSpan {
    cx: Context,
}

impl HandlerSpan {
    /// Starts a span as a child of the current context. `attributes` runs only when the span is
    /// recorded: an unsampled call pays for no attribute.
    pub fn start(
        name: &'static str,
        kind: SpanKind,
        attributes: impl FnOnce(&mut Vec<KeyValue>),
    ) -> Self {
        let parent = Context::current();
        let span = with_tracer(|tracer| {
            tracer
                .span_builder(name)
                .with_kind(kind)
                .start_with_context(tracer, &parent)
        });
        let cx = parent.with_span(span);
        let span = cx.span();
        if span.is_recording() {
            let mut out = Vec::new();
            attributes(&mut out);
            span.set_attributes(out);
        }
        Self { cx }
    }

    /// The span's context: what nested spans, spawned tasks and outgoing calls carry.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Runs a synchronous body with the span active; a panic is recorded on the span and
    /// resumed (Sentry's panic handler, when installed, has captured it inside the span).
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        let _active = self.cx.clone().attach();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
            Ok(value) => value,
            Err(payload) => {
                record_panic(&self.cx, &*payload);
                std::panic::resume_unwind(payload)
            }
        }
    }

    /// The future of an async body, with the span active whenever it runs.
    pub fn instrument<F: Future>(&self, body: F) -> Instrumented<F> {
        Instrumented::new(body, self.cx.clone())
    }

    /// Records an error value: status Error, an `exception` event.
    pub fn record_error(&self, type_name: &str, message: String) {
        let span = self.cx.span();
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
        self.cx.span().end();
    }
}

pub(crate) fn record_panic(cx: &Context, payload: &(dyn std::any::Any + Send)) {
    let message = panic_message(payload);
    let span = cx.span();
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "panic"),
            KeyValue::new(
                "exception.message",
                crate::handler::attributes::bounded(&message),
            ),
        ],
    );
    span.set_status(Status::error(format!("panicked: {message}")));
}

/// Records one handler argument or field value.
pub fn record<T: crate::handler::attributes::SpanAttributes + ?Sized>(
    value: &T,
    key: &'static str,
    out: &mut Vec<KeyValue>,
) {
    value.record(AttributeKey::Argument(key), out);
}
