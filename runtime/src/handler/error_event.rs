//! The Sentry events forkline sends for errors it catches (`#[handler(err)]`, the HTTP layer's
//! 5xx), made so that an on-call engineer can tell where it failed, not only what: the exception
//! chain (each `source()` its own exception, oldest first, as sentry's `event_from_error`), the
//! mechanism that caught it and whether it was handled, level error, and a stack trace on the
//! outermost exception — the error's own backtrace when it carries one, else the stack where
//! forkline caught it, with the capture machinery's and the async runtime's frames removed and
//! the application's frames marked in-app. Which of the two it is is said in the event.
//!
//! Everything here runs on the error path only, and only when a Sentry client is bound: the
//! success path of a handler never reaches this module.

use crate::telemetry::deferred_stacks::{self, Trim};
use crate::telemetry::request_scope;
use crate::telemetry::stack_trim::trimmed;
pub use crate::telemetry::stack_trim::HandlerSite;
use sentry::protocol::{Event, Exception, Level, Mechanism, Stacktrace};
use std::sync::atomic::{AtomicBool, Ordering};

/// `mechanism.type` of errors returned by a `#[forkline::handler(err)]` function.
pub(crate) const HANDLER: &str = "forkline.handler";
/// `mechanism.type` of 5xx responses seen by `forkline::http::TelemetryLayer`.
#[cfg(feature = "tower")]
pub(crate) const HTTP: &str = "forkline.http";

/// The tag (and `mechanism.data` key) that says where the stack trace came from: `error` (the
/// error's own backtrace), `capture_site` (where forkline caught it) or `none`.
pub const STACKTRACE_TAG: &str = "forkline.stacktrace";

static CAPTURE_STACKS: AtomicBool = AtomicBool::new(true);

/// Whether error events without a backtrace of their own get the stack of the place forkline
/// caught them (on by default). Taking a stack costs tens of microseconds per error event
/// (symbol lookup; more for the first one): turn it off for a service that returns `Err` as a
/// matter of course and does not need the stack.
pub fn capture_stacks(on: bool) {
    CAPTURE_STACKS.store(on, Ordering::Relaxed);
}

/// Whether an event would go anywhere: building one (and its stack) is skipped when not.
pub(crate) fn sentry_enabled() -> bool {
    sentry::Hub::with_active(|hub| hub.client().is_some_and(|c| c.is_enabled()))
}

/// A caught error, as Sentry exceptions, ready to be sent.
pub(crate) struct Caught {
    /// Oldest cause first, the error itself last (Sentry's order).
    pub exceptions: Vec<Exception>,
    /// The error's own backtrace, when it has one.
    pub own_stack: Option<Stacktrace>,
    pub mechanism: &'static str,
    /// The handler that returned the error; `None` (the HTTP layer) leaves in-app to Sentry's
    /// `in_app_include` / `in_app_exclude`.
    pub site: Option<&'static HandlerSite>,
}

impl Caught {
    /// Sends the event to the current hub (inside whatever span is active, which Sentry's OTel
    /// integration links it to).
    pub(crate) fn capture(self) {
        let mut event = self.into_event();
        // Inside the HTTP layer: the route as the transaction, the request (the event
        // processor worker_init installs does the same; this covers a client bound elsewhere).
        request_scope::fill(&mut event, request_scope::send_default_pii());
        request_scope::mark_error_reported();
        let _ = sentry::capture_event(event);
    }

    pub(crate) fn into_event(self) -> Event<'static> {
        let Caught {
            mut exceptions,
            own_stack,
            mechanism,
            site,
        } = self;
        let own = own_stack.and_then(|s| trimmed(s, site, false));
        let source = match (&own, CAPTURE_STACKS.load(Ordering::Relaxed)) {
            (Some(_), _) => "error",
            (None, true) => "capture_site",
            (None, false) => "none",
        };
        if let Some(outermost) = exceptions.last_mut() {
            let mut mechanism = Mechanism {
                ty: mechanism.to_string(),
                // forkline caught it and the service answered: the process did not crash.
                handled: Some(true),
                data: [(STACKTRACE_TAG.to_string(), source.into())]
                    .into_iter()
                    .collect(),
                ..Default::default()
            };
            let here = (source == "capture_site")
                // Walked here, resolved off the request's thread before the event goes out.
                .then(|| deferred_stacks::take(&mut mechanism, Trim::CaptureSite(site)))
                .flatten();
            outermost.stacktrace = own.or(here);
            outermost.mechanism = Some(mechanism);
        }
        Event {
            exception: exceptions.into(),
            level: Level::Error,
            tags: [(STACKTRACE_TAG.to_string(), source.to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        }
    }
}

/// The exceptions of a `std::error::Error` and its `source()` chain, oldest first.
pub(crate) fn exceptions_of<E: std::error::Error + ?Sized>(error: &E) -> Vec<Exception> {
    sentry::event_from_error(error).exception.values
}

/// One exception for an error that is only `Display`: its message (the type is set by
/// [`ErrorType::apply`]).
pub(crate) fn display_exception(message: String) -> Vec<Exception> {
    vec![Exception {
        value: Some(message),
        ..Default::default()
    }]
}

/// The type an error is reported under, the same on both sides: the Sentry exception's `type`
/// is `name` and its `module` is `module`; the span's `exception.type` is `module::name`.
///
/// The rule: a handler's error of a concrete type is named after that type, as Rust spells it
/// (`inventory::InventoryError` → `InventoryError` in module `inventory`; generic parameters
/// are left out), never after an enum variant; an error behind `dyn Error` (`Box<dyn Error>`,
/// `anyhow::Error`), whose type is not known statically, is named the way Sentry names it,
/// from its `Debug` output (`Error` when that is only the message), with no module. The
/// causes in the chain are named by Sentry from their `Debug` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorType {
    pub module: Option<String>,
    pub name: String,
}

