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

use crate::telemetry::request_scope;
use sentry::protocol::{Event, Exception, Frame, Level, Mechanism, Stacktrace};
use std::borrow::Cow;
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

/// Where a `#[forkline::handler]` function is, as its generated code tells it.
#[derive(Debug)]
pub struct HandlerSite {
    /// `module_path!()` of the handler: its first segment is the application's crate.
    pub module: &'static str,
    /// `CARGO_MANIFEST_DIR` of the handler's package: frames in files under it are in-app even
    /// where the debug info names no crate (`debug = "line-tables-only"` gives generic and async
    /// functions their short names only, such as `{async_fn#0}`).
    pub dir: &'static str,
    /// The handler function's name.
    pub function: &'static str,
}

/// A caught error, as Sentry exceptions, ready to be sent.
pub(crate) struct Caught<'a> {
    /// Oldest cause first, the error itself last (Sentry's order).
    pub exceptions: Vec<Exception>,
    /// The error's own backtrace, when it has one.
    pub own_stack: Option<Stacktrace>,
    pub mechanism: &'static str,
    /// The handler that returned the error; `None` (the HTTP layer) leaves in-app to Sentry's
    /// `in_app_include` / `in_app_exclude`.
    pub site: Option<&'a HandlerSite>,
}

impl Caught<'_> {
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
        let (stack, source) = match own_stack.and_then(|s| trimmed(s, site, false)) {
            Some(stack) => (Some(stack), "error"),
            None if CAPTURE_STACKS.load(Ordering::Relaxed) => {
                match sentry::integrations::backtrace::current_stacktrace()
                    .and_then(|s| trimmed(s, site, true))
                {
                    Some(stack) => (Some(stack), "capture_site"),
                    None => (None, "none"),
                }
            }
            None => (None, "none"),
        };
        if let Some(outermost) = exceptions.last_mut() {
            outermost.stacktrace = stack;
            outermost.mechanism = Some(Mechanism {
                ty: mechanism.to_string(),
                // forkline caught it and the service answered: the process did not crash.
                handled: Some(true),
                data: [(STACKTRACE_TAG.to_string(), source.into())]
                    .into_iter()
                    .collect(),
                ..Default::default()
            });
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

/// Crates whose frames say nothing about the application: the machinery that takes the stack
/// and sends the event, the standard library, and the async runtime that polls the handler.
const NOT_THE_APPLICATION: &[&str] = &[
    "forkline",
    "sentry",
    "sentry_core",
    "sentry_backtrace",
    "backtrace",
    "anyhow",
    "std",
    "core",
    "alloc",
    "tokio",
];

/// Symbols of the process and thread start-up, below any Rust code (and frames with no symbol).
const START_UP: &[&str] = &[
    "main",
    "_start",
    "start_thread",
    "clone",
    "clone3",
    "<unknown>",
];
/// Prefixes of the same, for symbols that carry a suffix.
const START_UP_PREFIXES: &[&str] = &["__rust", "__libc_start"];

/// forkline's own sources: frames there are forkline's whatever their debug-info name.
const FORKLINE_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");

/// Removes the frames of [`NOT_THE_APPLICATION`] and the start-up, and marks the rest in-app
/// when they belong to the handler's crate; `None` when nothing is left. `at_capture`: the
/// stack was taken where forkline caught the error, so its innermost remaining frame is the
/// handler's body, which is named after the handler when the debug info left it a short name.
fn trimmed(stack: Stacktrace, site: Option<&HandlerSite>, at_capture: bool) -> Option<Stacktrace> {
    let app_crate = site.map(|s| crate_of_module(s.module));
    let mut frames: Vec<Frame> = stack
        .frames
        .into_iter()
        .filter_map(|mut frame| {
            let function = frame.function.as_deref()?;
            if START_UP.contains(&function)
                || START_UP_PREFIXES.iter().any(|p| function.starts_with(p))
            {
                return None;
            }
            let path = frame.abs_path.as_deref().unwrap_or("");
            let mut krate: Cow<'_, str> = if path.starts_with(FORKLINE_SRC) {
                "forkline".into()
            } else {
                match crate_of(function) {
                    Some(krate) => krate.into(),
                    None => crate_of_path(path).unwrap_or_default(),
                }
            };
            if NOT_THE_APPLICATION.contains(&&*krate) {
                return None;
            }
            if let (Some(site), Some(app)) = (site, app_crate) {
                let in_dir = !site.dir.is_empty()
                    && path.starts_with(site.dir)
                    && path[site.dir.len()..].starts_with('/');
                frame.in_app = Some(krate == app || in_dir);
                if in_dir && krate.is_empty() {
                    krate = app.into();
                }
            }
            if frame.package.is_none() && !krate.is_empty() {
                frame.package = Some(krate.to_string());
            }
            Some(frame)
        })
        .collect();
    if let (true, Some(site), Some(body)) = (at_capture, site, frames.last_mut()) {
        let short = body.function.as_deref().filter(|f| crate_of(f).is_none());
        if let (Some(short), Some(true)) = (short, body.in_app) {
            body.function = Some(format!("{}::{}::{short}", site.module, site.function));
        }
    }
    (!frames.is_empty()).then(|| Stacktrace {
        frames,
        ..Default::default()
    })
}

