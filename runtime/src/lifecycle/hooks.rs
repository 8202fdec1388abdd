//! The registries the attribute macros fill, and the descriptors they put there.
//!
//! Registration uses `linkme` distributed slices rather than `inventory`: the slices are
//! assembled by the linker, so no code runs before `main`. `inventory` registers through
//! life-before-main constructors, and code that runs before `main` in a pre-fork master is
//! exactly what this crate exists to keep under control.

pub use crate::config::hook_args::{DsnArg, LogsArgs, MetricsArgs, OtelArgs, SentryArgs};
use crate::lifecycle::{Master, Worker, WorkerExit, WorkersChanged};
use linkme::distributed_slice;
use std::fmt;

/// What a hook returns to the runtime.
pub type HookResult = Result<(), HookError>;
/// A hook's error, shown as its `Display`.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// Where a hook was written; filled by the macro in the user's crate.
#[derive(Debug, Clone, Copy)]
pub struct HookSite {
    /// The function's name.
    pub function: &'static str,
    /// `module_path!()` at the hook.
    pub module: &'static str,
    /// `file!()` at the hook.
    pub file: &'static str,
    /// `line!()` of the attribute.
    pub line: u32,
    /// `CARGO_PKG_NAME` of the crate that defines the hook.
    pub crate_name: &'static str,
    /// `CARGO_PKG_VERSION` of that crate.
    pub crate_version: &'static str,
}

impl fmt::Display for HookSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}::{}` ({}:{})",
            self.module, self.function, self.file, self.line
        )
    }
}

/// A master hook: `on_starting`, `when_ready`, `pre_fork`, `on_reload`, `on_exit`.
#[derive(Debug)]
pub struct MasterHook {
    /// Where it was written.
    pub site: HookSite,
    /// The generated wrapper around the user's function.
    pub run: fn(&Master) -> HookResult,
}

/// A `child_exit` hook.
#[derive(Debug)]
pub struct ChildExitHook {
    /// Where it was written.
    pub site: HookSite,
    /// The generated wrapper.
    pub run: fn(&Master, &WorkerExit) -> HookResult,
}

/// A `nworkers_changed` hook.
#[derive(Debug)]
pub struct NWorkersChangedHook {
    /// Where it was written.
    pub site: HookSite,
    /// The generated wrapper.
    pub run: fn(&Master, &WorkersChanged) -> HookResult,
}

/// A worker hook with no telemetry arguments: `worker_int`, `worker_abort`.
#[derive(Debug)]
pub struct WorkerHook {
    /// Where it was written.
    pub site: HookSite,
    /// The generated wrapper.
    pub run: fn(&Worker) -> HookResult,
}

/// The `post_fork` hook and the OTel base it asks for.
#[derive(Debug)]
pub struct PostForkHook {
    /// Where it was written.
    pub site: HookSite,
    /// Its arguments.
    pub otel: OtelArgs,
    /// The generated wrapper.
    pub run: fn(&Worker) -> HookResult,
}

/// The `worker_init` hook and the Sentry setup it asks for.
#[derive(Debug)]
pub struct WorkerInitHook {
    /// Where it was written.
    pub site: HookSite,
    /// Its `sentry(...)` arguments.
    pub sentry: SentryArgs,
    /// Its `propagators = "..."`.
    pub propagators: Option<&'static str>,
    /// The generated wrapper.
    pub run: fn(&Worker) -> HookResult,
}

/// The `worker_exit` hook and its shutdown deadline.
#[derive(Debug)]
pub struct WorkerExitHook {
    /// Where it was written.
    pub site: HookSite,
    /// The total deadline for flush + shutdown, in milliseconds.
    pub deadline_ms: Option<u64>,
    /// The generated wrapper.
    pub run: fn(&Worker) -> HookResult,
}

/// `#[on_starting]` hooks.
#[distributed_slice]
pub static ON_STARTING: [MasterHook];
/// `#[when_ready]` hooks.
#[distributed_slice]
pub static WHEN_READY: [MasterHook];
/// `#[pre_fork]` hooks.
#[distributed_slice]
pub static PRE_FORK: [MasterHook];
/// `#[on_reload]` hooks.
#[distributed_slice]
pub static ON_RELOAD: [MasterHook];
/// `#[nworkers_changed]` hooks.
#[distributed_slice]
pub static NWORKERS_CHANGED: [NWorkersChangedHook];
/// `#[worker_int]` hooks.
#[distributed_slice]
pub static WORKER_INT: [WorkerHook];
/// `#[worker_abort]` hooks.
#[distributed_slice]
pub static WORKER_ABORT: [WorkerHook];
/// `#[on_exit]` hooks.
#[distributed_slice]
pub static ON_EXIT: [MasterHook];
/// `#[child_exit]` hooks.
#[distributed_slice]
pub static CHILD_EXIT: [ChildExitHook];
/// `#[post_fork]` hooks (at most one).
#[distributed_slice]
pub static POST_FORK: [PostForkHook];
/// `#[worker_init]` hooks (at most one).
#[distributed_slice]
pub static WORKER_INIT: [WorkerInitHook];
/// `#[worker_exit]` hooks (at most one).
#[distributed_slice]
pub static WORKER_EXIT: [WorkerExitHook];

/// What a lifecycle hook may return: `()`, or `Result<(), E>` where `E: Display` (an `Err` is the
/// hook's failure, reported with that message). The hook macros accept any return type spelled
/// as an alias (`forkline::Result<()>`, `anyhow::Result<()>`, a type of yours) and let this trait
/// decide.
#[diagnostic::on_unimplemented(
    message = "a lifecycle hook returns `()` or `Result<(), E>` where `E: Display`, not `{Self}`",
    label = "this return type",
    note = "return `Ok(())` on success; a value in `Ok` would have nobody to take it"
)]
pub trait HookReturn {
    /// The hook's outcome.
    #[doc(hidden)]
    fn into_hook_result(self) -> HookResult;
}

impl HookReturn for () {
    fn into_hook_result(self) -> HookResult {
        Ok(())
    }
}

impl<E: fmt::Display> HookReturn for Result<(), E> {
    fn into_hook_result(self) -> HookResult {
        self.map_err(|e| e.to_string().into())
    }
}
