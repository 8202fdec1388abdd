//! The master: binds, forks, supervises. Single-threaded by design: no helper thread exists at
//! fork time. Its signals arrive through its own inbox (`signals.rs`): they stay blocked on the
//! master's thread except while it waits in `ppoll`, so a handler only ever sets a bit there, and
//! a thread the user left running cannot take a signal and die of its default action.
//!
//! Signals follow Gunicorn: TERM graceful stop (workers get TERM, then KILL after the graceful
//! timeout), INT/QUIT quick stop, HUP replaces every worker without a gap in capacity (`on_reload`
//! hooks, then a new worker per slot; each old worker is asked to stop only once its replacement
//! is ready), TTIN/TTOU one worker more/fewer,
//! USR1 (reopen logs: forkline logs to stderr, so there is nothing to reopen), USR2 and WINCH
//! logged and ignored. None of them is fatal. A worker that dies is reaped and replaced, as is one
//! that reached its `max_requests`; one that cannot boot stops the master with the worker's reason.

use crate::config::TelemetryConfig;
use crate::error::{Error, Result};
use crate::lifecycle::plan::Plan;
use crate::lifecycle::run;
use crate::lifecycle::{ExitStatus, Master, WorkerExit, WorkersChanged};
use crate::server::boot_failure;
use crate::server::crash_loop::{CrashLoop, Death};
use crate::server::max_requests::RECYCLED;
use crate::server::scoreboard::Scoreboard;
use crate::server::settings::ABORT_GRACE;
use crate::server::signals::{self, SignalInbox, SignalMask, Signals};
use crate::server::worker_run::{WorkerRun, BOOT_ERROR};
use crate::server::{App, Settings};
use crate::sys::{self, Forked, Reaped};
use crate::telemetry::fork_check;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(100);

/// The signals the master takes.
pub(crate) const MASTER_SIGNALS: [libc::c_int; 10] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Why the master asked a worker to stop, so that its exit is logged for what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retiring {
    /// TTOU: one worker fewer.
    Fewer,
    /// HUP: replaced by a new worker.
    Replaced,
    /// Its runtime made no progress for the timeout: sent ABRT at `since`, KILL after the grace.
    TimedOut { since: Instant, killed: bool },
}

