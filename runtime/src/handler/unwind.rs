//! An async handler body with its span active on every poll; a panic inside it is recorded on
//! the span and resumed.

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

/// See [`HandlerSpan::instrument`](crate::handler::HandlerSpan::instrument).
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct Instrumented<F> {
    body: F,
    /// `None`: no span was made; the body runs in whatever context polls it.
    cx: Option<Context>,
}

impl<F> Instrumented<F> {
    pub(crate) fn new(body: F, cx: Option<Context>) -> Self {
        Self { body, cx }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        // SAFETY: `body` is structurally pinned: it is never moved out of `self` and `self` has
        // no Drop impl and is not Unpin-projected elsewhere; `cx` is never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let body = unsafe { Pin::new_unchecked(&mut this.body) };
        let Some(cx) = &this.cx else {
            return body.poll(task);
        };
        let _active = cx.clone().attach();
        recording_panics(cx, || body.poll(task))
    }
}

/// Runs `f`; a panic in it is recorded on `cx`'s span and resumed.
#[inline]
pub(crate) fn recording_panics<R>(cx: &Context, f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => {
            record_panic(cx, &*payload);
            std::panic::resume_unwind(payload)
        }
    }
}

use crate::diag::panic_message;

/// Records a panic on `cx`'s span: an `exception` event and an error status.
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
