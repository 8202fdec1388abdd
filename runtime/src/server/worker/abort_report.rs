//! What a worker aborted for its timeout leaves behind, from its abort thread while a runtime
//! thread is stuck: a Sentry event "worker timeout" that lists every request in flight (route,
//! age, trace id) and is linked to the stuck request's span, and those spans themselves, ended
//! with an error status so that the flush that follows exports them. Without this, the stuck
//! request's span never ends (its future never finishes), and the event links to a trace that
//! never reaches the OTLP backend.

use crate::health::serving::AbortReason;
use crate::server::worker::in_flight::InFlight;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::KeyValue;
use std::time::Duration;

/// The most requests the event's message names; the others are counted.
const NAMED: usize = 10;

/// The event's message: which worker, why (what the master said, else as far as the worker can
/// tell), and each request.
pub(crate) fn message(
    id: usize,
    pid: u32,
    timeout: Duration,
    said: Option<AbortReason>,
    requests: &[InFlight],
) -> String {
    if said == Some(AbortReason::Memory) {
        let message = format!(
            "worker timeout: worker {id} (pid {pid}) was aborted by the master: its resident \
             memory passed evil_reload_on_rss"
        );
        return with_requests(message, requests);
    }
    let why = if requests
        .iter()
        .any(|r| r.stuck.is_some_and(|s| s >= timeout))
    {
        "a request was stuck in one poll, blocking a runtime thread,"
    } else if requests.is_empty() {
        "its runtime made no progress"
    } else {
        "its runtime made no progress or a request ran too long"
    };
    let message = format!(
        "worker timeout: worker {id} (pid {pid}) was aborted by the master: {why} past the \
         timeout ({} ms)",
        timeout.as_millis()
    );
    with_requests(message, requests)
}

/// `message`, then each request in flight.
fn with_requests(mut message: String, requests: &[InFlight]) -> String {
    if !requests.is_empty() {
        let named: Vec<String> = requests
            .iter()
            .take(NAMED)
            .map(ToString::to_string)
            .collect();
        message.push_str("; requests in flight: ");
        message.push_str(&named.join(", "));
        if requests.len() > NAMED {
            message.push_str(&format!(" and {} more", requests.len() - NAMED));
        }
    }
    message
}

/// Sends the event, linked to `linked` (the stuck request's span) while that span is still
/// open: Sentry's span processor links an event to the active span it knows, and the trace
/// context is set from the span as well for a span it does not know (not sampled by Sentry).
pub(crate) fn capture_event(message: &str, linked: Option<&opentelemetry::Context>) {
    let capture = || {
        sentry::capture_message(message, sentry::Level::Fatal);
    };
    let Some(cx) = linked else {
        capture();
        return;
    };
    let span = cx.span().span_context().clone();
    let trace = sentry::protocol::TraceContext {
        trace_id: span.trace_id().to_bytes().into(),
        span_id: span.span_id().to_bytes().into(),
        op: Some("http.server".into()),
        ..Default::default()
    };
    let _active = cx.clone().attach();
    sentry::with_scope(
        |scope| scope.set_context("trace", sentry::protocol::Context::Trace(Box::new(trace))),
        capture,
    );
}

/// Ends every in-flight request's span with an error status ("worker timeout") and its age.
pub(crate) fn end_spans(requests: &[InFlight]) {
    for request in requests {
        let Some(cx) = &request.span else {
            continue;
        };
        let span = cx.span();
        span.set_attribute(KeyValue::new("error.type", "worker timeout"));
        span.set_attribute(KeyValue::new(
            "forkline.request.age_ms",
            i64::try_from(request.age.as_millis()).unwrap_or(i64::MAX),
        ));
        let what = match request.stuck {
            Some(stuck) => format!(
                "worker timeout: stuck in one poll for {} ms, running {} ms",
                stuck.as_millis(),
                request.age.as_millis()
            ),
            None => format!(
                "worker timeout: in flight for {} ms when its worker was aborted",
                request.age.as_millis()
            ),
        };
        span.set_status(Status::error(what));
        span.end();
    }
}
