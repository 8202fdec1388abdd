//! Every signal Gunicorn gives a meaning to is handled and none is fatal: USR1 and WINCH (outside
//! a binary upgrade) to the master, and USR1, USR2 and WINCH to a worker, leave the server
//! serving and able to stop cleanly (USR2 to the master is the binary upgrade: `binary_upgrade.rs`). Worker exits
//! are logged for what they are: TTOU, HUP, a stop, a crash. `#[nworkers_changed]` runs in the
//! master on TTIN and TTOU, `#[worker_int]` in a worker on INT / QUIT, before `worker_exit`.

use forkline_tests::harness::{assert_no_worker_left, http_get, signal_pid, wait_until, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

fn wait_for_log(fx: &Fixture, line: &str) {
    wait_until(BOOT, || fx.stderr().contains(line).then_some(()))
        .unwrap_or_else(|| panic!("no log line {line:?}:\n{}", fx.stderr()));
}

#[test]
fn usr1_usr2_and_winch_are_not_fatal_to_the_master_or_a_worker() {
    let mut fx = Fixture::start(BIN, &[("FORKLINE_WORKERS", "2")]);
    let addr = fx.addr(BOOT);
    let workers = fx.wait_for_workers(2, BOOT);
    for signal in [libc::SIGUSR1, libc::SIGWINCH] {
        fx.signal(signal);
    }
    for signal in [libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH] {
        signal_pid(workers[0], signal);
    }
    // Each was taken, by the master and by the worker (their lines carry their pids).
    for (pid, line) in [
        (fx.pid, "USR1: forkline writes its log to stderr"),
        (
            fx.pid,
            "WINCH ignored: it stops this master's workers only during a binary upgrade",
        ),
        (workers[0], "USR1: forkline writes its log to stderr"),
        (workers[0], "USR2 has no meaning in a worker; ignored"),
        (workers[0], "WINCH has no meaning in a worker; ignored"),
    ] {
        let prefix = format!("forkline[{pid}] info: ");
        wait_until(BOOT, || {
            fx.stderr()
                .lines()
                .any(|l| l.starts_with(&prefix) && l.contains(line))
                .then_some(())
        })
        .unwrap_or_else(|| panic!("{pid} did not log {line:?}:\n{}", fx.stderr()));
    }
    for _ in 0..4 {
        let (status, _) = http_get(addr, "/work").expect("still serving");
        assert_eq!(status, 200);
    }
    assert!(fx.wait_exit(Duration::ZERO).is_none(), "the master lives");
    fx.stop();
    assert_no_worker_left(&fx);
    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    for pid in workers {
        assert!(
            reports.iter().any(|r| r.pid == pid),
            "{pid} stopped cleanly"
        );
    }
    assert!(!fx.stderr().contains("crashed"), "{}", fx.stderr());
}

#[test]
fn worker_exits_are_logged_for_what_they_are() {
    let mut fx = Fixture::start(BIN, &[("FORKLINE_WORKERS", "2")]);
    let addr = fx.addr(BOOT);
    let first = fx.wait_for_workers(2, BOOT);
    for _ in 0..6 {
        let (status, _) = http_get(addr, "/work").expect("GET /work");
        assert_eq!(status, 200);
    }

    fx.signal(libc::SIGTTOU);
    wait_for_log(&fx, "stopped after TTOU");

    fx.signal(libc::SIGHUP);
    wait_for_log(&fx, "stopped after HUP");
    // The one worker left is replaced: a third worker boots.
    let after_hup = fx.wait_for_workers(3, BOOT);
    let replacement = *after_hup.last().expect("a replacement");
    assert!(!first.contains(&replacement));
    assert!(!fx.stderr().contains("crashed"), "{}", fx.stderr());

    signal_pid(replacement, libc::SIGKILL);
    wait_for_log(
        &fx,
        &format!("(pid {replacement}) crashed (Signaled(9)); replacing it"),
    );

    fx.stop();
    assert_no_worker_left(&fx);
    let stderr = fx.stderr();
    assert!(stderr.contains(") stopped (Exited(0))"), "{stderr}");
    assert_eq!(stderr.matches("crashed").count(), 1, "{stderr}");

    // The master's account of the run, KILLed worker included: a KILL the master did not send
    // is a crash (`killed` counts only its own KILL at the end of a stop's timeout).
    let reports = forkline::read_master_reports(&fx.run_dir()).expect("master report");
    let [report] = reports.as_slice() else {
        panic!("one master report: {reports:?}")
    };
    assert_eq!(report.pid, fx.pid);
    let exits = report.exits;
    assert_eq!(
        (
            exits.fewer_by_ttou,
            exits.replaced_by_hup,
            exits.killed,
            exits.stopped,
            exits.crashed
        ),
        (1, 1, 0, 1, 1),
        "{report:?}"
    );
    assert_eq!(report.workers_started, 4, "{report:?}");
    assert_eq!(
        exits.total(),
        report.workers_started,
        "every worker reaped and counted"
    );
    let spans = report.spans;
    assert!(spans.created >= 6, "a span per request: {report:?}");
    assert_eq!(spans.unaccounted, 0, "{report:?}");
    assert_eq!(
        spans.created,
        spans.delivered + spans.dropped + spans.lost_with_killed_workers,
        "{report:?}"
    );
    // What the workers that exited by themselves reported agrees with the master's reading.
    let worker_reports = forkline::read_reports(&fx.run_dir()).expect("worker reports");
    assert_eq!(worker_reports.len(), 3, "all but the killed one");
    let reported: u64 = worker_reports.iter().map(|r| r.stats.spans_ended).sum();
    assert!(spans.created >= reported, "{report:?} vs {reported}");
    assert!(stderr.contains("run: 4 workers started;"), "{stderr}");
}

#[test]
fn nworkers_changed_runs_in_the_master_and_worker_int_in_the_worker() {
    let mut fx = Fixture::start(BIN, &[("FORKLINE_WORKERS", "2")]);
    fx.addr(BOOT);
    let workers = fx.wait_for_workers(2, BOOT);
    let changed = |fx: &Fixture, n: usize| {
        wait_until(BOOT, || {
            let seen: Vec<_> = fx
                .hooks()
                .into_iter()
                .filter(|h| h.phase == "nworkers_changed")
                .collect();
            (seen.len() >= n).then_some(seen)
        })
        .unwrap_or_else(|| panic!("nworkers_changed x{n}:\n{}", fx.stderr()))
    };
    fx.signal(libc::SIGTTIN);
    let seen = changed(&fx, 1);
    assert_eq!(
        (seen[0].pid(), seen[0].get("new"), seen[0].get("old")),
        (fx.pid, "3", "2")
    );
    fx.signal(libc::SIGTTOU);
    let seen = changed(&fx, 2);
    assert_eq!(
        (seen[1].pid(), seen[1].get("new"), seen[1].get("old")),
        (fx.pid, "2", "3")
    );

    for (pid, signal) in [(workers[0], libc::SIGINT), (workers[1], libc::SIGQUIT)] {
        signal_pid(pid, signal);
        let hooks = wait_until(BOOT, || {
            let hooks = fx.hooks();
            hooks
                .iter()
                .any(|h| h.phase == "worker_exit" && h.pid() == pid)
                .then_some(hooks)
        })
        .unwrap_or_else(|| panic!("{pid} stops:\n{}", fx.stderr()));
        let mine: Vec<&str> = hooks
            .iter()
            .filter(|h| h.pid() == pid && h.phase != "worker_init")
            .map(|h| h.phase.as_str())
            .collect();
        assert_eq!(mine, ["worker_int", "worker_exit"], "{pid}");
    }
    assert!(
        fx.hooks()
            .iter()
            .all(|h| h.phase != "worker_int" || workers.contains(&h.pid())),
        "worker_int ran only in the interrupted workers"
    );
    fx.stop();
    assert_no_worker_left(&fx);
    assert!(
        fx.hooks()
            .iter()
            .filter(|h| h.phase == "worker_int")
            .count()
            == 2,
        "a TERM does not run worker_int"
    );
}
