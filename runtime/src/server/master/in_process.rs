//! `Server::no_fork`: the worker runs in the master's own process, with the same hooks in the
//! same order and no supervisor; its exit code is the server's result.

use crate::error::{Error, Result};
use crate::lifecycle::run;
use crate::lifecycle::{ExitStatus, WorkerExit};
use crate::server::app::App;
use crate::server::master::boot_failure;
use crate::server::master::supervisor::Booted;
use crate::server::worker::worker_run::{WorkerRun, BOOT_ERROR};

/// Runs the one worker in this process (`Server::no_fork`) and its hooks, and gives its exit as
/// the server's result.
pub(crate) fn serve<A: App>(booted: &Booted<'_, A>) -> Result<()> {
    let Booted {
        master,
        plan,
        config,
        settings,
        listeners,
        app,
        board,
    } = *booted;
    master.set_forking_worker(Some(0));
    run::master_hooks("pre_fork", plan.pre_fork, master)?;
    master.set_forking_worker(None);
    let code = WorkerRun {
        id: 0,
        slot: 0,
        master_pid: master.pid(),
        forked: false,
        plan,
        config,
        settings,
        listeners,
        app,
        mask: None,
        board,
    }
    .run();
    let exit = WorkerExit {
        worker_id: 0,
        pid: master.pid(),
        status: ExitStatus::Exited(code),
    };
    run::child_exit_hooks(plan.child_exit, master, &exit)?;
    match code {
        0 => Ok(()),
        BOOT_ERROR => Err(Error::WorkerBoot {
            worker_id: 0,
            code,
            message: boot_failure::take(&config.run_dir, master.pid())
                .unwrap_or_else(|| "its error is logged above".into()),
        }),
        code => Err(Error::WorkerFailed { worker_id: 0, code }),
    }
}
