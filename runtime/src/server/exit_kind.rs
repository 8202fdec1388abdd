//! What a reaped worker's exit was, from its status and what the master had asked of it: each
//! exit is counted once, under what happened, in the master's report and its log line.

use crate::lifecycle::ExitStatus;
use crate::server::max_requests::RECYCLED;
use crate::server::worker_run::BOOT_ERROR;

/// What the master had asked of a worker when it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    /// Nothing: it was serving.
    Nothing,
    /// The server is stopping (TERM, INT, QUIT to the master); `killed`: the master sent KILL
    /// at the end of the graceful (or quick) timeout.
    Stop { killed: bool },
    /// HUP: its replacement was ready.
    Hup,
    /// TTOU: one worker fewer.
    Ttou,
    /// WINCH during a binary upgrade.
    Winch,
    /// Its timeout: ABRT, then KILL after the grace.
    Timeout,
    /// Its memory passed `reload_on_rss`: replaced first, then stopped.
    Memory,
}

/// What an exit was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitKind {
    /// Stopped with the server, gracefully and in time.
    Stopped,
    /// Still running at the end of the stop's timeout: KILLed by the master.
    Killed,
    /// Aborted for its timeout (ABRT, and KILL if it did not exit within the grace).
    TimedOut,
    /// Ended by a signal the master did not send (a segfault, an abort, a KILL from outside such
    /// as the OOM killer), by a non-zero exit, or by exiting unasked.
    Crashed,
    /// Recycled at `max_requests`, or replaced for its memory (`reload_on_rss`).
    Recycled,
    /// Replaced after a HUP.
    ReplacedByHup,
    /// Stopped by TTOU.
    FewerByTtou,
    /// Stopped by WINCH during a binary upgrade.
    Winched,
    /// Could not boot.
    BootFailed,
}

/// The one rule for every exit. A worker asked to stop ends cleanly with code 0, or with the
/// recycle code if it reached `max_requests` while it drained; anything else is what happened
/// to it, whatever it had been asked.
pub(crate) fn classify(status: ExitStatus, asked: Asked) -> ExitKind {
    let clean = matches!(status, ExitStatus::Exited(0 | RECYCLED));
    match (status, asked) {
        (ExitStatus::Exited(BOOT_ERROR), _) => ExitKind::BootFailed,
        (_, Asked::Timeout) => ExitKind::TimedOut,
        (ExitStatus::Signaled(libc::SIGKILL), Asked::Stop { killed: true }) => ExitKind::Killed,
        (ExitStatus::Exited(RECYCLED), Asked::Nothing) => ExitKind::Recycled,
        _ if !clean => ExitKind::Crashed,
        (_, Asked::Nothing) => ExitKind::Crashed,
        (_, Asked::Stop { .. }) => ExitKind::Stopped,
        (_, Asked::Hup) => ExitKind::ReplacedByHup,
        (_, Asked::Ttou) => ExitKind::FewerByTtou,
        (_, Asked::Winch) => ExitKind::Winched,
        (_, Asked::Memory) => ExitKind::Recycled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::timeout::TIMED_OUT;
    use crate::server::worker_run::SERVE_ERROR;
    use Asked::*;
    use ExitKind::*;
    use ExitStatus::{Exited, Signaled};

    #[test]
    fn every_exit_is_counted_once_under_what_happened() {
        let stop = Stop { killed: false };
        let stop_killed = Stop { killed: true };
        let table = [
            // Graceful and in time.
            (Exited(0), stop, Stopped),
            (Exited(0), stop_killed, Stopped),
            (Exited(RECYCLED), stop, Stopped),
            // KILL at the end of the graceful timeout.
            (Signaled(libc::SIGKILL), stop_killed, Killed),
            // A KILL the master did not send, during a stop or while serving: a crash.
            (Signaled(libc::SIGKILL), stop, Crashed),
            (Signaled(libc::SIGKILL), Nothing, Crashed),
            // Signals while serving (abort(), a segfault) and non-zero exits.
            (Signaled(libc::SIGABRT), Nothing, Crashed),
            (Signaled(libc::SIGSEGV), Nothing, Crashed),
            (Signaled(libc::SIGSEGV), stop, Crashed),
            (Signaled(libc::SIGSEGV), Hup, Crashed),
            (Exited(SERVE_ERROR), Nothing, Crashed),
            (Exited(7), Ttou, Crashed),
            (Exited(TIMED_OUT), Nothing, Crashed),
            // Exiting unasked with 0 (the app returned, INT sent to the worker itself).
            (Exited(0), Nothing, Crashed),
            // The timeout's path: its own exit code, or KILL after the grace.
            (Exited(TIMED_OUT), Timeout, TimedOut),
            (Signaled(libc::SIGKILL), Timeout, TimedOut),
            (Signaled(libc::SIGABRT), Timeout, TimedOut),
            // max_requests.
            (Exited(RECYCLED), Nothing, Recycled),
            // What the master asked, done cleanly.
            (Exited(0), Hup, ReplacedByHup),
            (Exited(RECYCLED), Hup, ReplacedByHup),
            (Exited(0), Ttou, FewerByTtou),
            (Exited(0), Winch, Winched),
            (Exited(0), Memory, Recycled),
            (Signaled(libc::SIGSEGV), Memory, Crashed),
            // A worker that could not boot, whatever was asked.
            (Exited(BOOT_ERROR), Nothing, BootFailed),
            (Exited(BOOT_ERROR), stop, BootFailed),
            (Exited(BOOT_ERROR), Hup, BootFailed),
        ];
        for (status, asked, expected) in table {
            assert_eq!(
                classify(status, asked),
                expected,
                "{status:?} after {asked:?}"
            );
        }
    }
}
