//! The few operating-system calls the pre-fork server needs, each wrapped once.

use std::io;

pub(crate) enum Forked {
    Child,
    Parent(libc::pid_t),
}

pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: the master calls this from its single control thread; the child only runs the
    // worker code path and never returns into the master's loop (see `Supervisor::spawn`).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// How long an exit waits for std's stdout to be flushed.
const STDOUT_FLUSH_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Exits now, without running destructors or atexit handlers inherited from the master. What
/// `print!` left in std's stdout buffer is flushed, but on a thread of its own and waited for
/// briefly: a request stuck while it holds stdout's lock (in a `println!` to a full pipe, say)
/// would otherwise hold the exit until the master's KILL. std's stderr is unbuffered.
pub(crate) fn exit_now(code: i32) -> ! {
    let (flushed, done) = std::sync::mpsc::sync_channel(1);
    let flusher = std::thread::Builder::new()
        .name("forkline-exit".into())
        .spawn(move || {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            let _ = flushed.send(());
        });
    if flusher.is_ok() {
        let _ = done.recv_timeout(STDOUT_FLUSH_WAIT);
    }
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

pub(crate) enum Reaped {
    Exited(libc::pid_t, i32),
    Signaled(libc::pid_t, i32),
}

/// One exited child, if any, without blocking.
pub(crate) fn reap() -> Option<Reaped> {
    let mut status = 0;
    // SAFETY: status is a valid out-parameter.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    if pid <= 0 {
        return None;
    }
    if libc::WIFEXITED(status) {
        Some(Reaped::Exited(pid, libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(Reaped::Signaled(pid, libc::WTERMSIG(status)))
    } else {
        // Stopped or continued: not an exit; look again next time.
        None
    }
}

pub(crate) fn kill(pid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: kill has no memory-safety preconditions; a vanished pid gives ESRCH.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Asks the kernel to send `signal` to this process when its parent dies, so workers never
/// outlive a master that was killed.
pub(crate) fn die_with_parent(signal: libc::c_int) {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and no pointers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong);
    }
}

/// Whether a process with this pid exists (ours or another user's: `EPERM` says it does).
pub(crate) fn is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; no memory is involved.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// This process's real user id.
pub(crate) fn user_id() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}

pub(crate) fn parent_pid() -> u32 {
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() as u32 }
}

/// Threads in this process (Linux: entries of /proc/self/task); 1 where it cannot be told.
pub(crate) fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| dir.count())
        .unwrap_or(1)
}

/// A thread of this process other than the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OtherThread {
    pub(crate) tid: i32,
    /// Its name as the kernel keeps it (`comm`: at most 15 bytes).
    pub(crate) name: String,
}

/// Every thread of this process but the calling one, by name.
pub(crate) fn other_threads() -> Vec<OtherThread> {
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut threads: Vec<OtherThread> = dir
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let tid: i32 = entry.file_name().to_str()?.parse().ok()?;
            // A thread that exits while we look has no comm left: it is gone, not a hazard.
            let name = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (tid != me).then(|| OtherThread {
                tid,
                name: name.trim_end().to_string(),
            })
        })
        .collect();
    threads.sort_by_key(|t| t.tid);
    threads
}

/// Milliseconds on the monotonic clock, which every process of the machine shares: a worker's
/// heartbeat is written in it and read by the master.
pub(crate) fn monotonic_ms() -> u64 {
    clock_ms(libc::CLOCK_MONOTONIC)
}

/// Milliseconds on `clock`, one of the monotonic clocks every Linux has.
fn clock_ms(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; the clocks used here always exist on Linux (the coarse one
    // since 2.6.32).
    unsafe { libc::clock_gettime(clock, &mut now) };
    (now.tv_sec as u64) * 1000 + (now.tv_nsec as u64) / 1_000_000
}

/// The bytes waiting to be read on socket `fd` (0 when it cannot say).
pub(crate) fn bytes_to_read(fd: std::os::fd::RawFd) -> usize {
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through a valid pointer; a bad fd only fails.
    let ok = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut waiting) } == 0;
    if ok {
        waiting.max(0) as usize
    } else {
        0
    }
}

/// `monotonic_ms` at the clock's coarse resolution (a few milliseconds), for the request path:
/// read from the vDSO without a system call or a hardware counter. 0 only at boot.
pub(crate) fn coarse_monotonic_ms() -> u64 {
    clock_ms(libc::CLOCK_MONOTONIC_COARSE)
}

/// The resident memory of process `pid` in bytes, from `/proc/<pid>/statm`; `None` once it is
/// gone.
pub(crate) fn rss_bytes(pid: libc::pid_t) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages.saturating_mul(u64::try_from(page).ok()?))
}
