//! A tower layer that makes the server span of every request, and records it in the HTTP server
//! metrics (`server_metrics`): the caller's context continued
//! (global propagators), the stable HTTP semantic conventions, 5xx and panics captured to Sentry
//! inside the span (a 5xx as an error event with the mechanism `forkline.http` and the stack
//! where the layer saw it, unless a `#[handler(err)]` inside the request already sent the
//! error that became the 5xx). Every Sentry event captured inside the request (a 5xx, a panic, a
//! `#[handler(err)]` error, the application's own) has the route template as its `transaction`
//! and the request (method, URL, headers; no credentials unless `send_default_pii`) as its
//! `request`. A handler that panics is answered with a 500 (the response body type's
//! `Default`, empty for axum), not a dropped connection.

use crate::handler::error_event::{self, Caught};
use crate::http::headers::extract;
use crate::http::host::host_of;
use crate::http::request_of_event;
use crate::http::route_names;
use crate::telemetry::http_server_metrics::{method_index, RequestMetrics, METHODS};
use crate::telemetry::request_scope;
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

const METHOD: Key = Key::from_static_str("http.request.method");
const PATH: Key = Key::from_static_str("url.path");
const SCHEME: Key = Key::from_static_str("url.scheme");
const PROTOCOL_VERSION: Key = Key::from_static_str("network.protocol.version");
const ROUTE: Key = Key::from_static_str("http.route");
const QUERY: Key = Key::from_static_str("url.query");
const SERVER_ADDRESS: Key = Key::from_static_str("server.address");
#[cfg(feature = "axum")]
const CLIENT_ADDRESS: Key = Key::from_static_str("client.address");
const SERVER_PORT: Key = Key::from_static_str("server.port");
const USER_AGENT: Key = Key::from_static_str("user_agent.original");
const STATUS_CODE: Key = Key::from_static_str("http.response.status_code");
const ERROR_TYPE: Key = Key::from_static_str("error.type");
/// The most attributes a server span starts with: one allocation of its list.
const ATTRIBUTES: usize = 10;

/// Wraps a service with [`TelemetryService`]: `Router::new()....layer(forkline::http::TelemetryLayer::new())`.
///
/// Available with the `tower` feature (included in `axum`); the route template (`http.route`,
/// the events' `transaction`) is read from axum's `MatchedPath` with the `axum` feature.
#[derive(Debug, Clone, Copy, Default)]
pub struct TelemetryLayer {
    _private: (),
}

impl TelemetryLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> tower_layer::Layer<S> for TelemetryLayer {
    type Service = TelemetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TelemetryService { inner }
    }
}

/// See [`TelemetryLayer`].
#[derive(Debug, Clone)]
pub struct TelemetryService<S> {
    inner: S,
}

