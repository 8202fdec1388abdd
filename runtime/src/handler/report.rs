//! `err`: an `Err` value is recorded on the handler's span and sent to Sentry as an error event
//! linked to it. A `std::error::Error` becomes a Sentry exception with its source chain; any
//! other `Display` error a message at level error. The choice is made at compile time
//! (autoref specialisation: the generated code calls `(&ErrorRef(e)).forkline_report(..)` with
//! both traits in scope, and the `Error` impl wins where it applies).

use crate::handler::span::HandlerSpan;
use std::fmt::Display;

/// A borrowed error value.
#[derive(Debug)]
pub struct ErrorRef<'a, E: ?Sized>(pub &'a E);

/// For errors that implement `std::error::Error`.
pub trait ViaError {
    /// Records and captures the error.
    fn forkline_report(&self, span: &HandlerSpan);
}

/// For errors that only implement `Display`.
pub trait ViaDisplay {
    /// Records and captures the error.
    fn forkline_report(&self, span: &HandlerSpan);
}

impl<E: std::error::Error + ?Sized> ViaError for ErrorRef<'_, E> {
    fn forkline_report(&self, span: &HandlerSpan) {
        report::<E>(span, self.0.to_string(), |_| {
            sentry::capture_error(self.0);
        });
    }
}

impl<E: Display + ?Sized> ViaDisplay for &ErrorRef<'_, E> {
    fn forkline_report(&self, span: &HandlerSpan) {
        report::<E>(span, self.0.to_string(), |message| {
            sentry::capture_message(message, sentry::Level::Error);
        });
    }
}

/// Records the error on the span, then captures it with the span active, so that Sentry's OTel
/// integration links the event to it.
fn report<E: ?Sized>(span: &HandlerSpan, message: String, capture: impl FnOnce(&str)) {
    span.record_error(std::any::type_name::<E>(), message.clone());
    let _active = span.context().attach();
    capture(&message);
}
