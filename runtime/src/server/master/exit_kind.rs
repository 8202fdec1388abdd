//! What a reaped worker's exit was, from its status and what the master had asked of it: each
//! exit is counted once, under what happened, in the master's report and its log line.

use crate::lifecycle::ExitStatus;
use crate::server::worker::max_requests::RECYCLED;
use crate::server::worker::worker_run::BOOT_ERROR;

/// Why the master asked a worker to stop while the server runs on, so that its exit is logged
/// and counted for what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retiring {
    /// TTOU: one worker fewer.
    Fewer,
    /// HUP: replaced by a new worker.
    Replaced,
    /// Its runtime made no progress for the timeout: sent ABRT at `since`, KILL after the grace.
    TimedOut {
        since: std::time::Instant,
        killed: bool,
    },
    /// WINCH during a binary upgrade: the new master's workers take over.
    Winched,
    /// Its resident memory passed `reload_on_rss`: replaced like a HUP replaces it.
    Memory,
}

/// What the master had asked of a worker that exited with `status`: why it was retiring, if
/// it was, and whether the server is stopping (`Some(killed)`: the stop's KILL was sent). A
/// KILL at the end of the stop's timeout is that, even for a worker a HUP or TTOU had asked to
/// stop before.
pub(crate) fn asked(
    retiring: Option<Retiring>,
    stopping: Option<bool>,
    status: ExitStatus,
) -> Asked {
    let killed_at_stop = stopping == Some(true) && status == ExitStatus::Signaled(libc::SIGKILL);
    match retiring {
        Some(Retiring::TimedOut { .. }) => Asked::Timeout,
        _ if killed_at_stop => Asked::Stop { killed: true },
        Some(Retiring::Replaced) => Asked::Hup,
        Some(Retiring::Fewer) => Asked::Ttou,
        Some(Retiring::Winched) => Asked::Winch,
        Some(Retiring::Memory) => Asked::Memory,
        None => match stopping {
            Some(killed) => Asked::Stop { killed },
            None => Asked::Nothing,
        },
    }
}

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
    use crate::server::worker::timeout::TIMED_OUT;
    use crate::server::worker::worker_run::SERVE_ERROR;
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

    #[test]
    fn what_was_asked_follows_the_retiring_reason_and_the_stop() {
        let kill = ExitStatus::Signaled(libc::SIGKILL);
        let clean = ExitStatus::Exited(0);
        let timed_out = Retiring::TimedOut {
            since: std::time::Instant::now(),
            killed: true,
        };
        // The timeout wins even over the stop's KILL: the worker was aborted for it.
        assert_eq!(asked(Some(timed_out), Some(true), kill), Asked::Timeout);
        // A HUP's or TTOU's worker still running at the stop's KILL was killed by the stop.
        assert_eq!(
            asked(Some(Retiring::Replaced), Some(true), kill),
            Asked::Stop { killed: true }
        );
        assert_eq!(
            asked(Some(Retiring::Fewer), Some(true), kill),
            Asked::Stop { killed: true }
        );
        // ...but one that exited cleanly during the stop exits for what it was asked.
        assert_eq!(
            asked(Some(Retiring::Replaced), Some(true), clean),
            Asked::Hup
        );
        assert_eq!(asked(Some(Retiring::Fewer), None, clean), Asked::Ttou);
        assert_eq!(asked(Some(Retiring::Winched), None, clean), Asked::Winch);
        assert_eq!(asked(Some(Retiring::Memory), None, clean), Asked::Memory);
        assert_eq!(
            asked(None, Some(false), clean),
            Asked::Stop { killed: false }
        );
        assert_eq!(asked(None, None, kill), Asked::Nothing);
        // And each goes through `classify` to one kind.
        assert_eq!(classify(kill, asked(None, None, kill)), ExitKind::Crashed);
        assert_eq!(
            classify(kill, asked(None, Some(true), kill)),
            ExitKind::Killed
        );
        assert_eq!(
            classify(clean, asked(Some(Retiring::Replaced), None, clean)),
            ExitKind::ReplacedByHup
        );
    }
}
