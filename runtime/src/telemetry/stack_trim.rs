//! Which frames of a stack say something about the application: the machinery that takes the
//! stack and sends the event, the standard library, the async runtime and the process start-up
//! are trimmed off, and the handler's crate is marked in-app. Applied to a stack once it is
//! resolved (`deferred_stacks`), for handler errors, the layer's 5xx events and panics alike.

use sentry::protocol::{Frame, Stacktrace};
use std::borrow::Cow;

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

/// Crates whose frames say nothing about the application: the machinery that takes the stack
/// and sends the event, the standard library, and the async runtime that polls the handler.
const NOT_THE_APPLICATION: &[&str] = &[
    "forkline",
    "sentry",
    "sentry_core",
    "sentry_backtrace",
    "sentry_panic",
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
pub(crate) fn trimmed(
    stack: Stacktrace,
    site: Option<&HandlerSite>,
    at_capture: bool,
) -> Option<Stacktrace> {
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
