//! The few operating-system calls the pre-fork server needs, each wrapped once.

use std::io;
use std::time::Duration;

pub(crate) enum Forked {
    Child,
    Parent(libc::pid_t),
}

pub(crate) fn fork() -> io::Result<Forked> {
    // SAFETY: the master calls this from its single control thread; the child only runs the
    // worker code path and never returns into the master's loop (see `master::spawn`).
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Exits now, without running destructors or atexit handlers inherited from the master.
pub(crate) fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit has no preconditions.
    unsafe { libc::_exit(code) }
}

/// The signals the master handles synchronously.
pub(crate) const MASTER_SIGNALS: [libc::c_int; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

pub(crate) struct SignalMask(libc::sigset_t);

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks `signals` on this thread (threads started later inherit the mask); returns the old mask.
pub(crate) fn block(signals: &[libc::c_int]) -> io::Result<SignalMask> {
    let set = sigset(signals);
    // SAFETY: both pointers are valid for the call.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        match libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) {
            0 => Ok(SignalMask(old)),
            rc => Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

pub(crate) fn restore(mask: &SignalMask) {
    // SAFETY: the mask came from pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut());
    }
}

/// Waits up to `timeout` for one of `signals` (which must be blocked).
pub(crate) fn wait_signal(signals: &[libc::c_int], timeout: Duration) -> Option<libc::c_int> {
    let set = sigset(signals);
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: valid set and timespec; the siginfo out-parameter may be null.
    let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
    (sig > 0).then_some(sig)
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
