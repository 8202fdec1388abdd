//! The lifecycle context handed to hooks: `&Master`, `&Worker`, `&WorkerExit`.

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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

    /// The bound address; `None` in `on_starting`, which runs before binding.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr.get()
    }

    pub(crate) fn set_local_addr(&self, addr: SocketAddr) {
        self.local_addr.set(Some(addr));
    }

    /// In `pre_fork`: the slot number of the worker about to be forked.
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

/// A worker process, as its hooks and app see it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Worker {
    inner: Arc<WorkerInner>,
}

#[derive(Debug)]
struct WorkerInner {
    id: usize,
    pid: u32,
    master_pid: u32,
    instance_id: String,
    run_dir: PathBuf,
    runtime: OnceLock<tokio::runtime::Handle>,
}

impl Worker {
    pub(crate) fn new(id: usize, master_pid: u32, run_dir: PathBuf) -> Self {
        let pid = std::process::id();
        Self {
            inner: Arc::new(WorkerInner {
                id,
                pid,
                master_pid,
                instance_id: crate::identity::instance_id(pid),
                run_dir,
                runtime: OnceLock::new(),
            }),
        }
    }

    /// The worker's slot number, `0..workers`; a replacement worker reuses its slot.
    pub fn id(&self) -> usize {
        self.inner.id
    }

    /// The worker's process id.
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// The master's process id (the worker's own in no-fork mode).
    pub fn master_pid(&self) -> u32 {
        self.inner.master_pid
    }

    /// `service.instance.id` of this worker's telemetry: unique per worker process.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// The folder for this run's telemetry files and worker reports.
    pub fn run_dir(&self) -> &Path {
        &self.inner.run_dir
    }

    /// The worker's async runtime; `None` in `post_fork`, which runs before it exists.
    pub fn runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.inner.runtime.get()
    }

    pub(crate) fn set_runtime(&self, handle: tokio::runtime::Handle) {
        // Set once per worker process, right after the runtime is built.
        let _ = self.inner.runtime.set(handle);
    }
}

/// How a worker process ended, as `child_exit` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerExit {
    /// The worker's slot number.
    pub worker_id: usize,
    /// Its process id.
    pub pid: u32,
    /// How it ended.
    pub status: ExitStatus,
}

/// A reaped process's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signaled(i32),
}

impl ExitStatus {
    /// Whether the worker exited on its own with code 0.
    pub fn success(self) -> bool {
        self == Self::Exited(0)
    }
}