impl ErrorType {
    /// The type of a value of `E`.
    pub(crate) fn of<E: ?Sized>() -> Self {
        let full = std::any::type_name::<E>().trim_start_matches('&');
        let plain = full.split('<').next().unwrap_or(full);
        match plain.rsplit_once("::") {
            Some((module, name)) => Self {
                module: Some(module.to_string()),
                name: name.to_string(),
            },
            None => Self {
                module: None,
                name: plain.to_string(),
            },
        }
    }

    /// The type of `error`: its static type, unless that is a trait object.
    pub(crate) fn of_error<E: std::error::Error + ?Sized>(error: &E) -> Self {
        if std::any::type_name::<E>()
            .trim_start_matches('&')
            .starts_with("dyn ")
        {
            Self::of_dyn(&error.to_string(), &format!("{error:?}"))
        } else {
            Self::of::<E>()
        }
    }

    /// What Sentry's `event_from_error` names an error with this `Display` and `Debug`.
    pub(crate) fn of_dyn(display: &str, debug: &str) -> Self {
        let name = if debug == format!("{display:?}") {
            "Error"
        } else {
            sentry::parse_type_from_debug(debug)
        };
        Self {
            module: None,
            name: name.to_string(),
        }
    }

    /// `module::name`, the span's `exception.type`.
    pub(crate) fn qualified(&self) -> String {
        match &self.module {
            Some(module) => format!("{module}::{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Names the outermost exception (the error itself) after this type.
    pub(crate) fn apply(&self, exceptions: &mut [Exception]) {
        if let Some(outermost) = exceptions.last_mut() {
            outermost.ty = self.name.clone();
            outermost.module = self.module.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod inventory {
        #[derive(Debug)]
        pub enum InventoryError {
            NotFound,
        }
        impl std::fmt::Display for InventoryError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("not found")
            }
        }
        impl std::error::Error for InventoryError {}
        #[derive(Debug)]
        pub struct Wrapped<T>(pub T);
    }

    #[test]
    fn an_error_is_named_after_its_type_not_its_variant() {
        use inventory::InventoryError;
        let here = module_path!();
        let t = ErrorType::of_error(&InventoryError::NotFound);
        assert_eq!(t.name, "InventoryError");
        assert_eq!(t.module.as_deref(), Some(&*format!("{here}::inventory")));
        assert_eq!(t.qualified(), format!("{here}::inventory::InventoryError"));
        // Sentry alone would say `NotFound`; the rule overrides it on the outermost exception.
        let mut exceptions = exceptions_of(&InventoryError::NotFound);
        assert_eq!(exceptions[0].ty, "NotFound");
        t.apply(&mut exceptions);
        assert_eq!(exceptions[0].ty, "InventoryError");
        assert_eq!(
            format!(
                "{}::{}",
                exceptions[0].module.as_deref().unwrap_or(""),
                exceptions[0].ty
            ),
            t.qualified()
        );
        let generic = ErrorType::of::<inventory::Wrapped<String>>();
        assert_eq!(generic.name, "Wrapped");
        assert_eq!(
            ErrorType::of::<String>().qualified(),
            "alloc::string::String"
        );
        assert_eq!(ErrorType::of::<str>().qualified(), "str");
        // Behind `dyn Error`, Sentry's rule: from `Debug`, `Error` when it is the message.
        let boxed: Box<dyn std::error::Error> = Box::new(InventoryError::NotFound);
        assert_eq!(ErrorType::of_error(&*boxed).qualified(), "NotFound");
        let message: Box<dyn std::error::Error> = "plain".into();
        assert_eq!(ErrorType::of_error(&*message).qualified(), "Error");
    }
}
