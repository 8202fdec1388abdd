//! A worker that dies right after it boots, again and again: after the first (replaced at once)
//! the master waits longer before each replacement (100 ms, doubling, capped) and, after the limit of early deaths in a row, stops
//! with a message that says so, instead of forking forever. Nothing is left running.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::read_hooks;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");

#[test]
fn a_crash_loop_backs_off_then_stops_the_master_with_a_message() {
    let mut fx = quiet_server(
        BIN,
        "1",
        &[
            ("FIXTURE_BOOT", "crash_after_boot"),
            ("FORKLINE_CRASH_LOOP_LIMIT", "6"),
            ("FORKLINE_CRASH_WINDOW_MS", "5000"),
            ("FORKLINE_CRASH_BACKOFF_CAP_MS", "1000"),
        ],
    );
    let status = fx
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("the master stops by itself:\n{}", fx.stderr()));
    let stderr = fx.stderr();
    assert!(!status.success(), "{status:?}\n{stderr}");
    assert!(
        stderr.contains("workers died 6 times in a row within 5000 ms of starting")
            && stderr.contains("stopped instead of respawning them in a loop"),
        "{stderr}"
    );
    // The announced waits grow, and the cap holds.
    let waits: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.split("replacing it in ").nth(1))
        .filter_map(|rest| rest.split(" ms").next()?.parse().ok())
        .collect();
    assert_eq!(waits, [100, 200, 400, 800], "{stderr}");

    // Measured from outside: the time between forks grows with each early death, by at least
    // the announced wait.
    let hooks = read_hooks(&fx.dir.join("hooks.log"));
    let forks: Vec<i64> = hooks
        .iter()
        .filter(|h| h.phase == "pre_fork")
        .map(|h| h.get("at_ms").parse().expect("at_ms"))
        .collect();
    assert_eq!(forks.len(), 6, "six workers forked: {hooks:?}");
    // The first early death is replaced at once (one crash is not a loop); then the waits.
    let gaps: Vec<i64> = forks[1..].windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, wait) in gaps.iter().zip(&waits) {
        assert!(
            *gap >= *wait as i64,
            "gaps {gaps:?} against waits {waits:?}"
        );
    }
    assert!(
        gaps.windows(2).all(|w| w[1] > w[0]),
        "the gaps between forks grow: {gaps:?}"
    );

    // No worker is left behind, running or unreaped.
    let workers: Vec<u32> = hooks
        .iter()
        .filter(|h| h.phase == "worker_init")
        .map(|h| h.pid())
        .collect();
    assert_eq!(workers.len(), 6, "{hooks:?}");
    for pid in workers {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} is gone"
        );
    }
}
