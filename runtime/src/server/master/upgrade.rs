//! A binary upgrade as the master lives it (the protocol itself is `binary_upgrade`): USR2
//! starts a new master from this executable on the same sockets, moving the pid file to
//! `<path>.oldbin`; WINCH then stops this master's workers without replacing them (HUP brings
//! them back); TERM retires this master. If the new master dies first, the upgrade failed: the
//! pid file comes back and the workers WINCH stopped start again. A master started by USR2 knows
//! its old master until that one exits, and refuses to be upgraded before.

use crate::lifecycle::ExitStatus;
use crate::server::accept::listeners::Listeners;
use crate::server::master::binary_upgrade::{self, Origin};
use crate::server::master::pidfile::Pidfile;
use crate::server::signals::SignalMask;
use crate::sys;

/// This master's part in upgrades, from its start to its exit.
#[derive(Debug)]
pub(crate) struct Upgrade {
    /// What a USR2 starts; `None` if it could not be read at start.
    origin: Option<Origin>,
    /// The master a USR2 started, while it runs.
    new_master: Option<libc::pid_t>,
    /// The master that started this one (USR2), while it runs.
    old_master: Option<u32>,
    /// The worker count before WINCH stopped them all.
    winched_from: Option<usize>,
}

impl Upgrade {
    pub(crate) fn new(origin: Option<Origin>, old_master: Option<u32>) -> Self {
        Self {
            origin,
            new_master: None,
            old_master,
            winched_from: None,
        }
    }

    /// The master a USR2 started, while it runs.
    pub(crate) fn new_master(&self) -> Option<libc::pid_t> {
        self.new_master
    }

    /// Whether this master is the only one serving on its sockets (no upgrade under way in
    /// either direction): then their files go with it.
    pub(crate) fn alone(&self) -> bool {
        self.new_master.is_none() && self.old_master.is_none()
    }

    /// Why a USR2 now would be refused, if it would.
    fn refusal(&self, stopping: bool) -> Option<String> {
        if stopping {
            Some("this master is stopping".to_string())
        } else if let Some(pid) = self.new_master {
            Some(format!("the new master it started (pid {pid}) still runs"))
        } else if let Some(old) = self.old_master {
            Some(format!(
                "the master this one replaces (pid {old}) still runs: retire it first (WINCH, \
                 then TERM)"
            ))
        } else if self.origin.is_none() {
            Some("this executable's path could not be read at start".to_string())
        } else {
            None
        }
    }

    /// USR2: a new master from this executable on `listeners`, the pid file moved aside first.
    pub(crate) fn start(
        &mut self,
        stopping: bool,
        pidfile: &mut Option<Pidfile>,
        listeners: &Listeners,
        mask: &SignalMask,
    ) {
        if let Some(why) = self.refusal(stopping) {
            crate::diag::log_warn!("USR2 ignored: {why}");
            return;
        }
        let Some(origin) = &self.origin else { return };
        if let Some(pidfile) = pidfile {
            if let Err(e) = pidfile.move_to_oldbin() {
                crate::diag::log_error!(
                    "USR2 ignored: the pid file cannot move to {}: {e}",
                    pidfile.oldbin().display()
                );
                return;
            }
        }
        match binary_upgrade::start_new_master(origin, listeners, mask) {
            Ok(pid) => {
                self.new_master = Some(pid);
                crate::diag::log_notice!(
                    "USR2: started a new master (pid {pid}) from {} on the same sockets; once it \
                     serves, WINCH stops this master's workers and TERM this master",
                    origin.exe().display()
                );
            }
            Err(e) => {
                crate::diag::log_error!(
                    "USR2: cannot start a new master from {}: {e}; this master serves on",
                    origin.exe().display()
                );
                pid_file_back(pidfile);
            }
        }
    }

