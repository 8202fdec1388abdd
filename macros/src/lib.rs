//! Attribute macros for [forkline](https://docs.rs/forkline): lifecycle hooks for pre-fork
//! servers that generate a correctly ordered OpenTelemetry + Sentry setup, `#[handler]` spans and
//! `#[derive(SpanAttributes)]`. This file holds the entry points only.
//!
//! Use them through the `forkline` crate (`#[forkline::post_fork(...)]`). Generated code reaches
//! forkline through `::forkline::__private::v1`; where forkline is renamed or re-exported, every
//! macro takes `crate = path` (`#[post_fork(crate = my::forkline)]`,
//! `#[handler(crate = my::forkline)]`, `#[span(crate = my::forkline)]` on a derived struct).
//!
//! Layers, each importing only those below it: `ctxt`, `suggest`, `semconv` and `private`;
//! `grammar` (the argument grammar) and `item` (the function a macro is on); then one folder a
//! macro (`hook/`, `handler/`, `span_attributes/`), each reading its arguments (`args.rs`),
//! checking them (`check.rs`) and generating code (`expand.rs`); then this file.

#![warn(missing_docs)]

mod ctxt;
mod grammar;
mod handler;
mod hook;
mod item;
mod private;
mod semconv;
mod span_attributes;
mod suggest;

use hook::kind::HookKind;
use proc_macro::TokenStream;

/// Master, once, before the listening socket is bound. No telemetry threads or sockets here.
///
/// Every hook takes `crate = path` where forkline is renamed or re-exported.
#[proc_macro_attribute]
pub fn on_starting(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::OnStarting, args.into(), item.into()).into()
}

/// Master, after the listening socket is bound and before the first fork.
#[proc_macro_attribute]
pub fn when_ready(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WhenReady, args.into(), item.into()).into()
}

/// Master, right before each fork (`Master::forking_worker` tells which worker).
#[proc_macro_attribute]
pub fn pre_fork(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::PreFork, args.into(), item.into()).into()
}

/// Worker, right after fork, single-threaded: builds the OTel base from its arguments
/// (`service_name`, `service_version`, `environment`, `sampler`, `ratio`, `exporter`,
/// `endpoint`), then runs the function.
#[proc_macro_attribute]
pub fn post_fork(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::PostFork, args.into(), item.into()).into()
}

/// Worker main thread, after its runtime starts: `sentry::init` (from `sentry(...)`), the Sentry
/// span processor into the late-bound slot, then the propagators; then runs the function.
#[proc_macro_attribute]
pub fn worker_init(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerInit, args.into(), item.into()).into()
}

/// Worker, on graceful stop: runs the function, then flushes and shuts down all telemetry
/// within one total `deadline_ms`.
#[proc_macro_attribute]
pub fn worker_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerExit, args.into(), item.into()).into()
}

/// Master, after a worker has been reaped.
#[proc_macro_attribute]
pub fn child_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::ChildExit, args.into(), item.into()).into()
}

/// Master, on HUP, before the new workers are forked (Gunicorn's `on_reload`). Each old worker is
/// then asked to stop once its replacement is ready.
#[proc_macro_attribute]
pub fn on_reload(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::OnReload, args.into(), item.into()).into()
}

/// Master, after TTIN or TTOU changed the number of workers (Gunicorn's
/// `nworkers_changed(arbiter, new_value, old_value)`): takes `&forkline::Master` and
/// `&forkline::WorkersChanged` (`new`, `old`), each optional.
#[proc_macro_attribute]
pub fn nworkers_changed(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::NWorkersChanged, args.into(), item.into()).into()
}

/// Worker, when it receives INT or QUIT (a quick stop), on its main thread once it stopped
/// serving, before `worker_exit` (Gunicorn's `worker_int`).
#[proc_macro_attribute]
pub fn worker_int(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerInt, args.into(), item.into()).into()
}

/// Worker, when the master aborts it for its `timeout` (ABRT), on the worker's abort thread while
/// its runtime is stuck, before the telemetry flush (Gunicorn's `worker_abort`).
#[proc_macro_attribute]
pub fn worker_abort(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerAbort, args.into(), item.into()).into()
}

/// Master, just before it exits.
#[proc_macro_attribute]
pub fn on_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::OnExit, args.into(), item.into()).into()
}

/// An OpenTelemetry span around a request handler (`fn` or `async fn`), through the global
/// provider: `name = "..."` (default: the function's name), `kind = "server"` (the default),
/// arguments recorded as attributes (`skip(...)`, `skip_all`), extra `fields(key = value)`,
/// and `err` to record `Err` values and send them to Sentry linked to the span. Panics are
/// recorded on the span and resumed. `crate = path` names forkline where it is renamed.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::handler(args.into(), item.into()).into()
}

