//! A HUP or a stop under load drops no request a worker took: the listening socket never
//! closes, a stopping worker takes no new connection (it stays queued for the others), and the
//! connections it took get their first request read before the graceful shutdown begins.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{read_hooks, wait_until};
use forkline_tests::load::{stop_and_assert_nothing_lost, Load};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

#[test]
fn a_hup_under_load_loses_no_request_a_worker_took() {
    let mut fx = quiet_server(BIN, "3", &[]);
    let addr = fx.addr(BOOT);
    let old = fx.wait_for_workers(3, BOOT);
    let fresh = Load::start(addr, 4, false, "/work");
    let kept = Load::start(addr, 4, true, "/work");
    wait_until(BOOT, || {
        (fresh.so_far().ok + kept.so_far().ok >= 2000).then_some(())
    })
    .expect("the load runs");
    fx.signal(libc::SIGHUP);
    let all = fx.wait_for_workers(6, BOOT);
    let new: Vec<u32> = all.into_iter().filter(|p| !old.contains(p)).collect();
    // Served by the new workers too, before the load stops.
    let before = fresh.so_far().ok + kept.so_far().ok;
    wait_until(BOOT, || {
        (fresh.so_far().ok + kept.so_far().ok >= before + 2000).then_some(())
    })
    .expect("the load goes on after the HUP");
    stop_and_assert_nothing_lost("HUP under load", fresh, kept);
    fx.signal(libc::SIGTERM);
    assert!(fx
        .wait_exit(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
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

#[test]
fn a_stop_lets_every_request_a_worker_took_finish() {
    let mut fx = quiet_server(BIN, "3", &[]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(3, BOOT);
    let slow: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || forkline_tests::harness::http_get(addr, "/slow")))
        .collect();
    let log = fx.dir.join("hooks.log");
    wait_until(BOOT, || {
        let started = read_hooks(&log)
            .iter()
            .filter(|h| h.phase == "slow_started")
            .count();
        (started == 6).then_some(())
    })
    .expect("six slow requests in flight");
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
}
