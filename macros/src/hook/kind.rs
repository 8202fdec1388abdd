//! The lifecycle points a hook can attach to, and what each one accepts.

/// A context type a hook may take by shared reference.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Param {
    Master,
    Worker,
    WorkerExit,
    WorkersChanged,
}

impl Param {
    pub(crate) fn from_ident(name: &str) -> Option<Self> {
        match name {
            "Master" => Some(Self::Master),
            "Worker" => Some(Self::Worker),
            "WorkerExit" => Some(Self::WorkerExit),
            "WorkersChanged" => Some(Self::WorkersChanged),
            _ => None,
        }
    }

    /// The name the generated wrapper gives this context.
    pub(crate) fn binding(self) -> &'static str {
        match self {
            Self::Master => "__forkline_master",
            Self::Worker => "__forkline_worker",
            Self::WorkerExit => "__forkline_exit",
            Self::WorkersChanged => "__forkline_change",
        }
    }

    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::Master => "Master",
            Self::Worker => "Worker",
            Self::WorkerExit => "WorkerExit",
            Self::WorkersChanged => "WorkersChanged",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HookKind {
    OnStarting,
    PreFork,
    WhenReady,
    PostFork,
    WorkerInit,
    WorkerExit,
    ChildExit,
    OnExit,
    OnReload,
    NWorkersChanged,
    WorkerInt,
    WorkerAbort,
}

impl HookKind {
    pub(crate) fn attr_name(self) -> &'static str {
        match self {
            Self::OnStarting => "on_starting",
            Self::PreFork => "pre_fork",
            Self::WhenReady => "when_ready",
            Self::PostFork => "post_fork",
            Self::WorkerInit => "worker_init",
            Self::WorkerExit => "worker_exit",
            Self::ChildExit => "child_exit",
            Self::OnExit => "on_exit",
            Self::OnReload => "on_reload",
            Self::NWorkersChanged => "nworkers_changed",
            Self::WorkerInt => "worker_int",
            Self::WorkerAbort => "worker_abort",
        }
    }

    /// Where the hook runs, for error messages.
    pub(crate) fn runs_in(self) -> &'static str {
        match self {
            Self::OnStarting
            | Self::PreFork
            | Self::WhenReady
            | Self::ChildExit
            | Self::OnExit
            | Self::OnReload
            | Self::NWorkersChanged => "the master process",
            Self::PostFork
            | Self::WorkerInit
            | Self::WorkerExit
            | Self::WorkerInt
            | Self::WorkerAbort => "a worker process",
        }
    }

    /// The context types this hook may take, in any order, each at most once.
    pub(crate) fn allowed_params(self) -> &'static [Param] {
        match self {
            Self::OnStarting | Self::PreFork | Self::WhenReady | Self::OnExit | Self::OnReload => {
                &[Param::Master]
            }
            Self::ChildExit => &[Param::Master, Param::WorkerExit],
            Self::NWorkersChanged => &[Param::Master, Param::WorkersChanged],
            Self::PostFork
            | Self::WorkerInit
            | Self::WorkerExit
            | Self::WorkerInt
            | Self::WorkerAbort => &[Param::Worker],
        }
    }

    /// Master hooks and `post_fork` run before any async runtime exists in their process;
    /// `worker_int` and `worker_abort` run while the worker is stopping (`worker_abort` while its
    /// runtime is stuck), so they are plain functions too.
    pub(crate) fn allows_async(self) -> bool {
        matches!(self, Self::WorkerInit | Self::WorkerExit)
    }

    /// Hooks that carry the process's telemetry configuration: one per binary.
    pub(crate) fn is_singleton(self) -> bool {
        matches!(self, Self::PostFork | Self::WorkerInit | Self::WorkerExit)
    }

    /// What an `Err` from the hook does, for error messages.
    pub(crate) fn on_err(self) -> &'static str {
        match self {
            Self::OnStarting | Self::PreFork | Self::WhenReady | Self::OnExit => {
                "stops the master with that message"
            }
            Self::PostFork | Self::WorkerInit | Self::WorkerExit => {
                "stops the worker's boot with that message"
            }
            Self::ChildExit
            | Self::OnReload
            | Self::NWorkersChanged
            | Self::WorkerInt
            | Self::WorkerAbort => "is logged, and the server goes on",
        }
    }

    /// Why the hook cannot be `async`, where it is not that no runtime exists yet.
    pub(crate) fn why_not_async(self) -> Option<&'static str> {
        match self {
            Self::WorkerInt => Some("they run in a worker process that is stopping quickly"),
            Self::WorkerAbort => {
                Some("they run on a worker's abort thread, outside its runtime, which is stuck")
            }
            _ => None,
        }
    }

    /// The runtime's registry (a `linkme` distributed slice) and descriptor type.
    pub(crate) fn registry(self) -> (&'static str, &'static str) {
        match self {
            Self::OnStarting => ("ON_STARTING", "MasterHook"),
            Self::PreFork => ("PRE_FORK", "MasterHook"),
            Self::WhenReady => ("WHEN_READY", "MasterHook"),
            Self::OnExit => ("ON_EXIT", "MasterHook"),
            Self::OnReload => ("ON_RELOAD", "MasterHook"),
            Self::NWorkersChanged => ("NWORKERS_CHANGED", "NWorkersChangedHook"),
            Self::WorkerInt => ("WORKER_INT", "WorkerHook"),
            Self::WorkerAbort => ("WORKER_ABORT", "WorkerHook"),
            Self::ChildExit => ("CHILD_EXIT", "ChildExitHook"),
            Self::PostFork => ("POST_FORK", "PostForkHook"),
            Self::WorkerInit => ("WORKER_INIT", "WorkerInitHook"),
            Self::WorkerExit => ("WORKER_EXIT", "WorkerExitHook"),
        }
    }
}
