//! Attribute macros for [forkline](https://docs.rs/forkline): lifecycle hooks for pre-fork
//! servers that generate a correctly ordered OpenTelemetry + Sentry setup.
//!
//! Use them through the `forkline` crate (`#[forkline::post_fork(...)]`); this crate's paths
//! assume it.

#![warn(missing_docs)]

mod ctxt;
mod grammar;
mod handler;
mod hook;
mod item;
mod semconv;
mod span_attributes;
mod suggest;

use hook::kind::HookKind;
use proc_macro::TokenStream;

/// Master, once, before the listening socket is bound. No telemetry threads or sockets here.
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

/// Master, just before it exits.
#[proc_macro_attribute]
pub fn on_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::OnExit, args.into(), item.into()).into()
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
