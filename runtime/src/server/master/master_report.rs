//! The master's account of a whole run, written as `master-<pid>.json` in the run folder when
//! it exits: worker exits by cause, and the spans of every worker that has exited, read from
//! its scoreboard record when it is reaped. A worker killed with KILL cannot report what it
//! still held; the record, in memory the master shares, still has its counts, so what it had
//! neither delivered nor dropped is counted as lost with it.

use crate::lifecycle::ExitStatus;
use crate::server::master::exit_kind::ExitKind;
use crate::stats::Stats;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One master's run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MasterReport {
    /// The master's pid.
    pub pid: u32,
    /// Workers forked.
    pub workers_started: u64,
    /// Workers that exited, by cause.
    pub exits: Exits,
    /// Requests the exited workers answered (`serve_axum`).
    pub requests_served: u64,
    /// The exited workers' spans, summed.
    pub spans: SpanAccount,
}

/// Worker exits by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Exits {
    /// Stopped with the server (TERM, INT, QUIT to the master), gracefully and in time.
    pub stopped: u64,
    /// Replaced after a HUP.
    pub replaced_by_hup: u64,
    /// Stopped by TTOU.
    pub fewer_by_ttou: u64,
    /// Stopped by WINCH during a binary upgrade.
    pub winched: u64,
    /// Recycled at `max_requests`.
    pub recycled: u64,
    /// Aborted (ABRT, then KILL if needed) after their `timeout`.
    pub timed_out: u64,
    /// Still running at the end of the stop's timeout (graceful, or the quick stop's): KILLed
    /// by the master.
    pub killed: u64,
    /// Ended by a signal the master did not send (a segfault, an `abort()`, a KILL from
    /// outside such as the OOM killer), by a non-zero exit, or by exiting unasked with code 0.
    pub crashed: u64,
    /// Could not boot.
    pub boot_failed: u64,
}

impl Exits {
    /// All exits.
    pub fn total(&self) -> u64 {
        self.stopped
            + self.replaced_by_hup
            + self.fewer_by_ttou
            + self.winched
            + self.recycled
            + self.timed_out
            + self.killed
            + self.crashed
            + self.boot_failed
    }
}

/// Where the spans of exited workers went: `created = delivered + dropped + lost_with_killed
/// + unaccounted`, exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SpanAccount {
    /// Spans ended (recorded) in the workers.
    pub created: u64,
    /// Spans the exporter delivered (an OTLP backend acknowledged them, or the embedded sink
    /// wrote them).
    pub delivered: u64,
    /// Spans dropped and counted as dropped: export failures, a full queue, the breaker,
    /// shutdown's deadline, an inherited provider, no exporter, over the embedded budget.
    pub dropped: u64,
    /// Spans that workers killed by a signal held, neither delivered nor dropped.
    pub lost_with_killed_workers: u64,
    /// Spans that workers which exited by themselves neither delivered nor counted as dropped:
    /// always 0 unless an account is broken.
    pub unaccounted: u64,
}

impl SpanAccount {
    /// Adds a worker's final counts; `killed`: it died of a signal, so what it held is lost.
    pub(crate) fn add(&mut self, stats: &Stats, killed: bool) {
        let held = stats.spans_dropped_unexported;
        self.created += stats.spans_ended;
        self.delivered += stats.spans_exported;
        self.dropped += stats.spans_ended - stats.spans_exported.min(stats.spans_ended) - held;
        if killed {
            self.lost_with_killed_workers += held;
        } else {
            self.unaccounted += held;
        }
    }
}

