//! What the macros' generated code names, and nothing else. Not public API: it may change in any
//! release.
//!
//! Everything sits in a version module, `v1`, and forkline-macros generates every path to forkline
//! through it: each expansion imports it once, `use ::forkline::__private::v1 as
//! __forkline_private;` (forkline under its name in the user's Cargo.toml, or `<path>` under
//! `crate = <path>`), and names everything through that (never `::forkline::Worker` or another
//! public path, so a public rename does not break generated code; a path that does not resolve
//! is one error, at the `use`). Paths to the standard library are `::core::…` and `::std::…`.
//!
//! The version names the contract between the two crates: the items below and their shapes (the
//! hook descriptors' fields, the handler's functions). A change that generated code from an older
//! forkline-macros would not compile against (an item renamed or removed, a field added to a
//! descriptor) replaces `v1` with `v2`, and forkline-macros generates `v2` paths in the same
//! release; an addition that older generated code does not name keeps the version. A
//! forkline-macros used with a forkline of another contract then fails at its first generated
//! path with "cannot find `v1` in `__private`" (or `v2`), which points here, instead of at a
//! missing field or a changed type. forkline depends on exactly its own version of forkline-macros
//! (`=`), so through `forkline::...` the two always agree; the check catches forkline-macros
//! depended on directly.

/// The contract of forkline-macros 0.1 (see the module comment).
pub mod v1 {
    pub use crate::config::GuardSettings;
    pub use crate::lifecycle::hooks::{
        ChildExitHook, DsnArg, HookResult, HookReturn, HookSite, LogsArgs, MasterHook, MetricsArgs,
        NWorkersChangedHook, OtelArgs, PostForkHook, SentryArgs, WorkerExitHook, WorkerHook,
        WorkerInitHook, CHILD_EXIT, NWORKERS_CHANGED, ON_EXIT, ON_RELOAD, ON_STARTING, POST_FORK,
        PRE_FORK, WHEN_READY, WORKER_ABORT, WORKER_EXIT, WORKER_INIT, WORKER_INT,
    };
    pub use crate::lifecycle::{Master, Worker, WorkerExit, WorkersChanged};
    pub use linkme;
    pub use opentelemetry;

    /// A hook's descriptor in its registry (a linkme distributed slice). Written here, with
    /// `$crate`, rather than generated, so that linkme's helper attribute only ever appears
    /// where its path resolved: a `crate = path` that does not resolve is then one error, with
    /// no "cannot find attribute `linkme`" after it.
    #[doc(hidden)]
    #[macro_export]
    macro_rules! __forkline_hook_element {
        ($registry:ident, $name:ident : $descriptor:ident = $value:expr) => {
            #[$crate::__private::v1::linkme::distributed_slice($crate::__private::v1::$registry)]
            #[linkme(crate = $crate::__private::v1::linkme)]
            #[doc(hidden)]
            #[allow(non_upper_case_globals)]
            static $name: $crate::__private::v1::$descriptor = $value;
        };
    }
    pub use crate::__forkline_hook_element as hook_element;

    /// What `#[forkline::handler]` and `#[derive(SpanAttributes)]` generate code against.
    pub mod handler {
        pub use crate::handler::attributes::{record_static, JoinedKeys};
        pub use crate::handler::capture::{ErrorRef, ViaChain, ViaDisplay, ViaError};
        pub use crate::handler::error_event::HandlerSite;
        pub use crate::handler::metrics::HandlerTimer;
        pub use crate::handler::span::record;
        pub use crate::handler::{AttributeKey, HandlerSpan, ReturnsResult, SpanAttributes};
        pub use opentelemetry::trace::SpanKind;
        pub use opentelemetry::KeyValue;

        /// The redacted stand-in for a `#[span(redact)]` field's value.
        pub const REDACTED: &str = "[redacted]";
    }

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
}
