//! Attribute macros for [forkline](https://docs.rs/forkline): lifecycle hooks for pre-fork
//! servers that generate a correctly ordered OpenTelemetry + Sentry setup.
//!
//! Use them through the `forkline` crate (`#[forkline::post_fork(...)]`); this crate's paths
//! assume it.

#![warn(missing_docs)]

mod attr;
mod check;
mod ctxt;
mod expand;
mod grammar;
mod guard;
mod handler;
mod kind;
mod semconv;
mod signature;
mod span_attributes;
mod suggest;
mod value;

use kind::HookKind;
use proc_macro::TokenStream;

/// Master, once, before the listening socket is bound. No telemetry threads or sockets here.
#[proc_macro_attribute]
pub fn on_starting(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::OnStarting, args, item)
}

/// Master, after the listening socket is bound and before the first fork.
#[proc_macro_attribute]
pub fn when_ready(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::WhenReady, args, item)
}

/// Master, right before each fork (`Master::forking_worker` tells which worker).
#[proc_macro_attribute]
pub fn pre_fork(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::PreFork, args, item)
}

/// Worker, right after fork, single-threaded: builds the OTel base from its arguments
/// (`service_name`, `service_version`, `environment`, `sampler`, `ratio`, `exporter`,
/// `endpoint`), then runs the function.
#[proc_macro_attribute]
pub fn post_fork(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::PostFork, args, item)
}

/// Worker main thread, after its runtime starts: `sentry::init` (from `sentry(...)`), the Sentry
/// span processor into the late-bound slot, then the propagators; then runs the function.
#[proc_macro_attribute]
pub fn worker_init(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::WorkerInit, args, item)
}

/// Worker, on graceful stop: runs the function, then flushes and shuts down all telemetry
/// within one total `deadline_ms`.
#[proc_macro_attribute]
pub fn worker_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::WorkerExit, args, item)
}

/// Master, after a worker has been reaped.
#[proc_macro_attribute]
pub fn child_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::ChildExit, args, item)
}

/// Master, just before it exits.
#[proc_macro_attribute]
pub fn on_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook(HookKind::OnExit, args, item)
}

/// An OpenTelemetry span around a request handler (`fn` or `async fn`), through the global
/// provider: `name = "..."` (default: the function's name), `kind = "server"` (the default),
/// arguments recorded as attributes (`skip(...)`, `skip_all`), extra `fields(key = value)`,
/// and `err` to record `Err` values and send them to Sentry linked to the span. Panics are
/// recorded on the span and resumed.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::handler(args.into(), item.into()).into()
}

/// Records a struct's fields as span attributes: `#[span(name = "...")]`, `#[span(skip)]`,
/// `#[span(redact)]`, `#[span(flatten)]` on fields, `#[span(prefix = "...")]` on the struct.
/// Keys are checked at compile time (shape, and renamed semantic-convention keys).
#[proc_macro_derive(SpanAttributes, attributes(span))]
pub fn derive_span_attributes(item: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(item) {
        Ok(input) => span_attributes::derive(input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn hook(kind: HookKind, args: TokenStream, item: TokenStream) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.clone().into();
    let func = match syn::parse::<syn::ItemFn>(item) {
        Ok(func) => func,
        Err(_) => {
            let message = format!(
                "#[{}] goes on a function: `fn name(worker: &forkline::Worker) {{ ... }}`",
                kind.attr_name()
            );
            // Point at the item's first tokens (its keyword), where the fix happens.
            let span = item2.clone().into_iter().next().map(|t| t.span());
            let error = syn::Error::new(span.unwrap_or_else(proc_macro2::Span::call_site), message);
            let mut out = item2;
            out.extend(error.to_compile_error());
            return out.into();
        }
    };

    let cx = ctxt::Ctxt::new();
    let parsed = attr::parse(&cx, kind, args.into());
    check::check(&cx, &parsed);
    let sig = signature::check(&cx, kind, &func);

    match cx.check() {
        Ok(()) => expand::expand(kind, &parsed, &sig, &func).into(),
        Err(errors) => ctxt::keep_item(&func, &errors).into(),
    }
}
