//! `Master`: the master process as its hooks (`on_starting`, `when_ready`, `pre_fork`,
//! `child_exit`, `on_exit`) see it. The supervisor loop that owns it is `server::supervisor`.

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The number of workers the master keeps, changed by TTIN or TTOU: what `#[nworkers_changed]`
/// receives (Gunicorn's `nworkers_changed(arbiter, new_value, old_value)`; the master is the hook's
/// `&Master`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkersChanged {
    /// The new number of workers.
    pub new: usize,
    /// The number before the change.
    pub old: usize,
}

/// The master process, as its hooks see it.
#[derive(Debug)]
pub struct Master {
    pid: u32,
    workers: Cell<usize>,
    local_addr: Cell<Option<SocketAddr>>,
    forking_worker: Cell<Option<usize>>,
    run_dir: PathBuf,
}

impl Master {
    pub(crate) fn new(workers: usize, run_dir: PathBuf) -> Self {
        Self {
            pid: std::process::id(),
            workers: Cell::new(workers),
            local_addr: Cell::new(None),
            forking_worker: Cell::new(None),
            run_dir,
        }
    }

    /// The master's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// How many workers the master keeps running.
    pub fn workers(&self) -> usize {
        self.workers.get()
    }

    pub(crate) fn set_workers(&self, n: usize) {
        self.workers.set(n);
    }

    /// The first TCP address the server listens on; `None` in `on_starting`, which runs before
    /// binding, and when it listens on Unix sockets only.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr.get()
    }

    pub(crate) fn set_local_addr(&self, addr: Option<SocketAddr>) {
        self.local_addr.set(addr);
    }

    /// In `pre_fork`: the id of the worker about to be forked.
    pub fn forking_worker(&self) -> Option<usize> {
        self.forking_worker.get()
    }

    pub(crate) fn set_forking_worker(&self, id: Option<usize>) {
        self.forking_worker.set(id);
    }

    /// The folder for this run's telemetry files and worker reports.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }
}
