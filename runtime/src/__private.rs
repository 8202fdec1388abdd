//! What the macros' generated code names. Not public API: it may change in any release.

pub use crate::lifecycle::hooks::{
    ChildExitHook, DsnArg, HookResult, HookSite, IntoHookResult, MasterHook, OtelArgs,
    PostForkHook, SentryArgs, WorkerExitHook, WorkerInitHook, CHILD_EXIT, ON_EXIT, ON_STARTING,
    POST_FORK, PRE_FORK, WHEN_READY, WORKER_EXIT, WORKER_INIT,
};
pub use linkme;

/// What `#[forkline::handler]` and `#[derive(SpanAttributes)]` generate code against.
pub mod handler {
    pub use crate::handler::attributes::record_static;
    pub use crate::handler::capture::{ErrorRef, ViaChain, ViaDisplay, ViaError};
    pub use crate::handler::error_event::HandlerSite;
    pub use crate::handler::span::record;
    pub use crate::handler::{AttributeKey, HandlerSpan, SpanAttributes};
    pub use opentelemetry::trace::SpanKind;
    pub use opentelemetry::KeyValue;

    /// The redacted stand-in for a `#[span(redact)]` field's value.
    pub const REDACTED: &str = "[redacted]";
}

use crate::lifecycle::Worker;
use std::future::Future;

/// Runs an `async` hook to completion on the worker's runtime (hooks run outside `block_on`).
pub fn block_on_hook<F: Future>(worker: &Worker, future: F) -> F::Output {
    match worker.runtime() {
        Some(handle) => handle.block_on(future),
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(future))
            .unwrap_or_else(|e| {
                panic!("no runtime for an async hook and none could be built: {e}")
            }),
    }
}