impl<S, B, RB> tower_service::Service<http::Request<B>> for TelemetryService<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<RB>>,
    RB: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let parent = extract(request.headers());
        let method = method_index(request.method());
        // The template and the span name are kept per route: no allocation, no formatting.
        let (name, route) = match route_of(&request) {
            Some(template) => {
                let named = route_names::named(method, template);
                (named.name, Some(named.route))
            }
            None => (Cow::Borrowed(METHODS[method]), None),
        };
        let scheme = match request.uri().scheme_str() {
            Some("https") => "https",
            _ => "http",
        };
        let mut attributes = Vec::with_capacity(ATTRIBUTES);
        attributes.extend([
            KeyValue::new(METHOD, METHODS[method]),
            KeyValue::new(
                PATH,
                crate::handler::attributes::bounded(request.uri().path()),
            ),
            KeyValue::new(SCHEME, scheme),
            KeyValue::new(
                PROTOCOL_VERSION,
                match request.version() {
                    http::Version::HTTP_10 => "1.0",
                    http::Version::HTTP_2 => "2",
                    http::Version::HTTP_3 => "3",
                    _ => "1.1",
                },
            ),
        ]);
        if let Some(route) = &route {
            attributes.push(KeyValue::new(ROUTE, route.clone()));
        }
        if let Some(query) = request.uri().query() {
            let query = if request_scope::pii_allowed() {
                crate::handler::attributes::bounded(query)
            } else {
                crate::handler::attributes::bounded(&crate::http::query::scrubbed(query))
            };
            attributes.push(KeyValue::new(QUERY, query));
        }
        if let Some((host, port)) = host_of(&request) {
            attributes.push(KeyValue::new(SERVER_ADDRESS, host));
            if let Some(port) = port {
                attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
            }
        }
        // Who the client is, as `serve_axum` resolved it (through trusted proxies).
        #[cfg(feature = "axum")]
        if let Some(client) = crate::ClientAddress::of(&request) {
            attributes.push(KeyValue::new(CLIENT_ADDRESS, client.0.to_string()));
        }
        if let Some(agent) = request
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            attributes.push(KeyValue::new(
                USER_AGENT,
                crate::handler::attributes::bounded(agent),
            ));
        }
        // One clock read for the span's start and the request's duration.
        let started = SystemTime::now();
        let builder = SpanBuilder {
            name: name.clone(),
            span_kind: Some(SpanKind::Server),
            start_time: Some(started),
            attributes: Some(attributes),
            ..SpanBuilder::default()
        };
        let mut cx = crate::telemetry::tracer_cache::start_span(builder, &parent);
        // Under `serve_axum`, an aborted worker ends and exports it (the master's timeout).
        crate::server::worker::in_flight::keep_span(&cx);
        // Only when an event could be sent: the request's parts are kept (not converted) for
        // the Sentry events captured inside it, with the route as their transaction.
        let (sentry_on, hub) = request_session();
        if sentry_on {
            cx = cx.with_value(request_of_event::scope_of(&request, route.as_deref()));
        }
        let metrics = RequestMetrics::start(method, scheme, route, started);
        let inner = {
            let _active = cx.clone().attach();
            match &hub {
                Some(hub) => sentry::Hub::run(hub.clone(), || self.inner.call(request)),
                None => self.inner.call(request),
            }
        };
        ResponseFuture {
            inner,
            cx,
            name,
            done: false,
            hub,
            metrics,
        }
    }
}

/// Whether Sentry events would go anywhere, and, with Sentry's automatic session tracking in
/// request mode (what `worker_init` sets), the request's own hub with a session started on it
/// (release health). Events captured while the request runs (on that hub) mark it errored, a
/// panic crashed; it ends with the request and is aggregated by the client, which sends the
/// aggregates every minute and at the worker's flush. One look at the current hub: without a
/// client that is all a request pays for Sentry.
fn request_session() -> (bool, Option<Arc<sentry::Hub>>) {
    sentry::Hub::with_active(|current| {
        let Some(client) = current.client() else {
            return (false, None);
        };
        let options = client.options();
        let tracked =
            options.auto_session_tracking && options.session_mode == sentry::SessionMode::Request;
        let hub = tracked.then(|| {
            let hub = Arc::new(sentry::Hub::new_from_top(current.clone()));
            hub.start_session();
            hub
        });
        (client.is_enabled(), hub)
    })
}

/// The route template (axum's `MatchedPath`) when the router knows it: never the raw path,
/// whose ids would make every request a different span name.
fn route_of<B>(request: &http::Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(path) = request.extensions().get::<axum::extract::MatchedPath>() {
        return Some(path.as_str());
    }
    let _ = request;
    None
}

