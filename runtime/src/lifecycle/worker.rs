//! `Worker`: a worker process as its hooks and app see it, and `WorkerExit`, how one ended as
//! `child_exit` sees it. The process's own life (boot, serve, exit) is `server::worker_run`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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
#[non_exhaustive]
pub struct WorkerExit {
    /// The worker's id (`Worker::id`: 0 to `workers - 1`; a worker started by a HUP takes the id
    /// of the one it replaces).
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
