//! The `sdk-floor` setup: the least any layer must do to make the same two spans through the
//! SDK, with nothing of forkline's. A server span with the HTTP attributes (the path the one
//! allocated value, the others constants) active while the inner service is called and each
//! time its future is polled, ended with the status code; a child span for the handler, active
//! while its body is polled. No propagation, no Sentry, no metrics, no route or host lookup, no
//! panic guard. What forkline costs beyond this is forkline's own.

use forkline::opentelemetry::trace::{SpanBuilder, SpanKind, TraceContextExt as _, Tracer as _};
use forkline::opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

static TRACER: OnceLock<SdkTracer> = OnceLock::new();

pub fn install(tracer: SdkTracer) {
    assert!(TRACER.set(tracer).is_ok(), "one tracer");
}

fn tracer() -> &'static SdkTracer {
    TRACER.get().expect("installed")
}

#[derive(Clone)]
pub struct Layer;

impl<S> tower_layer::Layer<S> for Layer {
    type Service = Service<S>;
    fn layer(&self, inner: S) -> Service<S> {
        Service { inner }
    }
}

#[derive(Clone)]
pub struct Service<S> {
    inner: S,
}

impl<S, B, RB> tower_service::Service<axum::http::Request<B>> for Service<S>
where
    S: tower_service::Service<axum::http::Request<B>, Response = axum::http::Response<RB>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Active<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let attributes = vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.path", request.uri().path().to_string()),
            KeyValue::new("url.scheme", "http"),
            KeyValue::new("network.protocol.version", "1.1"),
            KeyValue::new("http.route", "/orders/{id}"),
            KeyValue::new("server.address", "127.0.0.1"),
        ];
        let builder = SpanBuilder {
            name: "GET /orders/{id}".into(),
            span_kind: Some(SpanKind::Server),
            start_time: Some(SystemTime::now()),
            attributes: Some(attributes),
            ..SpanBuilder::default()
        };
        let parent = Context::new();
        let cx = parent.with_span(tracer().build_with_context(builder, &parent));
        let inner = {
            let _active = cx.clone().attach();
            self.inner.call(request)
        };
        Active {
            inner,
            cx,
            server: true,
        }
    }
}

/// `inner` with `cx` active whenever it is polled; the span ends when `inner` is ready.
pub struct Active<F> {
    inner: F,
    cx: Context,
    /// A server span also gets the response's status code.
    server: bool,
}

impl<F, T> Future for Active<F>
where
    F: Future<Output = T>,
    T: Status,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<T> {
        // SAFETY: `inner` is structurally pinned (never moved out); the other fields are not.
        let this = unsafe { self.get_unchecked_mut() };
        let _active = this.cx.clone().attach();
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let Poll::Ready(out) = inner.poll(task) else {
            return Poll::Pending;
        };
        let span = this.cx.span();
        if this.server {
            if let Some(status) = out.status() {
                span.set_attribute(KeyValue::new("http.response.status_code", status));
            }
        }
        span.end_with_timestamp(SystemTime::now());
        Poll::Ready(out)
    }
}

/// The status code of what a future returns, if it is a response.
pub trait Status {
    fn status(&self) -> Option<i64>;
}

impl<RB, E> Status for Result<axum::http::Response<RB>, E> {
    fn status(&self) -> Option<i64> {
        self.as_ref().ok().map(|r| i64::from(r.status().as_u16()))
    }
}

impl Status for String {
    fn status(&self) -> Option<i64> {
        None
    }
}

/// The handler's body in a child span of the current context.
pub fn handler<F: Future<Output = String>>(id: u64, body: F) -> Active<F> {
    let parent = Context::current();
    let builder = SpanBuilder {
        name: "floor_order".into(),
        span_kind: Some(SpanKind::Internal),
        attributes: Some(vec![KeyValue::new("id", id as i64)]),
        ..SpanBuilder::default()
    };
    let cx = parent.with_span(tracer().build_with_context(builder, &parent));
    Active {
        inner: body,
        cx,
        server: false,
    }
}
