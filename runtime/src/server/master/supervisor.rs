//! The master's state machine: forks and supervises its workers (the boot before it is
//! `master_boot`, an upgrade's part `upgrade`, the exit rules `exit_kind`). Single-threaded by design: no helper thread exists at
//! fork time. Its signals arrive through its own inbox (`signals.rs`): they stay blocked on the
//! master's thread except while it waits in `ppoll`, so a handler only ever sets a bit there, and
//! a thread the user left running cannot take a signal and die of its default action.
//!
//! Signals follow Gunicorn: TERM graceful stop (workers get TERM, then KILL after the graceful
//! timeout), INT/QUIT quick stop, HUP replaces every worker without a gap in capacity (`on_reload`
//! hooks, then a new worker per slot; each old worker is asked to stop only once its replacement
//! is ready), TTIN/TTOU one worker more/fewer, USR1 reopen logs (forkline logs to stderr, so
//! there is nothing to reopen), USR2 a binary upgrade (a new master from the executable's path,
//! on the same sockets: `binary_upgrade`), WINCH during an upgrade stops this master's workers
//! gracefully (otherwise it is ignored: a terminal resize sends it too). None of them is fatal.
//! A worker that dies is reaped and replaced, as is one that reached its `max_requests`; one that
//! cannot boot stops the master with the worker's reason. Every exit is counted, spans included,
//! in the run's `master_report`.

use crate::config::TelemetryConfig;
use crate::error::{Error, Result};
use crate::health::serving::AbortReason;
use crate::lifecycle::plan::Plan;
use crate::lifecycle::run;
use crate::lifecycle::{ExitStatus, Master, WorkerExit, WorkersChanged};
use crate::server::accept::listeners::Listeners;
use crate::server::app::App;
use crate::server::master::boot_failure;
use crate::server::master::crash_loop::{CrashLoop, Death};
use crate::server::master::exit_kind::{self, ExitKind, Retiring};
use crate::server::master::master_report::MasterReport;
use crate::server::master::overdue;
use crate::server::master::pidfile::Pidfile;
use crate::server::master::sd_notify::{self, Notifier};
use crate::server::master::upgrade::Upgrade;
use crate::server::scoreboard::Scoreboard;
use crate::server::settings::Settings;
use crate::server::settings::ABORT_GRACE;
use crate::server::signals::{SignalInbox, SignalMask, Signals};
use crate::server::worker::worker_run::{WorkerRun, BOOT_ERROR};
use crate::sys::{self, Forked, Reaped};
use crate::telemetry::fork_check;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(100);
/// How long after a refused fork the master tries again to fill a missing worker slot.
const SPAWN_RETRY: Duration = Duration::from_secs(1);

/// What systemd was told so far.
#[derive(Debug, Default)]
struct Told {
    /// `READY=1`, once every worker first served.
    ready: bool,
    /// `RELOADING=1` for a HUP whose old workers are not all replaced yet.
    reloading: bool,
    /// `STOPPING=1` (or `MAINPID=` of the new master).
    stopping: bool,
}

/// A live worker, as the master tracks it.
#[derive(Debug, Clone, Copy)]
struct Live {
    /// Its id (`Worker::id`): which of the `target` workers it is.
    id: usize,
    /// Its scoreboard slot, free when it was forked.
    slot: usize,
    /// When it was forked: a death soon after is an early one.
    born: Instant,
    /// It has claimed its scoreboard record: it serves.
    ready: bool,
    /// A HUP came after it was forked: it is stopped once a worker of its id forked after the
    /// HUP is ready.
    outgoing: bool,
    /// Marked `outgoing` for its memory (`reload_on_rss`), not by a HUP.
    for_memory: bool,
}

/// What the boot hands the supervisor (and the in-process mode): the master and everything it
/// serves with.
pub(crate) struct Booted<'a, A> {
    pub(crate) master: &'a Master,
    pub(crate) plan: &'a Plan,
    pub(crate) config: &'a TelemetryConfig,
    pub(crate) settings: &'a Settings,
    pub(crate) listeners: &'a Listeners,
    pub(crate) app: &'a A,
    pub(crate) board: &'static Scoreboard,
}