/// The response future: ends the span with the status, and reports 5xx, errors and panics.
pub struct ResponseFuture<F> {
    inner: F,
    cx: Context,
    name: Cow<'static, str>,
    done: bool,
    /// The request's Sentry hub and session (release health), when tracked.
    hub: Option<Arc<sentry::Hub>>,
    /// The request in the HTTP server metrics.
    metrics: RequestMetrics,
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
    RB: Default,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned (never moved out); the other fields are not.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(hub) = this.hub.clone() else {
            return this.poll_in_span(task);
        };
        // On the request's hub: its events update the request's session.
        let polled = sentry::Hub::run(hub.clone(), || this.poll_in_span(task));
        if polled.is_ready() {
            hub.end_session();
        }
        polled
    }
}

impl<F, RB, E> ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
    RB: Default,
{
    /// Polls `inner` with the span active. Only called from `poll`, on a pinned `self`.
    fn poll_in_span(&mut self, task: &mut TaskContext<'_>) -> Poll<Result<http::Response<RB>, E>> {
        let this = self;
        let _active = this.cx.clone().attach();
        // SAFETY: `self` is pinned (see `poll`), and `inner` is structurally pinned.
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        let polled =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(task))) {
                Ok(polled) => polled,
                Err(payload) => {
                    // Sentry's panic hook has already captured it, inside this span. The
                    // client gets a 500, as from any other framework, not a dropped connection.
                    crate::handler::unwind::record_panic(&this.cx, &*payload);
                    let span = this.cx.span();
                    span.set_attribute(KeyValue::new(ERROR_TYPE, "panic"));
                    span.set_attribute(KeyValue::new(STATUS_CODE, 500));
                    let ended = SystemTime::now();
                    span.end_with_timestamp(ended);
                    this.metrics.finish(ended, Some(500), Some("panic".into()));
                    this.done = true;
                    let mut response = http::Response::new(RB::default());
                    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    return Poll::Ready(Ok(response));
                }
            };
        let Poll::Ready(result) = polled else {
            return Poll::Pending;
        };
        // One clock read for the span's end and the request's duration.
        let ended = SystemTime::now();
        let span = this.cx.span();
        match &result {
            Ok(response) => {
                let status = response.status().as_u16();
                span.set_attribute(KeyValue::new(STATUS_CODE, i64::from(status)));
                this.metrics.finish(
                    ended,
                    Some(status),
                    (status >= 500).then(|| status.to_string()),
                );
                if status >= 500 {
                    span.set_attribute(KeyValue::new(ERROR_TYPE, status.to_string()));
                    span.set_status(Status::error(format!("HTTP {status}")));
                    // Inside the span: Sentry's OTel integration links the event to it. Not
                    // when the handler's `Err` was already sent as an error event: that event
                    // is this 5xx, with the error's own type, chain and stack.
                    if error_event::sentry_enabled() && !request_scope::error_reported() {
                        Caught {
                            exceptions: vec![sentry::protocol::Exception {
                                ty: "ServerError".into(),
                                value: Some(format!("HTTP {status} from {}", this.name)),
                                ..Default::default()
                            }],
                            own_stack: None,
                            mechanism: error_event::HTTP,
                            // The layer cannot know the application's crate: Sentry's
                            // in_app_include (set by forkline's worker_init) decides.
                            site: None,
                        }
                        .capture();
                    }
                }
            }
            Err(_) => {
                let error = std::any::type_name::<E>().to_string();
                this.metrics.finish(ended, None, Some(error.clone()));
                span.set_attribute(KeyValue::new(ERROR_TYPE, error));
                span.set_status(Status::error("the service failed"));
            }
        }
        span.end_with_timestamp(ended);
        this.done = true;
        Poll::Ready(result)
    }
}

impl<F> Drop for ResponseFuture<F> {
    fn drop(&mut self) {
        if let Some(hub) = &self.hub {
            // A session not ended yet (a cancelled request) ends as exited.
            hub.end_session();
        }
        if !self.done {
            // Cancelled (the client went away): the span ends now, marked as such.
            let span = self.cx.span();
            span.set_attribute(KeyValue::new(ERROR_TYPE, "cancelled"));
            span.end();
        }
    }
}
