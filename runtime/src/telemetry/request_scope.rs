//! The HTTP request an error event happened in: the HTTP layer (`forkline::http`) puts a [`RequestScope`] into the request's OTel context, and every Sentry event
//! captured while that context is active — a `#[handler(err)]` error, the layer's 5xx, a panic,
//! the application's own `sentry::capture_*` — gets the route template as its `transaction`
//! and the request (method, URL, headers) as its `request`, the way sentry-tower's
//! `SentryHttpLayer` fills them in. Credentials are left out unless `send_default_pii` is on.
//!
//! Nothing is converted on the success path: the layer keeps the request's parts, and they are
//! made into Sentry's `Request` only when an event is captured.

use opentelemetry::Context;
use sentry::protocol::{Event, Request};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What the HTTP layer knows about a request, turned into Sentry's types on demand.
pub(crate) trait RequestOfEvent: Send + Sync {
    /// The route template (`/orders/{id}`), when the router knows it.
    fn route(&self) -> Option<&str>;
    /// The request as Sentry's protocol has it; with `send_default_pii` off, without cookies,
    /// credential headers and query values.
    fn request(&self, send_default_pii: bool) -> Request;
}

/// The OTel context value that carries a request's [`RequestOfEvent`], and whether an error
/// event was already sent for the request (so the HTTP layer does not send a second one for the
/// 5xx that the handler's error became).
#[derive(Clone)]
pub(crate) struct RequestScope(pub Arc<dyn RequestOfEvent>, pub Arc<AtomicBool>);

#[cfg(feature = "tower")]
impl RequestScope {
    /// The scope of a request.
    pub(crate) fn new(request: Arc<dyn RequestOfEvent>) -> Self {
        Self(request, Arc::new(AtomicBool::new(false)))
    }
}

/// Notes that an error event was sent for the current request (no-op outside one).
pub(crate) fn mark_error_reported() {
    Context::map_current(|cx| {
        if let Some(scope) = cx.get::<RequestScope>() {
            scope.1.store(true, Ordering::Relaxed);
        }
    });
}

/// Whether an error event was already sent for the current request.
#[cfg(feature = "tower")]
pub(crate) fn error_reported() -> bool {
    Context::map_current(|cx| {
        cx.get::<RequestScope>()
            .is_some_and(|scope| scope.1.load(Ordering::Relaxed))
    })
}

impl std::fmt::Debug for RequestScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestScope")
            .field("route", &self.0.route())
            .finish_non_exhaustive()
    }
}

/// Fills `event`'s empty `transaction` and `request` from the request of the current OTel
/// context, if any. What the event already says wins.
pub(crate) fn fill(event: &mut Event<'static>, send_default_pii: bool) {
    let Some(scope) = Context::map_current(|cx| cx.get::<RequestScope>().cloned()) else {
        return;
    };
    if event.transaction.as_deref().is_none_or(str::is_empty) {
        if let Some(route) = scope.0.route() {
            event.transaction = Some(route.to_string());
        }
    }
    if event.request.is_none() {
        event.request = Some(scope.0.request(send_default_pii));
    }
}

/// `send_default_pii` as `worker_init` set it up (off until then, and without Sentry): read on
/// every request by the HTTP layer, so a static rather than a look at the hub.
static PII_ALLOWED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether request data may keep personal data and credentials (`send_default_pii`).
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) fn pii_allowed() -> bool {
    PII_ALLOWED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The bound client's `send_default_pii` (off without a client). Not for use inside an event
/// processor, which runs with the hub's stack borrowed.
pub(crate) fn send_default_pii() -> bool {
    sentry::Hub::with_active(|hub| hub.client().is_some_and(|c| c.options().send_default_pii))
}

/// Installs, on the current hub's scope, the event processor that fills in the request of
/// every event (panics and the application's own captures included). Called by `worker_init`'s
/// generated setup right after `sentry::init`, so every thread's hub inherits it.
pub(crate) fn install_event_processor(send_default_pii: bool) {
    PII_ALLOWED.store(send_default_pii, std::sync::atomic::Ordering::Relaxed);
    sentry::configure_scope(|scope| {
        scope.add_event_processor(move |mut event| {
            fill(&mut event, send_default_pii);
            Some(event)
        });
    });
}