pub(crate) fn run<A: App>(
    plan: &Plan,
    config: &TelemetryConfig,
    settings: &Settings,
    app: &A,
) -> Result<()> {
    crate::diag::set_verbose(config.profile.verbose());
    // Thread-free preparation shared by every worker through fork (HTTP clients, TLS roots).
    let mut config = config.clone();
    config.prepare()?;
    let config = &config;
    std::fs::create_dir_all(&config.run_dir).map_err(|e| {
        Error::io(
            format!("creating the run folder {}", config.run_dir.display()),
            e,
        )
    })?;
    let removed = crate::sink::old_runs::prune(
        &std::env::temp_dir(),
        crate::sink::old_runs::KEEP_OLD_RUNS,
        &config.run_dir,
        sys::is_alive,
    );
    if !removed.is_empty() {
        crate::diag::log_info!(
            "removed {} old run folders from {} (the newest {} finished runs are kept)",
            removed.len(),
            std::env::temp_dir().display(),
            crate::sink::old_runs::KEEP_OLD_RUNS
        );
    }
    if config.uses_embedded_sink() {
        crate::diag::emit(
            "info",
            format_args!(
                "no OTLP endpoint / Sentry DSN configured: telemetry is written to {}",
                config.run_dir.display()
            ),
        );
    }
    if let Some(warning) = config.production_local_files_warning() {
        crate::diag::log_warn!("{warning}");
    }
    // Blocked before any hook runs, so a TERM during start-up waits for the loop; the inbox is
    // made now, before the user's hooks can start a thread.
    let signals = if settings.no_fork {
        None
    } else {
        let mask = signals::block(&MASTER_SIGNALS).map_err(|e| Error::io("blocking signals", e))?;
        let inbox = SignalInbox::install(&MASTER_SIGNALS, &[])
            .map_err(|e| Error::io("installing the master's signal handlers", e))?;
        Some((inbox, mask))
    };

    // Before any fork, so that every worker shares it; room for TTIN well past the start size.
    let board = Scoreboard::map(settings.workers.max(1) * 4 + 16)
        .map_err(|e| Error::io("mapping the scoreboard", e))?;
    let master = Master::new(settings.workers, config.run_dir.clone());
    run::master_hooks("on_starting", plan.on_starting, &master)?;
    let addr = settings.addr.ok_or_else(|| {
        Error::config(
            "Server::bind",
            "no address to listen on: call .bind(\"127.0.0.1:8000\") or set FORKLINE_BIND",
        )
    })?;
    let listener = TcpListener::bind(addr).map_err(|e| Error::io(format!("binding {addr}"), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the bound address", e))?;
    master.set_local_addr(local);
    // Always shown, whatever the profile: what runs where, and where its files go.
    crate::diag::emit(
        "info",
        format_args!("{}", start_line(local, settings.workers, config)),
    );
    run::master_hooks("when_ready", plan.when_ready, &master)?;

    let result = if let Some((inbox, mask)) = &signals {
        let mut supervisor = Supervisor {
            master: &master,
            plan,
            config,
            settings,
            listener: &listener,
            app,
            inbox,
            mask,
            board,
            workers: BTreeMap::new(),
            retiring: BTreeMap::new(),
            target: settings.workers,
            stopping: None,
            halt: None,
            crash_loop: CrashLoop::default(),
        };
        supervisor.run()
    } else {
        in_process(plan, config, settings, &listener, app, &master, board)
    };
    let on_exit = run::master_hooks("on_exit", plan.on_exit, &master);
    result.and(on_exit)
}

/// The master's start line: address, workers, profile, environment and run folder.
fn start_line(local: std::net::SocketAddr, workers: usize, config: &TelemetryConfig) -> String {
    let environment =
        if config.sentry.enabled && config.sentry.environment != config.otel.environment {
            format!(
                "{} (Sentry: {})",
                config.otel.environment, config.sentry.environment
            )
        } else {
            config.otel.environment.clone()
        };
    format!(
        "listening on {local} with {workers} workers; profile {}, environment {environment}; run folder {}",
        config.profile.name(),
        config.run_dir.display()
    )
}

fn in_process<A: App>(
    plan: &Plan,
    config: &TelemetryConfig,
    settings: &Settings,
    listener: &TcpListener,
    app: &A,
    master: &Master,
    board: &'static Scoreboard,
) -> Result<()> {
    master.set_forking_worker(Some(0));
    run::master_hooks("pre_fork", plan.pre_fork, master)?;
    master.set_forking_worker(None);
    let code = WorkerRun {
        id: 0,
        slot: 0,
        master_pid: master.pid(),
        forked: false,
        plan,
        config,
        settings,
        listener,
        app,
        mask: None,
        board,
    }
    .run();
    let exit = WorkerExit {
        worker_id: 0,
        pid: master.pid(),
        status: ExitStatus::Exited(code),
    };
    run::child_exit_hooks(plan.child_exit, master, &exit)?;
    match code {
        0 => Ok(()),
        BOOT_ERROR => Err(Error::WorkerBoot {
            worker_id: 0,
            code,
            message: boot_failure::take(&config.run_dir, master.pid())
                .unwrap_or_else(|| "its error is logged above".into()),
        }),
        code => Err(Error::WorkerFailed { worker_id: 0, code }),
    }
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
    listener: &'a TcpListener,
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
            let received = self.inbox.wait(TICK, self.mask);
            self.handle(received);
            self.reap();
            self.note_ready();
            self.check_timeouts();
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
            crate::diag::log_info!(
                "HUP: starting a new worker per slot; each old one stops once its replacement is \
                 ready"
            );
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
            self.set_target(self.target + 1);
            crate::diag::log_info!("TTIN: {} workers", self.target);
        }
        if received.contains(libc::SIGTTOU) && self.target > 1 {
            self.set_target(self.target - 1);
            crate::diag::log_info!("TTOU: {} workers", self.target);
            let extra: Vec<_> = self
                .workers
                .iter()
                .filter(|(pid, live)| live.id >= self.target && !self.retiring.contains_key(pid))
                .map(|(&pid, _)| pid)
                .collect();
            for pid in extra {
                self.retire(pid, Retiring::Fewer);
            }
        }
        if received.contains(libc::SIGUSR1) {
            crate::diag::log_info!(
                "USR1: forkline writes its log to stderr, so there is no file to reopen"
            );
        }
        for (signal, name) in [(libc::SIGUSR2, "USR2"), (libc::SIGWINCH, "WINCH")] {
            if received.contains(signal) {
                crate::diag::log_info!("{name} has no meaning in forkline yet; ignored");
            }
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
        let replaced: Vec<(libc::pid_t, usize)> = self
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
            .map(|(&pid, live)| (pid, live.id))
            .collect();
        for (pid, id) in replaced {
            self.retire(pid, Retiring::Replaced);
            crate::diag::log_info!(
                "worker {id} (pid {pid}) asked to stop: its replacement is ready (HUP) [ready={}]",
                self.ready_count()
            );
        }
    }

    /// Gunicorn's `timeout`: a worker whose runtime has not beaten for that long is sent ABRT
    /// (it flushes and exits on a thread of its own), and KILL if it is still alive after the
    /// grace. Workers that have not served yet have not beaten, and are not timed.
    fn check_timeouts(&mut self) {
        let Some(timeout) = self.settings.timeout else {
            return;
        };
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
            let Some(beat) = self
                .board
                .record(slot)
                .and_then(|r| r.last_beat(pid as u32))
            else {
                continue;
            };
            let silent = now.saturating_sub(beat);
            if u128::from(silent) > timeout.as_millis() {
                crate::diag::log_error!(
                    "worker {id} (pid {pid}) timed out: its runtime made no progress for {silent} \
                     ms (timeout {} ms); aborting it",
                    timeout.as_millis()
                );
                self.retiring.insert(
                    pid,
                    Retiring::TimedOut {
                        since: Instant::now(),
                        killed: false,
                    },
                );
                sys::kill(pid, libc::SIGABRT);
            }
        }
    }

    fn retire(&mut self, pid: libc::pid_t, why: Retiring) {
        self.retiring.insert(pid, why);
        sys::kill(pid, libc::SIGTERM);
    }

    fn stop(&mut self, signal: libc::c_int, timeout: Duration) {
        let quick = signal != libc::SIGTERM;
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
            let Some(live) = self.workers.remove(&pid) else {
                continue; // Not a worker (a child the user's hooks started).
            };
            let id = live.id;
            // Read before the slot is given back: what the worker served, for the log line.
            let requests = self
                .board
                .record(live.slot)
                .map_or(0, |record| record.serving().requests_served);
            self.board.release(live.slot, pid as u32);
            let exit = WorkerExit {
                worker_id: id,
                pid: pid as u32,
                status,
            };
            let born = Some(live.born);
            let retiring = self.retiring.remove(&pid);
            if live.ready && retiring.is_none() {
                crate::diag::log_info!(
                    "worker {id} (pid {pid}) exited [ready={}]",
                    self.ready_count()
                );
            }
            let boot_failed = status == ExitStatus::Exited(BOOT_ERROR);
            let recycled = status == ExitStatus::Exited(RECYCLED);
            match (retiring, &self.stopping) {
                _ if boot_failed => {}
                (None, None) if recycled => crate::diag::log_info!(
                    "worker {id} (pid {pid}) recycled after {requests} requests (max_requests); \
                     starting its replacement"
                ),
                (Some(Retiring::Fewer), _) => {
                    crate::diag::log_info!("worker {id} (pid {pid}) stopped after TTOU ({status:?})")
                }
                (Some(Retiring::TimedOut { .. }), None) => crate::diag::log_warn!(
                    "worker {id} (pid {pid}) stopped after its timeout ({status:?}); starting its \
                     replacement"
                ),
                (Some(Retiring::Replaced), None) => crate::diag::log_info!(
                    "worker {id} (pid {pid}) stopped after HUP ({status:?}); its replacement was ready"
                ),
                (_, Some(_)) => {
                    crate::diag::log_info!("worker {id} (pid {pid}) stopped ({status:?})")
                }
                (None, None) => self.crashed(id, pid, status, born),
            }
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
        match self.crash_loop.died(self.settings, lived, Instant::now()) {
            Death::Late | Death::Early { in_a_row: 1, .. } => {
                crate::diag::log_warn!("worker {id} (pid {pid}) crashed ({status:?}); replacing it")
            }
            Death::Early { in_a_row, wait } => crate::diag::log_warn!(
                "worker {id} (pid {pid}) crashed ({status:?}); replacing it in {} ms (it died \
                 {lived_ms} ms after it started: {in_a_row} early deaths in a row)",
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
        for id in 0..self.target {
            if self.stopping.is_some() {
                return;
            }
            if self.workers.values().any(|l| l.id == id && !l.outgoing) {
                continue;
            }
            if let Err(e) = self.spawn(id) {
                self.halt(e);
            }
        }
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
        match sys::fork().map_err(|e| Error::io("fork", e))? {
            Forked::Parent(pid) => {
                let live = Live {
                    id,
                    slot,
                    born: Instant::now(),
                    ready: false,
                    outgoing: false,
                };
                self.workers.insert(pid, live);
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
                    listener: self.listener,
                    app: self.app,
                    mask: Some(self.mask),
                    board: self.board,
                };
                // The child must never unwind back into the master's loop.
                let code =
                    catch_unwind(AssertUnwindSafe(|| worker.run())).unwrap_or_else(|panic| {
                        crate::diag::log_error!(
                            "worker {id} panicked: {}",
                            run::panic_message(&*panic)
                        );
                        crate::server::worker_run::SERVE_ERROR
                    });
                sys::exit_now(code)
            }
        }
    }
}
