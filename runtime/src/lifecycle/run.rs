//! Running the user's hooks: an `Err` or a panic becomes an [`Error::Hook`] naming the hook.

use crate::error::{Error, Result};
use crate::lifecycle::hooks::{
    ChildExitHook, HookResult, HookSite, MasterHook, NWorkersChangedHook, WorkerHook,
};
use crate::lifecycle::{Master, Worker, WorkerExit, WorkersChanged};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn guarded(site: &HookSite, point: &str, f: impl FnOnce() -> HookResult) -> Result<()> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::Hook {
            hook: format!("#[{point}] {site}"),
            message: e.to_string(),
        }),
        Err(panic) => Err(Error::Hook {
            hook: format!("#[{point}] {site}"),
            message: format!("panicked: {}", panic_message(&*panic)),
        }),
    }
}

use crate::diag::panic_message;

pub(crate) fn master_hooks(point: &str, hooks: &[MasterHook], master: &Master) -> Result<()> {
    hooks
        .iter()
        .try_for_each(|hook| guarded(&hook.site, point, || (hook.run)(master)))
}

pub(crate) fn child_exit_hooks(
    hooks: &[ChildExitHook],
    master: &Master,
    exit: &WorkerExit,
) -> Result<()> {
    hooks
        .iter()
        .try_for_each(|hook| guarded(&hook.site, "child_exit", || (hook.run)(master, exit)))
}

pub(crate) fn nworkers_changed_hooks(
    hooks: &[NWorkersChangedHook],
    master: &Master,
    change: &WorkersChanged,
) -> Result<()> {
    hooks.iter().try_for_each(|hook| {
        guarded(&hook.site, "nworkers_changed", || {
            (hook.run)(master, change)
        })
    })
}

/// Runs every hook of a worker point without telemetry arguments (`worker_int`,
/// `worker_abort`); each one's error is logged, and the next still runs.
pub(crate) fn worker_hooks(point: &str, hooks: &[WorkerHook], worker: &Worker) {
    for hook in hooks {
        if let Err(e) = guarded(&hook.site, point, || (hook.run)(worker)) {
            crate::diag::log_error!("{e}");
        }
    }
}

/// A worker hook's site and generated wrapper.
pub(crate) type WorkerHookRef<'a> = (&'a HookSite, fn(&Worker) -> HookResult);

/// Runs the worker hook of `point`, if the binary has one.
pub(crate) fn optional_worker_hook(
    point: &str,
    hook: Option<WorkerHookRef<'_>>,
    worker: &Worker,
) -> Result<()> {
    match hook {
        Some((site, run)) => guarded(site, point, || run(worker)),
        None => Ok(()),
    }
}
