//! The hooks of this binary, read once from the registries and checked against each other.

use crate::config::hook_args::{HookArgs, OtelArgs, SentryArgs};
use crate::error::{Error, Result};
use crate::lifecycle::hooks::{
    ChildExitHook, HookSite, MasterHook, NWorkersChangedHook, PostForkHook, WorkerExitHook,
    WorkerHook, WorkerInitHook, CHILD_EXIT, NWORKERS_CHANGED, ON_EXIT, ON_RELOAD, ON_STARTING,
    POST_FORK, PRE_FORK, WHEN_READY, WORKER_ABORT, WORKER_EXIT, WORKER_INIT, WORKER_INT,
};

/// Every hook of the binary, in the order each point runs them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) on_starting: &'static [MasterHook],
    pub(crate) when_ready: &'static [MasterHook],
    pub(crate) pre_fork: &'static [MasterHook],
    pub(crate) on_reload: &'static [MasterHook],
    pub(crate) nworkers_changed: &'static [NWorkersChangedHook],
    pub(crate) on_exit: &'static [MasterHook],
    pub(crate) child_exit: &'static [ChildExitHook],
    pub(crate) worker_int: &'static [WorkerHook],
    pub(crate) worker_abort: &'static [WorkerHook],
    pub(crate) post_fork: Option<&'static PostForkHook>,
    pub(crate) worker_init: Option<&'static WorkerInitHook>,
    pub(crate) worker_exit: Option<&'static WorkerExitHook>,
}

impl Plan {
    /// Reads the registries. Two `post_fork` (or `worker_init`, `worker_exit`) hooks in one
    /// crate are a compile error; across crates of one binary this is where they are caught.
    pub(crate) fn collect() -> Result<Self> {
        Ok(Self {
            on_starting: &ON_STARTING,
            when_ready: &WHEN_READY,
            pre_fork: &PRE_FORK,
            on_reload: &ON_RELOAD,
            nworkers_changed: &NWORKERS_CHANGED,
            on_exit: &ON_EXIT,
            child_exit: &CHILD_EXIT,
            worker_int: &WORKER_INT,
            worker_abort: &WORKER_ABORT,
            post_fork: singleton("post_fork", &POST_FORK, |h| &h.site)?,
            worker_init: singleton("worker_init", &WORKER_INIT, |h| &h.site)?,
            worker_exit: singleton("worker_exit", &WORKER_EXIT, |h| &h.site)?,
        })
    }

    /// The telemetry arguments of these hooks, for configuration.
    pub(crate) fn hook_args(&self) -> HookArgs {
        HookArgs {
            otel: self.post_fork.map_or(OtelArgs::NONE, |h| h.otel),
            sentry: self.worker_init.map_or(SentryArgs::DEFAULT, |h| h.sentry),
            propagators: self.worker_init.and_then(|h| h.propagators),
            worker_exit_deadline_ms: self.worker_exit.and_then(|h| h.deadline_ms),
            user_crate: self.user_crate(),
        }
    }

    /// The crate that defined the process's hooks: its name and version make the default
    /// `service.name`, `service.version` and Sentry release.
    pub(crate) fn user_crate(&self) -> Option<(&'static str, &'static str)> {
        let site = self
            .worker_init
            .map(|h| &h.site)
            .or(self.post_fork.map(|h| &h.site))
            .or(self.worker_exit.map(|h| &h.site))
            .or(self.on_starting.first().map(|h| &h.site))?;
        Some((site.crate_name, site.crate_version))
    }
}

fn singleton<T>(
    name: &str,
    hooks: &'static [T],
    site: impl Fn(&T) -> &HookSite,
) -> Result<Option<&'static T>> {
    match hooks {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        [first, rest @ ..] => {
            let others: Vec<String> = rest.iter().map(|h| site(h).to_string()).collect();
            Err(Error::Hook {
                hook: site(first).to_string(),
                message: format!(
                    "a binary may have one #[{name}] hook, but {} also define one; each sets up \
                     the worker's telemetry, so merge them into one function",
                    others.join(", ")
                ),
            })
        }
    }
}
