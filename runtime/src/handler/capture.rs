//! `err`: an `Err` value is recorded on the handler's span and sent to Sentry as an error event
//! linked to it, with the mechanism `forkline.handler`, the exception chain and a stack trace
//! (see `error_event`). A `std::error::Error` (and, with the `anyhow` feature, an
//! `anyhow::Error`, or a boxed `dyn Error`) becomes one exception per cause; any other `Display`
//! error one exception named after its type. The error itself is named by one rule on both
//! sides (`error_event::ErrorType`): the Sentry exception's `type` and `module` are its Rust
//! type's name and path, the span's `exception.type` is `module::type`. The choice is made at compile time (autoref
//! specialisation: the generated code calls `(&ErrorRef(e)).forkline_report(..)` with every
//! trait in scope; an impl on `ErrorRef` wins over the `Display` one on `&ErrorRef`, and the
//! `ErrorRef` impls never overlap).

use crate::handler::error_event::{self, Caught, ErrorType, HandlerSite};
use crate::handler::span::HandlerSpan;
use sentry::protocol::{Exception, Stacktrace};
use std::fmt::Display;

/// A borrowed error value.
#[derive(Debug)]
pub struct ErrorRef<'a, E: ?Sized>(pub &'a E);

/// For errors that implement `std::error::Error`.
pub trait ViaError {
    /// Records and captures the error; `site` says whose frames are in-app.
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite);
}

/// For error types that carry a cause chain without implementing `std::error::Error`: boxed
/// `dyn Error`s, and `anyhow::Error` (feature `anyhow`), whose backtrace is used when it has one.
pub trait ViaChain {
    /// Records and captures the error.
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite);
}

/// For errors that only implement `Display`.
pub trait ViaDisplay {
    /// Records and captures the error.
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite);
}

impl<E: std::error::Error + ?Sized> ViaError for ErrorRef<'_, E> {
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite) {
        let ty = ErrorType::of_error(self.0);
        report(span, self.0.to_string(), site, ty, |_| {
            (error_event::exceptions_of(self.0), None)
        });
    }
}

impl ViaChain for ErrorRef<'_, Box<dyn std::error::Error + Send + Sync>> {
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite) {
        let ty = ErrorType::of_error(&**self.0);
        report(span, self.0.to_string(), site, ty, |_| {
            (error_event::exceptions_of(&**self.0), None)
        });
    }
}

impl ViaChain for ErrorRef<'_, Box<dyn std::error::Error>> {
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite) {
        let ty = ErrorType::of_error(&**self.0);
        report(span, self.0.to_string(), site, ty, |_| {
            (error_event::exceptions_of(&**self.0), None)
        });
    }
}

#[cfg(feature = "anyhow")]
impl ViaChain for ErrorRef<'_, anyhow::Error> {
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite) {
        let error: &(dyn std::error::Error + Send + Sync + 'static) = self.0.as_ref();
        let ty = ErrorType::of_error(error);
        report(span, self.0.to_string(), site, ty, |_| {
            let backtrace = self.0.backtrace();
            let own = (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
                .then(|| sentry::integrations::backtrace::parse_stacktrace(&backtrace.to_string()))
                .flatten();
            (error_event::exceptions_of(error), own)
        });
    }
}

impl<E: Display + ?Sized> ViaDisplay for &ErrorRef<'_, E> {
    fn forkline_report(&self, span: &HandlerSpan, site: &'static HandlerSite) {
        report(
            span,
            self.0.to_string(),
            site,
            ErrorType::of::<E>(),
            |message| (error_event::display_exception(message.to_string()), None),
        );
    }
}

/// Records the error on the span, then captures it with the span active, so that Sentry's OTel
/// integration links the event to it. The event (and its stack) is only built when a Sentry
/// client would send it.
fn report(
    span: &HandlerSpan,
    message: String,
    site: &'static HandlerSite,
    ty: ErrorType,
    exceptions: impl FnOnce(&str) -> (Vec<Exception>, Option<Stacktrace>),
) {
    span.record_error(&ty.qualified(), message.clone());
    if !error_event::sentry_enabled() {
        return;
    }
    let _active = span.context().attach();
    let (mut exceptions, own_stack) = exceptions(&message);
    ty.apply(&mut exceptions);
    Caught {
        exceptions,
        own_stack,
        mechanism: error_event::HANDLER,
        site: Some(site),
    }
    .capture();
}
