//! How a worker that could not boot tells the master why: one small file in the run folder,
//! written by the worker before it exits with `BOOT_ERROR`, read and removed by the master when
//! it reaps it. The master then stops with that message instead of respawning a worker that
//! cannot start. A file rather than a pipe: nothing to hand down through `fork()` to every later
//! worker, and nothing to close.

use std::path::{Path, PathBuf};

fn path(run_dir: &Path, pid: u32) -> PathBuf {
    run_dir.join(format!("boot-failure-{pid}.txt"))
}

/// In the worker: records why it could not boot. A failure to write is logged, not fatal: the
/// worker is exiting with `BOOT_ERROR` either way.
pub(crate) fn record(run_dir: &Path, pid: u32, message: &str) {
    if let Err(e) = std::fs::write(path(run_dir, pid), message) {
        crate::diag::log_warn!("could not record the boot failure for the master: {e}");
    }
}

/// In the master: the reason worker `pid` gave, if it left one; the file is removed.
pub(crate) fn take(run_dir: &Path, pid: u32) -> Option<String> {
    let path = path(run_dir, pid);
    let message = std::fs::read_to_string(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    Some(message)
}