impl<A> Clone for Booted<'_, A> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A> Copy for Booted<'_, A> {}

/// Runs the master's state machine until the server has stopped: its signals, its workers'
/// lives and exits, upgrades and systemd's protocol; then writes the run's report.
pub(crate) fn supervise<A: App>(
    booted: &Booted<'_, A>,
    inbox: &SignalInbox,
    mask: &SignalMask,
    upgrade: Upgrade,
    pidfile: Option<Pidfile>,
) -> Result<()> {
    Supervisor {
        master: booted.master,
        plan: booted.plan,
        config: booted.config,
        settings: booted.settings,
        listeners: booted.listeners,
        app: booted.app,
        inbox,
        mask,
        board: booted.board,
        workers: BTreeMap::new(),
        retiring: BTreeMap::new(),
        target: booted.settings.workers,
        stopping: None,
        halt: None,
        crash_loop: CrashLoop::default(),
        upgrade,
        pidfile,
        spawn_retry_at: None,
        ttin_unstarted: Default::default(),
        notify: Notifier::from_env(),
        told: Told::default(),
        report: MasterReport {
            pid: std::process::id(),
            ..MasterReport::default()
        },
    }
    .run()
}

struct Stopping {
    deadline: Instant,
    killed: bool,
}

struct Supervisor<'a, A> {
    master: &'a Master,
    plan: &'a Plan,
    config: &'a TelemetryConfig,
    settings: &'a Settings,
    listeners: &'a Listeners,
    app: &'a A,
    inbox: &'a SignalInbox,
    /// The mask the process started with: the master's thread waits with it, and each worker
    /// goes back to it.
    mask: &'a SignalMask,
    board: &'static Scoreboard,
    /// Live workers by pid.
    workers: BTreeMap<libc::pid_t, Live>,
    /// Workers asked to stop while the server keeps running, and why.
    retiring: BTreeMap<libc::pid_t, Retiring>,
    target: usize,
    stopping: Option<Stopping>,
    halt: Option<Error>,
    /// Early deaths in a row, and when the next replacement may be forked.
    crash_loop: CrashLoop,
    /// This master's part in binary upgrades.
    upgrade: Upgrade,
    pidfile: Option<Pidfile>,
    /// After a fork refused while other workers serve: no new try before this.
    spawn_retry_at: Option<Instant>,
    /// Worker ids that TTIN added and that have not been forked yet.
    ttin_unstarted: std::collections::BTreeSet<usize>,
    /// systemd's notify socket, when run as a `Type=notify` service, and what it was told.
    notify: Option<Notifier>,
    told: Told,
    /// What this run did, written at exit.
    report: MasterReport,
}

