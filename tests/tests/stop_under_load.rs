//! A HUP or a stop under load drops no request a worker took: the listening socket never
//! closes, a stopping worker takes no new connection (it stays queued for the others), and the
//! connections it took get their first request read before the graceful shutdown begins. A HUP
//! leaves no gap in capacity: each old worker is asked to stop only once its replacement is
//! ready, so at every moment at least the configured number of workers serve.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{assert_no_worker_left, wait_until, Fixture};
use forkline_tests::load::{stop_and_assert_nothing_lost, wait_for_answers, Load};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

/// Three workers under load (fresh connections and kept-alive ones), then a HUP.
fn hup_under_load() -> (Fixture, Vec<u32>, Load, Load) {
    let fx = quiet_server(BIN, "3", &[]);
    let addr = fx.addr(BOOT);
    let old = fx.wait_for_workers(3, BOOT);
    let fresh = Load::start(addr, 4, false, "/work");
    let kept = Load::start(addr, 4, true, "/work");
    wait_for_answers(&[&fresh, &kept], 1000, "the load runs");
    fx.signal(libc::SIGHUP);
    (fx, old, fresh, kept)
}

#[test]
fn a_hup_under_load_loses_no_request_a_worker_took() {
    let (mut fx, old, fresh, kept) = hup_under_load();
    let all = fx.wait_for_workers(6, BOOT);
    let new: Vec<u32> = all.into_iter().filter(|p| !old.contains(p)).collect();
    // Served by the new workers too, before the load stops.
    wait_for_answers(&[&fresh, &kept], 2000, "the load goes on after the HUP");
    stop_and_assert_nothing_lost("HUP under load", fresh, kept);
    fx.stop();
    assert_no_worker_left(&fx);
    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    for pid in new {
        let report = reports
            .iter()
            .find(|r| r.pid == pid)
            .expect("a new worker's report");
        assert!(
            report.serving.requests_served > 0,
            "{pid} served after the HUP"
        );
    }
}

/// The ready counts the master logged (`[ready=N]`) after its line for the HUP.
fn ready_counts_after_hup(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .skip_while(|l| !l.contains("HUP: starting a new worker per slot"))
        .filter_map(|l| l.split("[ready=").nth(1)?.split(']').next()?.parse().ok())
        .collect()
}

#[test]
fn a_hup_keeps_every_worker_slot_ready_and_fails_no_request() {
    let (mut fx, old, fresh, kept) = hup_under_load();
    wait_until(BOOT, || {
        let stderr = fx.stderr();
        old.iter()
            .all(|pid| stderr.contains(&format!("(pid {pid}) stopped after HUP")))
            .then_some(())
    })
    .unwrap_or_else(|| panic!("the old workers stop after the HUP:\n{}", fx.stderr()));
    wait_for_answers(&[&fresh, &kept], 1000, "the load goes on after the HUP");
    stop_and_assert_nothing_lost("HUP, new workers first", fresh, kept);

    let stderr = fx.stderr();
    let counts = ready_counts_after_hup(&stderr);
    // Three new workers ready (4, 5, 6 at most) and three old ones asked to stop.
    assert!(counts.len() >= 6, "{counts:?}\n{stderr}");
    eprintln!("ready counts after the HUP: {counts:?}");
    let least = counts.iter().copied().min().unwrap_or(0);
    assert!(least >= 3, "ready dropped to {least}: {counts:?}\n{stderr}");
    // `#[on_reload]` ran once, in the master, before the new workers were forked.
    let hooks = fx.hooks();
    let reload = hooks
        .iter()
        .position(|h| h.phase == "on_reload")
        .expect("on_reload ran");
    assert_eq!(hooks[reload].pid(), fx.pid);
    assert_eq!(hooks[reload].get("workers"), "3");
    let forks_after = hooks[reload..]
        .iter()
        .filter(|h| h.phase == "pre_fork")
        .count();
    assert_eq!(forks_after, 3, "{hooks:?}");
    fx.stop();
    assert_no_worker_left(&fx);
}

#[test]
fn a_stop_lets_every_request_a_worker_took_finish() {
    let mut fx = quiet_server(BIN, "3", &[]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(3, BOOT);
    let slow: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || forkline_tests::harness::http_get(addr, "/slow")))
        .collect();
    fx.wait_for_hook("slow_started", 6, BOOT);
    fx.signal(libc::SIGTERM);
    for request in slow {
        let (status, _) = request
            .join()
            .expect("client")
            .expect("answered, not dropped");
        assert_eq!(status, 200);
    }
    assert!(fx
        .wait_exit(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
    assert_no_worker_left(&fx);
}