impl MasterReport {
    /// Counts a reaped worker's exit under its kind, the requests it served, and its spans
    /// (what a worker ended by a signal held is lost with it).
    pub(crate) fn count_exit(
        &mut self,
        kind: ExitKind,
        status: ExitStatus,
        requests: u64,
        stats: Option<Stats>,
    ) {
        let exits = &mut self.exits;
        let count = match kind {
            ExitKind::Stopped => &mut exits.stopped,
            ExitKind::Killed => &mut exits.killed,
            ExitKind::TimedOut => &mut exits.timed_out,
            ExitKind::Crashed => &mut exits.crashed,
            ExitKind::Recycled => &mut exits.recycled,
            ExitKind::ReplacedByHup => &mut exits.replaced_by_hup,
            ExitKind::FewerByTtou => &mut exits.fewer_by_ttou,
            ExitKind::Winched => &mut exits.winched,
            ExitKind::BootFailed => &mut exits.boot_failed,
        };
        *count += 1;
        self.requests_served += requests;
        if let Some(stats) = stats {
            let signaled = matches!(status, ExitStatus::Signaled(_));
            self.spans.add(&stats, signaled);
        }
    }

    pub(crate) fn write(&self, dir: &Path) -> std::io::Result<()> {
        crate::server::worker::worker_report::write_report(dir, "master", self.pid, self)
    }

    /// One line for the master's log at exit.
    pub(crate) fn summary(&self) -> String {
        let e = &self.exits;
        let s = &self.spans;
        format!(
            "run: {} workers started; exits: stopped {}, HUP {}, TTOU {}, WINCH {}, recycled {}, \
             timeout {}, killed {}, crashes {}, boot failures {}; {} requests; spans: {} \
             created = {} delivered + {} dropped + {} lost with killed workers + {} unaccounted",
            self.workers_started,
            e.stopped,
            e.replaced_by_hup,
            e.fewer_by_ttou,
            e.winched,
            e.recycled,
            e.timed_out,
            e.killed,
            e.crashed,
            e.boot_failed,
            self.requests_served,
            s.created,
            s.delivered,
            s.dropped,
            s.lost_with_killed_workers,
            s.unaccounted
        )
    }
}

/// Every master report in `dir` (one per master: more than one after a binary upgrade), by pid.
pub fn read_master_reports(dir: &Path) -> std::io::Result<Vec<MasterReport>> {
    let mut reports: Vec<MasterReport> =
        crate::server::worker::worker_report::read_report_files(dir, "master")?;
    reports.sort_by_key(|r| r.pid);
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_worker_loses_what_it_held_and_a_clean_exit_accounts_for_everything() {
        let mut account = SpanAccount::default();
        let held = Stats {
            spans_ended: 100,
            spans_exported: 60,
            spans_export_failed: 25,
            spans_discarded_no_exporter: 5,
            spans_dropped_unexported: 10,
            ..Stats::default()
        };
        account.add(&held, true);
        assert_eq!(
            account,
            SpanAccount {
                created: 100,
                delivered: 60,
                dropped: 30,
                lost_with_killed_workers: 10,
                unaccounted: 0,
            }
        );
        let clean = Stats {
            spans_ended: 7,
            spans_exported: 7,
            ..Stats::default()
        };
        account.add(&clean, false);
        account.add(&held, false);
        let a = account;
        assert_eq!(
            a.created,
            a.delivered + a.dropped + a.lost_with_killed_workers + a.unaccounted
        );
        assert_eq!(
            a.unaccounted, 10,
            "a clean exit that does not add up is visible"
        );
    }

    #[test]
    fn each_exit_is_counted_once_under_its_kind_with_its_requests_and_spans() {
        let mut report = MasterReport::default();
        let stats = Stats {
            spans_ended: 4,
            spans_exported: 1,
            spans_dropped_unexported: 3,
            ..Stats::default()
        };
        report.count_exit(ExitKind::Recycled, ExitStatus::Exited(4), 150, Some(stats));
        report.count_exit(
            ExitKind::Crashed,
            ExitStatus::Signaled(libc::SIGKILL),
            9,
            Some(stats),
        );
        report.count_exit(ExitKind::BootFailed, ExitStatus::Exited(3), 0, None);
        assert_eq!((report.exits.recycled, report.exits.crashed), (1, 1));
        assert_eq!(report.exits.boot_failed, 1);
        assert_eq!(report.exits.total(), 3);
        assert_eq!(report.requests_served, 159);
        // The signaled worker's 3 held spans are lost with it; the recycled one's are not.
        assert_eq!(report.spans.lost_with_killed_workers, 3);
        assert_eq!(report.spans.unaccounted, 3);
    }
}