impl<A: App> Supervisor<'_, A> {
    fn run(&mut self) -> Result<()> {
        loop {
            if self.stopping.is_none() {
                self.spawn_missing();
            }
            if self.stopping.is_some() && self.workers.is_empty() {
                break;
            }
            let tick = self
                .notify
                .as_ref()
                .and_then(Notifier::watchdog_every)
                .map_or(TICK, |every| every.min(TICK));
            let received = self.inbox.wait(tick, self.mask);
            self.handle(received);
            // Workers that became ready are counted before any exit is logged with the count.
            self.note_ready();
            self.reap();
            self.upgrade.note_old_master_gone();
            self.note_ready();
            self.tell_systemd();
            self.check_timeouts();
            self.check_memory();
            if let Some(stopping) = &mut self.stopping {
                if !stopping.killed && Instant::now() >= stopping.deadline {
                    stopping.killed = true;
                    crate::diag::log_warn!(
                        "{} worker(s) did not stop in time; killing them",
                        self.workers.len()
                    );
                    self.workers
                        .keys()
                        .for_each(|&pid| sys::kill(pid, libc::SIGKILL));
                }
            }
        }
        // A socket file goes with the last master serving on it: not while the master this one
        // started on USR2, or the one that started it, still does.
        if self.upgrade.alone() {
            self.listeners.remove_files();
        }
        crate::diag::log_notice!("{}", self.report.summary());
        if let Err(e) = self.report.write(&self.config.run_dir) {
            crate::diag::log_warn!("cannot write the master's report: {e}");
        }
        match self.halt.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Acts on the signals received, in a fixed order: stops first.
    fn handle(&mut self, received: Signals) {
        if received.contains(libc::SIGTERM) {
            self.stop(libc::SIGTERM, self.settings.graceful_timeout);
        }
        if received.contains(libc::SIGINT) || received.contains(libc::SIGQUIT) {
            self.stop(libc::SIGQUIT, self.settings.quick_timeout);
        }
        if received.contains(libc::SIGHUP) && self.stopping.is_none() {
            if let Some(workers) = self.upgrade.take_winched() {
                self.set_target(workers);
            }
            crate::diag::log_notice!(
                "HUP: starting a new worker per slot; each old one stops once its replacement is \
                 ready"
            );
            if let Some(notify) = &mut self.notify {
                notify.send(&sd_notify::reloading());
                self.told.reloading = true;
            }
            if let Err(e) = run::master_hooks("on_reload", self.plan.on_reload, self.master) {
                crate::diag::log_error!("{e}");
            }
            for (pid, live) in self.workers.iter_mut() {
                if !self.retiring.contains_key(pid) {
                    live.outgoing = true;
                }
            }
        }
        if received.contains(libc::SIGTTIN) {
            self.ttin_unstarted.insert(self.target);
            self.set_target(self.target + 1);
            crate::diag::log_notice!("TTIN: {} workers", self.target);
        }
        if received.contains(libc::SIGTTOU) && self.target > 1 {
            self.set_target(self.target - 1);
            self.ttin_unstarted.retain(|&id| id < self.target);
            crate::diag::log_notice!("TTOU: {} workers", self.target);
            let extra: Vec<_> = self
                .workers
                .iter()
                .filter(|(pid, live)| live.id >= self.target && !self.retiring.contains_key(pid))
                .map(|(&pid, live)| (pid, live.id))
                .collect();
            for (pid, id) in extra {
                self.retire(pid, Retiring::Fewer);
                crate::diag::log_info!(
                    "worker {id} (pid {pid}) asked to stop (TTOU) [ready={}]",
                    self.ready_count()
                );
            }
        } else if received.contains(libc::SIGTTOU) {
            crate::diag::log_notice!(
                "TTOU ignored: {} worker is the fewest the server runs with (TTIN adds one, TERM \
                 stops the server)",
                self.target
            );
        }
        if received.contains(libc::SIGUSR1) {
            if self.settings.access_log.is_some() {
                // Gunicorn's: the workers reopen their log files (the access log).
                crate::diag::log_notice!("USR1: the workers reopen the access log");
                self.workers
                    .keys()
                    .for_each(|&pid| sys::kill(pid, libc::SIGUSR1));
            } else {
                crate::diag::log_notice!(
                    "USR1: forkline writes its log to stderr, so there is no file to reopen"
                );
            }
        }
        if received.contains(libc::SIGUSR2) {
            self.upgrade.start(
                self.stopping.is_some(),
                &mut self.pidfile,
                self.listeners,
                self.mask,
            );
        }
        if received.contains(libc::SIGWINCH) {
            self.winch();
        }
    }

    /// systemd's notify protocol (see `sd_notify`): the watchdog's ping when due, and
    /// `READY=1` once every worker serves, at start and when a HUP's old workers are replaced
    /// (or the HUP is called off).
    fn tell_systemd(&mut self) {
        let ready = self.ready_count() >= self.target;
        let replaced = !self.workers.values().any(|l| l.outgoing);
        let Some(notify) = &mut self.notify else {
            return;
        };
        notify.tick();
        if self.stopping.is_some() || !ready || !replaced {
            return;
        }
        if !self.told.ready || self.told.reloading {
            // A master started by a binary upgrade says so too; the old master hands the main
            // pid over (`MAINPID=`) when it is stopped.
            notify.send(&format!(
                "READY=1\nSTATUS=serving with {} workers",
                self.target
            ));
            self.told.ready = true;
            self.told.reloading = false;
        }
    }

    fn set_target(&mut self, new: usize) {
        let old = self.target;
        self.target = new;
        self.master.set_workers(new);
        let change = WorkersChanged { new, old };
        if let Err(e) =
            run::nworkers_changed_hooks(self.plan.nworkers_changed, self.master, &change)
        {
            crate::diag::log_error!("{e}");
        }
    }

    /// Workers serving and not asked to stop.
    fn ready_count(&self) -> usize {
        self.workers
            .iter()
            .filter(|(pid, live)| live.ready && !self.retiring.contains_key(pid))
            .count()
    }

    /// Marks the workers that have claimed their scoreboard record as ready, and asks each old
    /// worker a HUP replaced to stop once a new worker of its id is ready. Each change is logged
    /// with the number of ready workers (`[ready=N]`).
    fn note_ready(&mut self) {
        let board = self.board;
        let newly: Vec<libc::pid_t> = self
            .workers
            .iter()
            // A slot past the board's size cannot say: ready once forked.
            .filter(|(&pid, l)| {
                !l.ready && board.record(l.slot).is_none_or(|r| r.held_by(pid as u32))
            })
            .map(|(&pid, _)| pid)
            .collect();
        // One at a time, so each line has the count as it was.
        for pid in newly {
            let Some(live) = self.workers.get_mut(&pid) else {
                continue;
            };
            live.ready = true;
            let id = live.id;
            crate::diag::log_info!(
                "worker {id} (pid {pid}) is ready [ready={}]",
                self.ready_count()
            );
        }
        if self.stopping.is_some() {
            return;
        }
        let replaced: Vec<(libc::pid_t, usize, bool)> = self
            .workers
            .iter()
            .filter(|(pid, live)| live.outgoing && !self.retiring.contains_key(pid))
            .filter(|(_, old)| {
                old.id >= self.target
                    || self
                        .workers
                        .values()
                        .any(|new| new.id == old.id && !new.outgoing && new.ready)
            })
            .map(|(&pid, live)| (pid, live.id, live.for_memory))
            .collect();
        for (pid, id, for_memory) in replaced {
            let (why, what) = if for_memory {
                (Retiring::Memory, "reload_on_rss")
            } else {
                (Retiring::Replaced, "HUP")
            };
            self.retire(pid, why);
            crate::diag::log_info!(
                "worker {id} (pid {pid}) asked to stop: its replacement is ready ({what}) [ready={}]",
                self.ready_count()
            );
        }
    }

    /// Gunicorn's `timeout` and uWSGI's `harakiri` (see `overdue`): an overdue worker is sent
    /// ABRT (it flushes and exits on a thread of its own), and KILL if it is still alive after
    /// the grace. Workers that have not served yet have not beaten, and are not timed.
    fn check_timeouts(&mut self) {
        let (timeout, harakiri) = (self.settings.timeout, self.settings.harakiri);
        if timeout.is_none() && harakiri.is_none() {
            return;
        }
        let now = sys::monotonic_ms();
        let live: Vec<(libc::pid_t, usize, usize)> = self
            .workers
            .iter()
            .map(|(&p, l)| (p, l.id, l.slot))
            .collect();
        for (pid, id, slot) in live {
            match self.retiring.get(&pid) {
                Some(&Retiring::TimedOut { since, killed }) => {
                    if !killed && since.elapsed() >= ABORT_GRACE {
                        crate::diag::log_warn!(
                            "worker {id} (pid {pid}) did not exit within {} ms of ABRT; killing it",
                            ABORT_GRACE.as_millis()
                        );
                        sys::kill(pid, libc::SIGKILL);
                        self.retiring.insert(
                            pid,
                            Retiring::TimedOut {
                                since,
                                killed: true,
                            },
                        );
                    }
                    continue;
                }
                Some(_) => continue,
                None if self.stopping.is_some() => continue,
                None => {}
            }
            let Some(record) = self.board.record(slot) else {
                continue;
            };
            let me = pid as u32;
            let seen = overdue::Seen {
                beat: record.last_beat(me),
                stuck_since: record.stuck_since(me),
                oldest_request: record.oldest_request(me),
            };
            if let Some(why) = overdue::overdue(now, timeout, harakiri, seen) {
                crate::diag::log_error!("worker {id} (pid {pid}) timed out: {why}; aborting it");
                self.abort(pid);
            }
        }
    }

    /// The timeout's path: ABRT (the worker flushes and exits on its abort thread), KILL after
    /// the grace (`check_timeouts`).
    fn abort(&mut self, pid: libc::pid_t) {
        self.retiring.insert(
            pid,
            Retiring::TimedOut {
                since: Instant::now(),
                killed: false,
            },
        );
        sys::kill(pid, libc::SIGABRT);
    }

    /// uWSGI's `reload-on-rss` and `evil-reload-on-rss`, read from `/proc` on the master's tick:
    /// a serving worker whose resident memory passes the soft limit is replaced the way a HUP
    /// replaces it (its replacement first, then it drains and runs `worker_exit`); one past the
    /// hard limit takes the timeout's path (ABRT: its in-flight requests' spans and a Sentry
    /// event, its flush, KILL after the grace).
    fn check_memory(&mut self) {
        let (soft, hard) = (
            self.settings.reload_on_rss,
            self.settings.evil_reload_on_rss,
        );
        if (soft.is_none() && hard.is_none()) || self.stopping.is_some() {
            return;
        }
        let serving: Vec<(libc::pid_t, usize, usize, bool)> = self
            .workers
            .iter()
            .filter(|(pid, live)| live.ready && !self.retiring.contains_key(pid))
            .map(|(&pid, l)| (pid, l.id, l.slot, l.outgoing))
            .collect();
        for (pid, id, slot, outgoing) in serving {
            let Some(rss) = sys::rss_bytes(pid) else {
                continue;
            };
            let mib = rss / (1024 * 1024);
            if hard.is_some_and(|limit| rss > limit) {
                crate::diag::log_error!(
                    "worker {id} (pid {pid}) holds {mib} MiB, past evil_reload_on_rss ({} MiB); \
                     aborting it",
                    hard.unwrap_or_default() / (1024 * 1024)
                );
                if let Some(record) = self.board.record(slot) {
                    record.set_abort_reason(AbortReason::Memory);
                }
                self.abort(pid);
            } else if !outgoing && soft.is_some_and(|limit| rss > limit) {
                crate::diag::log_notice!(
                    "worker {id} (pid {pid}) holds {mib} MiB, past reload_on_rss ({} MiB): \
                     starting its replacement; it stops once that one is ready",
                    soft.unwrap_or_default() / (1024 * 1024)
                );
                if let Some(live) = self.workers.get_mut(&pid) {
                    live.outgoing = true;
                    live.for_memory = true;
                }
            }
        }
    }

    /// WINCH: during an upgrade, this master's workers stop gracefully and are not replaced.
    fn winch(&mut self) {
        if !self.upgrade.winch(self.target, self.stopping.is_some()) {
            return;
        }
        self.set_target(0);
        let serving: Vec<libc::pid_t> = self
            .workers
            .keys()
            .filter(|pid| !self.retiring.contains_key(pid))
            .copied()
            .collect();
        for pid in serving {
            self.retire(pid, Retiring::Winched);
        }
    }

    fn retire(&mut self, pid: libc::pid_t, why: Retiring) {
        self.retiring.insert(pid, why);
        sys::kill(pid, libc::SIGTERM);
    }

    fn stop(&mut self, signal: libc::c_int, timeout: Duration) {
        let quick = signal != libc::SIGTERM;
        if let (Some(notify), false) = (&mut self.notify, self.told.stopping) {
            self.told.stopping = true;
            match self.upgrade.new_master() {
                // A binary upgrade hands over: the new master is the service from here on.
                Some(new) => notify.send(&format!(
                    "MAINPID={new}\nSTATUS=handed over to the new master (pid {new})"
                )),
                None => notify.send("STOPPING=1\nSTATUS=stopping"),
            }
        }
        crate::diag::log_info!(
            "stopping {} ({} workers)",
            if quick { "quickly" } else { "gracefully" },
            self.workers.len()
        );
        let deadline = Instant::now() + timeout;
        match &mut self.stopping {
            // A quick stop may shorten a graceful one in progress.
            Some(s) if quick => s.deadline = s.deadline.min(deadline),
            Some(_) => return,
            None => {
                self.stopping = Some(Stopping {
                    deadline,
                    killed: false,
                })
            }
        }
        self.workers.keys().for_each(|&pid| sys::kill(pid, signal));
    }

    fn halt(&mut self, error: Error) {
        crate::diag::log_error!("{error}");
        if self.halt.is_none() {
            self.halt = Some(error);
        }
        self.stop(libc::SIGQUIT, self.settings.quick_timeout);
    }

    fn reap(&mut self) {
        let mut reaped_any = false;
        while let Some(reaped) = sys::reap() {
            reaped_any = true;
            let (pid, status) = match reaped {
                Reaped::Exited(pid, code) => (pid, ExitStatus::Exited(code)),
                Reaped::Signaled(pid, sig) => (pid, ExitStatus::Signaled(sig)),
            };
            if self.upgrade.new_master() == Some(pid) {
                let stopping = self.stopping.is_some();
                let restart =
                    self.upgrade
                        .new_master_exited(pid, status, stopping, &mut self.pidfile);
                if let Some(workers) = restart {
                    self.set_target(workers);
                }
                continue;
            }
            let Some(live) = self.workers.remove(&pid) else {
                continue; // Not a worker (a child the user's hooks started).
            };
            let id = live.id;
            // Read before the slot is given back: what the worker served and counted.
            let (requests, stats) = self.board.record(live.slot).map_or((0, None), |record| {
                (
                    record.serving().requests_served,
                    Some(crate::stats::snapshot(record.counters())),
                )
            });
            self.board.release(live.slot, pid as u32);
            let exit = WorkerExit {
                worker_id: id,
                pid: pid as u32,
                status,
            };
            let born = Some(live.born);
            let retiring = self.retiring.remove(&pid);
            let stopping = self.stopping.as_ref().map(|s| s.killed);
            let kind = exit_kind::classify(status, exit_kind::asked(retiring, stopping, status));
            self.report.count_exit(kind, status, requests, stats);
            let ready = self.ready_count();
            let serving = self.stopping.is_none();
            match kind {
                ExitKind::BootFailed => {}
                ExitKind::Recycled if retiring == Some(Retiring::Memory) => crate::diag::log_info!(
                    "worker {id} (pid {pid}) stopped for its memory (reload_on_rss) \
                     ({status:?}); its replacement was ready [ready={ready}]"
                ),
                ExitKind::Recycled => crate::diag::log_info!(
                    "worker {id} (pid {pid}) recycled after {requests} requests (max_requests); \
                     starting its replacement [ready={ready}]"
                ),
                ExitKind::Winched => crate::diag::log_info!(
                    "worker {id} (pid {pid}) stopped after WINCH ({status:?}) [ready={ready}]"
                ),
                ExitKind::FewerByTtou => crate::diag::log_info!(
                    "worker {id} (pid {pid}) stopped after TTOU ({status:?}) [ready={ready}]"
                ),
                ExitKind::TimedOut if serving => crate::diag::log_warn!(
                    "worker {id} (pid {pid}) stopped after its timeout ({status:?}); starting its \
                     replacement [ready={ready}]"
                ),
                ExitKind::TimedOut => crate::diag::log_warn!(
                    "worker {id} (pid {pid}) stopped after its timeout ({status:?})"
                ),
                ExitKind::ReplacedByHup => crate::diag::log_info!(
                    "worker {id} (pid {pid}) stopped after HUP ({status:?}); its replacement was \
                     ready [ready={ready}]"
                ),
                ExitKind::Stopped => {
                    crate::diag::log_info!("worker {id} (pid {pid}) stopped ({status:?})")
                }
                ExitKind::Killed => crate::diag::log_warn!(
                    "worker {id} (pid {pid}) killed at the end of the graceful timeout \
                     ({status:?})"
                ),
                ExitKind::Crashed if serving => self.crashed(id, pid, status, born),
                ExitKind::Crashed => crate::diag::log_warn!(
                    "worker {id} (pid {pid}) crashed ({status:?}) while the server stopped"
                ),
            }
            let boot_failed = kind == ExitKind::BootFailed;
            if let Err(e) = run::child_exit_hooks(self.plan.child_exit, self.master, &exit) {
                crate::diag::log_error!("{e}");
            }
            if boot_failed && self.stopping.is_none() {
                let message = boot_failure::take(&self.config.run_dir, pid as u32)
                    .unwrap_or_else(|| "its error is logged above".into());
                self.halt(Error::WorkerBoot {
                    worker_id: id,
                    code: BOOT_ERROR,
                    message,
                });
            }
        }
        if reaped_any {
            // Exited workers' telemetry files stay for a post-mortem, within the total budget.
            let live: Vec<u32> = self.workers.keys().map(|&pid| pid as u32).collect();
            let pruned = crate::sink::prune::prune_exited(
                &self.config.run_dir,
                &live,
                self.config.embedded_total_budget_bytes,
            );
            if pruned.files > 0 {
                crate::diag::log_info!("{pruned}");
            }
        }
    }

    /// A worker died on its own. Replaced at once, unless it died soon after it started: then
    /// the replacement waits (longer after each early death in a row), and past the limit the
    /// master stops rather than spin (see `crash_loop`).
    fn crashed(&mut self, id: usize, pid: libc::pid_t, status: ExitStatus, born: Option<Instant>) {
        let lived = born.map_or(Duration::MAX, |b| b.elapsed());
        let lived_ms = lived.as_millis();
        // Code 0 unasked (INT or QUIT sent to the worker itself, or the app returned) is no crash.
        let how = if status == ExitStatus::Exited(0) {
            "exited on its own"
        } else {
            "crashed"
        };
        let ready = self.ready_count();
        match self.crash_loop.died(self.settings, lived, Instant::now()) {
            Death::Late | Death::Early { in_a_row: 1, .. } => crate::diag::log_warn!(
                "worker {id} (pid {pid}) {how} ({status:?}); replacing it [ready={ready}]"
            ),
            Death::Early { in_a_row, wait } => crate::diag::log_warn!(
                "worker {id} (pid {pid}) {how} ({status:?}); replacing it in {} ms (it died \
                 {lived_ms} ms after it started: {in_a_row} early deaths in a row) [ready={ready}]",
                wait.as_millis()
            ),
            Death::Loop { in_a_row } => self.halt(Error::CrashLoop {
                worker_id: id,
                crashes: in_a_row,
                window: self.settings.crash_window,
                last: format!("pid {pid}, {status:?} after {lived_ms} ms"),
            }),
        }
    }

    fn spawn_missing(&mut self) {
        let births = self.workers.values().map(|l| l.born);
        if !self
            .crash_loop
            .may_spawn(self.settings, births, Instant::now())
        {
            return;
        }
        if self.spawn_retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        for id in 0..self.target {
            if self.stopping.is_some() {
                return;
            }
            if self.workers.values().any(|l| l.id == id && !l.outgoing) {
                continue;
            }
            match self.spawn(id) {
                Ok(()) => {
                    self.ttin_unstarted.remove(&id);
                }
                Err(e) => {
                    self.spawn_refused(id, e);
                    return;
                }
            }
        }
    }

    /// Worker `id` could not be forked (a failing `pre_fork`, the fork check, `fork` itself).
    /// With no worker serving, the server cannot run: it stops with the error. Otherwise no
    /// hook and no signal may stop a healthy server: a HUP in progress is called off for the
    /// workers not yet replaced (they go on serving, not asked to stop), a TTIN's worker is
    /// given up, and a dead worker's replacement is tried again in a second. Each is logged
    /// with why; the next HUP or TTIN tries again.
    fn spawn_refused(&mut self, id: usize, error: Error) {
        if !self.workers.values().any(|l| l.ready) {
            self.halt(error);
            return;
        }
        let replaced = |workers: &BTreeMap<libc::pid_t, Live>, id: usize| {
            workers.values().any(|l| l.id == id && !l.outgoing)
        };
        let called_off: Vec<libc::pid_t> = self
            .workers
            .iter()
            .filter(|(pid, live)| {
                live.outgoing
                    && !self.retiring.contains_key(pid)
                    && !replaced(&self.workers, live.id)
            })
            .map(|(&pid, _)| pid)
            .collect();
        let what = if !called_off.is_empty() {
            format!(
                "the HUP is called off for the {} worker(s) not yet replaced, which go on serving;                  the next HUP tries again",
                called_off.len()
            )
        } else if self.ttin_unstarted.contains(&id) {
            let wanted = self.target;
            self.ttin_unstarted.retain(|&unstarted| unstarted < id);
            self.set_target(id.max(1));
            format!("TTIN given up: {} workers instead of {wanted}", self.target)
        } else {
            "the server goes on with the workers it has, and tries again in a second".into()
        };
        crate::diag::log_error!("cannot start worker {id}: {error}; {what}");
        for pid in called_off {
            if let Some(live) = self.workers.get_mut(&pid) {
                live.outgoing = false;
            }
        }
        self.spawn_retry_at = Some(Instant::now() + SPAWN_RETRY);
    }

    /// A scoreboard slot no live worker holds: the worker's id where it is free.
    fn free_slot(&self, id: usize) -> usize {
        let taken = |slot: usize| self.workers.values().any(|l| l.slot == slot);
        if !taken(id) {
            return id;
        }
        (0..).find(|&slot| !taken(slot)).unwrap_or(id)
    }

    fn spawn(&mut self, id: usize) -> Result<()> {
        self.master.set_forking_worker(Some(id));
        let checked = run::master_hooks("pre_fork", self.plan.pre_fork, self.master)
            .and_then(|()| fork_check::check_before_fork(self.settings.allow_threads_at_fork));
        self.master.set_forking_worker(None);
        checked?;
        let slot = self.free_slot(id);
        if let Some(record) = self.board.record(slot) {
            // The worker counts here from its first instant (`stats::count_in`); never a
            // previous worker's counts, even if this one dies before it starts counting.
            record.counters().reset();
        }
        match sys::fork().map_err(|e| Error::io("fork", e))? {
            Forked::Parent(pid) => {
                let live = Live {
                    id,
                    slot,
                    born: Instant::now(),
                    ready: false,
                    outgoing: false,
                    for_memory: false,
                };
                self.workers.insert(pid, live);
                self.report.workers_started += 1;
                Ok(())
            }
            Forked::Child => {
                let worker = WorkerRun {
                    id,
                    slot,
                    master_pid: self.master.pid(),
                    forked: true,
                    plan: self.plan,
                    config: self.config,
                    settings: self.settings,
                    listeners: self.listeners,
                    app: self.app,
                    mask: Some(self.mask),
                    board: self.board,
                };
                // The child must never unwind back into the master's loop.
                let code =
                    catch_unwind(AssertUnwindSafe(|| worker.run())).unwrap_or_else(|panic| {
                        crate::diag::log_error!(
                            "worker {id} panicked: {}",
                            crate::diag::panic_message(&*panic)
                        );
                        crate::server::worker::worker_run::SERVE_ERROR
                    });
                sys::exit_now(code)
            }
        }
    }
}