    /// WINCH with `target` workers running: during an upgrade, whether to stop them all (this
    /// master remembers how many for a HUP or a failed upgrade). Otherwise ignored: a terminal
    /// resize sends WINCH to a master started in the foreground, and must not stop its workers.
    pub(crate) fn winch(&mut self, target: usize, stopping: bool) -> bool {
        let Some(new) = self.new_master else {
            crate::diag::log_notice!(
                "WINCH ignored: it stops this master's workers only during a binary upgrade \
                 (after USR2); a terminal resize sends it too"
            );
            return false;
        };
        if target == 0 || stopping {
            return false;
        }
        crate::diag::log_notice!(
            "WINCH: stopping this master's {target} workers gracefully; the new master (pid \
             {new}) serves; TERM stops this master, HUP starts its workers again"
        );
        self.winched_from = Some(target);
        true
    }

    /// HUP (or a failed upgrade): the worker count WINCH stopped, to start again.
    pub(crate) fn take_winched(&mut self) -> Option<usize> {
        self.winched_from.take()
    }

    /// The new master died before this one was retired: the upgrade failed, this master serves
    /// on and its pid file goes back. The worker count to start again, if WINCH stopped them
    /// and this master is not stopping.
    pub(crate) fn new_master_exited(
        &mut self,
        pid: libc::pid_t,
        status: ExitStatus,
        stopping: bool,
        pidfile: &mut Option<Pidfile>,
    ) -> Option<usize> {
        self.new_master = None;
        crate::diag::log_warn!(
            "the new master (pid {pid}) exited ({status:?}) while this one runs: the binary \
             upgrade did not complete; this master serves on"
        );
        pid_file_back(pidfile);
        if stopping {
            return None;
        }
        let workers = self.winched_from.take()?;
        crate::diag::log_notice!("starting this master's {workers} workers again");
        Some(workers)
    }

    /// Gunicorn's promotion: once the master that started this one has exited, this one is the
    /// only master, and may itself be upgraded.
    pub(crate) fn note_old_master_gone(&mut self) {
        if let Some(old) = self.old_master {
            if sys::parent_pid() != old {
                crate::diag::log_notice!(
                    "the old master (pid {old}) has exited: this master is the only one"
                );
                self.old_master = None;
            }
        }
    }
}

fn pid_file_back(pidfile: &mut Option<Pidfile>) {
    if let Some(pidfile) = pidfile {
        if let Err(e) = pidfile.move_back() {
            crate::diag::log_warn!(
                "the pid file stays at {}: {e}",
                pidfile.location().display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usr2_is_refused_while_another_master_runs_or_this_one_stops() {
        let origin = Origin::capture().ok();
        assert!(origin.is_some(), "the test's own executable");
        let mut upgrade = Upgrade::new(origin, None);
        assert_eq!(upgrade.refusal(false), None);
        assert!(upgrade.alone());
        assert!(upgrade
            .refusal(true)
            .is_some_and(|w| w.contains("stopping")));
        upgrade.new_master = Some(42);
        assert!(upgrade.refusal(false).is_some_and(|w| w.contains("pid 42")));
        assert!(!upgrade.alone());
        let old = Upgrade::new(None, Some(7));
        assert!(old.refusal(false).is_some_and(|w| w.contains("pid 7")));
        let unread = Upgrade::new(None, None);
        assert!(unread.refusal(false).is_some_and(|w| w.contains("path")));
    }

    #[test]
    fn winch_only_during_an_upgrade_and_a_failed_one_starts_the_workers_again() {
        let mut upgrade = Upgrade::new(None, None);
        assert!(!upgrade.winch(4, false), "no upgrade: ignored");
        upgrade.new_master = Some(42);
        assert!(!upgrade.winch(4, true), "stopping: nothing to do");
        assert!(upgrade.winch(4, false));
        let mut no_pidfile = None;
        let restart = upgrade.new_master_exited(42, ExitStatus::Exited(1), false, &mut no_pidfile);
        assert_eq!(restart, Some(4));
        assert_eq!(upgrade.new_master(), None);
        assert_eq!(upgrade.take_winched(), None);
    }
}
