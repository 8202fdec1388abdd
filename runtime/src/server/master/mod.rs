//! The master: its boot, its state machine over the workers, their exits and what is counted
//! of them, binary upgrades, the pid file and systemd's notify protocol.

pub(crate) mod binary_upgrade;
pub(crate) mod boot_failure;
pub(crate) mod crash_loop;
pub(crate) mod exit_kind;
pub(crate) mod in_process;
pub(crate) mod master_boot;
pub(crate) mod master_report;
pub(crate) mod overdue;
pub(crate) mod pidfile;
pub(crate) mod sd_notify;
pub(crate) mod supervisor;
pub(crate) mod upgrade;