/// The crate of a demangled, path-qualified function name: `my_app::orders::{{closure}}` →
/// `my_app`, `<forkline::X<F> as core::future::Future>::poll` → `forkline` (the implementing
/// type's crate), `<F as axum::handler::Handler>::call` → `axum` (a generic parameter has
/// none). `None` for a short name without a path (`{async_fn#0}`, `block_on<T>`).
fn crate_of(function: &str) -> Option<&str> {
    let mut rest = function.trim_start_matches(['<', '&', '*']);
    if let Some((implementor, trait_path)) = rest.split_once(" as ") {
        if !implementor.contains("::") {
            rest = trait_path;
        }
    }
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    rest[end..].starts_with("::").then_some(&rest[..end])
}

/// The crate of a source file, for frames whose name has no path: the standard library's
/// (`/rustc/<hash>/library/std/src/...`) and a registry crate's
/// (`.../registry/src/<index>/tokio-1.47.1/src/...`).
fn crate_of_path(path: &str) -> Option<Cow<'_, str>> {
    if let Some((_, rest)) = path.split_once("/library/") {
        return rest.split('/').next().map(Cow::Borrowed);
    }
    let (_, rest) = path.split_once("/registry/src/")?;
    let versioned = rest.split('/').nth(1)?;
    // `sentry-core-0.49.5` → `sentry_core`, as symbols spell it.
    let (name, _) = versioned.rsplit_once('-')?;
    Some(name.replace('-', "_").into())
}

/// The crate name in a `module_path!()`.
pub(crate) fn crate_of_module(module_path: &str) -> &str {
    module_path.split("::").next().unwrap_or(module_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str) -> Frame {
        Frame {
            function: Some(function.to_string()),
            ..Default::default()
        }
    }

    const SITE: HandlerSite = HandlerSite {
        module: "my_app::orders",
        dir: "/src/my-app",
        function: "charge",
    };

    #[test]
    fn crates_are_read_from_demangled_names_and_paths() {
        assert_eq!(
            crate_of("my_app::orders::charge::{{closure}}"),
            Some("my_app")
        );
        assert_eq!(
            crate_of("<forkline::handler::unwind::Instrumented<F> as core::future::future::Future>::poll"),
            Some("forkline")
        );
        assert_eq!(
            crate_of("<&forkline::handler::capture::ErrorRef<E> as forkline::handler::capture::ViaDisplay>::forkline_report"),
            Some("forkline")
        );
        assert_eq!(
            crate_of("<F as axum::handler::Handler<(M,T1),S>>::call::{{closure}}"),
            Some("axum")
        );
        assert_eq!(crate_of("{async_fn#0}"), None);
        assert_eq!(crate_of("block_on<my_app::X>"), None);
        assert_eq!(
            crate_of_path("/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sentry-core-0.49.5/src/hub.rs").as_deref(),
            Some("sentry_core")
        );
        assert_eq!(
            crate_of_path(
                "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ops/function.rs"
            )
            .as_deref(),
            Some("core")
        );
        assert_eq!(crate_of_module("my_app::handlers"), "my_app");
    }

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

    #[test]
    fn the_machinery_and_the_runtime_are_trimmed_and_the_app_is_in_app() {
        let mut short_body = frame("{async_fn#0}");
        short_body.abs_path = Some("/src/my-app/src/orders.rs".into());
        let mut short_tokio = frame("block_on<my_app::X>");
        short_tokio.abs_path =
            Some("/c/registry/src/index.crates.io-1/tokio-1.47.1/src/runtime.rs".into());
        let mut forkline_generic = frame("{closure#0}<my_app::X>");
        forkline_generic.abs_path = Some(format!("{FORKLINE_SRC}handler/span.rs"));
        // Outermost first, as Sentry stores frames.
        let mut frames: Vec<Frame> = [
            "_start",
            "main",
            "std::rt::lang_start_internal",
            "tokio::runtime::task::harness::poll",
            "hyper::proto::h1::dispatch::poll",
            "my_app::orders::route::{{closure}}",
        ]
        .map(frame)
        .into();
        frames.extend([short_tokio, short_body, forkline_generic]);
        frames.extend(
            [
                "<forkline::handler::unwind::Instrumented<F> as core::future::future::Future>::poll",
                "forkline::handler::error_event::Caught::into_event",
                "sentry_backtrace::current_stacktrace",
                "backtrace::backtrace::trace",
            ]
            .map(frame),
        );
        let stack = Stacktrace {
            frames,
            ..Default::default()
        };
        let kept = trimmed(stack, Some(&SITE), true).expect("frames left");
        let kept: Vec<(&str, Option<bool>)> = kept
            .frames
            .iter()
            .map(|f| (f.function.as_deref().unwrap_or(""), f.in_app))
            .collect();
        assert_eq!(
            kept,
            [
                ("hyper::proto::h1::dispatch::poll", Some(false)),
                ("my_app::orders::route::{{closure}}", Some(true)),
                ("my_app::orders::charge::{async_fn#0}", Some(true)),
            ]
        );
    }

    #[test]
    fn without_a_handler_in_app_is_left_to_sentry() {
        let stack = Stacktrace {
            frames: vec![frame("hyper::poll"), frame("std::x")],
            ..Default::default()
        };
        let kept = trimmed(stack, None, true).expect("frames left");
        assert_eq!(kept.frames.len(), 1);
        assert_eq!(kept.frames[0].in_app, None);
        assert!(trimmed(
            Stacktrace {
                frames: vec![frame("tokio::x")],
                ..Default::default()
            },
            None,
            true
        )
        .is_none());
    }
}
