//! Processes a test started indirectly: a new master started by a binary upgrade (USR2)
//! becomes this test process's child when the old master exits, if the test is a child
//! subreaper, so the test can reap it and see that no zombie is left.

use crate::harness::{signal_pid, wait_until};
use std::path::Path;
use std::time::Duration;

/// The pid written in a pid file.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The state letter of `pid` in /proc (`Z` for a zombie).
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Those of `pids` that are zombies: exited, and not reaped by their parent. Look only at the
/// test's own processes: tests of one file run in parallel, and another's fixture may be
/// exiting at this very moment.
pub fn zombies(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|&pid| state(pid) == Some('Z'))
        .collect()
}

/// Makes this test process adopt its orphaned descendants (a new master whose parent, the old
/// master, exited).
pub fn become_subreaper() {
    // SAFETY: a process attribute, no memory involved.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
}

/// Reaps `pid` (a child of this process by now) within `timeout`; its exit code.
pub fn reap(pid: u32, timeout: Duration) -> Option<i32> {
    wait_until(timeout, || {
        let mut status = 0;
        // SAFETY: a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) };
        (rc == pid as libc::pid_t && libc::WIFEXITED(status)).then(|| libc::WEXITSTATUS(status))
    })
}

/// Kills a process the test started indirectly, if the test fails before it stops it.
#[derive(Debug)]
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) && state(self.0) != Some('Z') {
            signal_pid(self.0, libc::SIGKILL);
        }
    }
}

/// Lines of `pid`'s log (every process of a run writes to the same stderr).
pub fn lines_of(stderr: &str, pid: u32, containing: &str) -> usize {
    let prefix = format!("forkline[{pid}] ");
    stderr
        .lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(containing))
        .count()
}

/// A binary upgrade's first step: USR2 to `old`, whose pid file is `pidfile`; waits (`timeout`
/// at most for each) until the new master it starts has written its pid there and `workers` of
/// its workers are ready. The new master is killed when the guard drops, so a failing test
/// leaves no server behind; its pid is the guard's.
pub fn start_new_master(
    old: &crate::harness::Fixture,
    pidfile: &Path,
    workers: usize,
    timeout: std::time::Duration,
) -> KillOnDrop {
    old.signal(libc::SIGUSR2);
    let new = wait_until(timeout, || {
        read_pid(pidfile).filter(|&p| p != old.pid && alive(p))
    })
    .unwrap_or_else(|| panic!("a new master writes the pid file:\n{}", old.stderr()));
    let guard = KillOnDrop(new);
    wait_until(timeout, || {
        (lines_of(&old.stderr(), new, "is ready [ready=") >= workers).then_some(())
    })
    .unwrap_or_else(|| panic!("the new master's workers are ready:\n{}", old.stderr()));
    guard
}

/// The rest of a binary upgrade: WINCH stops the old master's `workers` gracefully, then TERM
/// stops the old master, which must exit with success.
pub fn retire_old_master(
    old: &mut crate::harness::Fixture,
    workers: usize,
    timeout: std::time::Duration,
) {
    old.signal(libc::SIGWINCH);
    old.wait_for_log("stopped after WINCH", workers);
    old.signal(libc::SIGTERM);
    assert!(
        old.wait_exit(timeout).is_some_and(|s| s.success()),
        "{}",
        old.stderr()
    );
}