/// Records a struct's fields as span attributes: `#[span(name = "...")]`, `#[span(skip)]`,
/// `#[span(redact)]`, `#[span(flatten)]` on fields, `#[span(prefix = "...")]` and
/// `#[span(crate = path)]` (where forkline is renamed) on the struct. Keys are checked at compile time (shape, and renamed semantic-convention keys).
#[proc_macro_derive(SpanAttributes, attributes(span))]
pub fn derive_span_attributes(item: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(item) {
        Ok(input) => span_attributes::derive(input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[cfg(test)]
mod tests {
    //! The paths generated code names outside itself: forkline only through
    //! `::forkline::__private::v1`, the standard library only as `::core` or `::std`.

    use crate::HookKind;
    use proc_macro2::{Spacing, TokenStream, TokenTree};
    use quote::quote;

    /// Each macro on an input that uses every part of its expansion, with `crate = krate` when
    /// there is one.
    fn expansions(krate: Option<TokenStream>) -> Vec<TokenStream> {
        let krate = krate.map(|k| quote!(crate = #k));
        let comma = krate.as_ref().map(|_| quote!(,));
        let hook = |kind, args: TokenStream, item: TokenStream| {
            crate::hook::hook(kind, quote!(#krate #comma #args), item)
        };
        let handler = |args: TokenStream, item: TokenStream| {
            crate::handler::handler(quote!(#krate #comma #args), item)
        };
        let item = quote!(
            fn f(_master: &Master) {}
        );
        vec![
            hook(
                HookKind::PostFork,
                quote!(
                    service_name = "a",
                    ratio = 0.5,
                    guard(attempt_timeout_ms = 100)
                ),
                quote!(
                    fn otel(_worker: &Worker) {}
                ),
            ),
            hook(
                HookKind::WorkerInit,
                quote!(
                    sentry(dsn = env("DSN"), debug, guard(max_retries = 1)),
                    propagators = "baggage"
                ),
                quote!(
                    async fn init(_worker: &Worker) {}
                ),
            ),
            hook(
                HookKind::WorkerExit,
                quote!(deadline_ms = 100),
                quote!(
                    fn bye() {}
                ),
            ),
            hook(
                HookKind::ChildExit,
                quote!(),
                quote!(
                    fn c(_m: &Master, _e: &WorkerExit) {}
                ),
            ),
            hook(
                HookKind::NWorkersChanged,
                quote!(),
                quote!(
                    fn n(_m: &Master, _c: &WorkersChanged) {}
                ),
            ),
            hook(
                HookKind::WorkerInt,
                quote!(),
                quote!(
                    fn i(_w: &Worker) {}
                ),
            ),
            hook(HookKind::OnReload, quote!(), item.clone()),
            hook(HookKind::OnStarting, quote!(), item.clone()),
            hook(HookKind::WhenReady, quote!(), item.clone()),
            hook(HookKind::PreFork, quote!(), item.clone()),
            hook(HookKind::OnExit, quote!(), item),
            handler(
                quote!(name = "get", err, fields(order.id = id, kind = "x")),
                quote!(
                    async fn get(id: u64) -> Result<u64, String> {
                        Ok(id)
                    }
                ),
            ),
            handler(
                quote!(kind = "client"),
                quote!(
                    fn call(id: u64) -> u64 {
                        id
                    }
                ),
            ),
            crate::span_attributes::derive(syn::parse_quote! {
                #[span(prefix = "order")]
                #[span(#krate)]
                struct Order {
                    id: u64,
                    #[span(redact)]
                    token: String,
                    note: &'static str,
                    #[span(flatten)]
                    inner: Inner,
                }
            }),
        ]
    }

    /// Every path in `tokens` (`a::b`, `::a::b`), as (whether it starts with `::`, its segments).
    fn paths(tokens: TokenStream, out: &mut Vec<(bool, Vec<String>)>) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let colons = |i: usize| {
            matches!(
                (tokens.get(i), tokens.get(i + 1)),
                (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                    if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
            )
        };
        let mut i = 0;
        while i < tokens.len() {
            if let TokenTree::Group(group) = &tokens[i] {
                paths(group.stream(), out);
            }
            let leading = colons(i) && matches!(tokens.get(i + 2), Some(TokenTree::Ident(_)));
            // A keyword before `::` (`use ::core::...`) is not a segment.
            let relative = matches!(&tokens[i], TokenTree::Ident(ident)
                    if !["use", "as", "in", "for", "impl", "dyn", "mut", "return"]
                        .contains(&ident.to_string().as_str()))
                && colons(i + 1);
            if !(leading || relative) {
                i += 1;
                continue;
            }
            let mut j = if leading { i + 2 } else { i };
            let mut segments = Vec::new();
            while let Some(TokenTree::Ident(ident)) = tokens.get(j) {
                segments.push(ident.to_string());
                j += 1;
                if !colons(j) {
                    break;
                }
                j += 2;
            }
            out.push((leading, segments));
            i = j;
        }
    }

    /// Every path of every expansion, which must not be a `compile_error!`.
    fn expanded_paths(krate: Option<TokenStream>) -> Vec<(bool, Vec<String>)> {
        let mut found = Vec::new();
        for expansion in expansions(krate) {
            assert!(
                !expansion.to_string().contains("compile_error"),
                "{expansion}"
            );
            paths(expansion, &mut found);
        }
        found
    }

    #[test]
    fn forkline_is_named_only_through_private_v1() {
        let found = expanded_paths(None);
        assert!(found.iter().any(|(_, s)| s[0] == "forkline"));
        for (leading, segments) in found {
            let path = segments.join("::");
            if leading {
                assert!(
                    ["forkline", "core", "std"].contains(&segments[0].as_str()),
                    "::{path}"
                );
                if segments[0] == "forkline" {
                    assert!(
                        segments[1..].starts_with(&["__private".into(), "v1".into()]),
                        "::{path}"
                    );
                }
            } else {
                assert!(
                    !segments.iter().any(|s| s == "forkline" || s == "__private"),
                    "{path}"
                );
            }
        }
    }

    #[test]
    fn crate_path_replaces_forkline_everywhere() {
        let found = expanded_paths(Some(quote!(my::fl)));
        assert!(found
            .iter()
            .any(|(_, s)| s.contains(&"__private".to_string())));
        for (leading, segments) in found {
            let path = segments.join("::");
            assert!(!segments.iter().any(|s| s == "forkline"), "{path}");
            if leading {
                assert!(["core", "std"].contains(&segments[0].as_str()), "::{path}");
            } else if segments.iter().any(|s| s == "__private") {
                assert!(
                    segments.starts_with(&["my", "fl", "__private", "v1"].map(String::from)),
                    "{path}"
                );
            }
        }
    }
}
