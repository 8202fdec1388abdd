//! The master's account of worker exits, across real forks: each exit is counted once, under
//! what happened. An `abort()` and a segfault while serving are crashes (logged as such and
//! replaced); a worker still running when the graceful timeout ends is killed, not stopped; the
//! others stop in time.

use forkline_tests::harness::{http_get, wait_until, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

fn quiet(extra: &[(&str, &str)]) -> Fixture {
    let mut env = vec![("OTEL_TRACES_EXPORTER", "none"), ("SENTRY_DSN", "")];
    env.extend_from_slice(extra);
    Fixture::start(BIN, &env)
}

fn exits(fx: &Fixture) -> forkline::report::Exits {
    let reports = forkline::read_master_reports(&fx.run_dir()).expect("the master's report");
    assert_eq!(reports.len(), 1, "{reports:?}");
    reports[0].exits
}

#[test]
fn an_abort_and_a_segfault_while_serving_are_crashes() {
    let mut fx = quiet(&[("FORKLINE_WORKERS", "2")]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    for (n, route) in ["/crash/abort", "/crash/segfault"].iter().enumerate() {
        assert!(http_get(addr, route).is_err(), "{route} ends its worker");
        fx.wait_for_workers(3 + n, BOOT);
    }
    fx.stop();
    let stderr = fx.stderr();
    assert!(
        stderr.contains("crashed (Signaled(6))") && stderr.contains("crashed (Signaled(11))"),
        "{stderr}"
    );
    let exits = exits(&fx);
    assert_eq!(exits.crashed, 2, "{exits:?}");
    assert_eq!(exits.killed, 0, "{exits:?}");
    assert_eq!(exits.stopped, 2, "{exits:?}");
    assert_eq!(exits.total(), 4, "{exits:?}");
}

#[test]
fn a_worker_still_running_at_the_end_of_the_graceful_timeout_is_killed() {
    let mut fx = quiet(&[
        ("FORKLINE_WORKERS", "2"),
        ("FORKLINE_GRACEFUL_TIMEOUT_MS", "500"),
        ("FORKLINE_TIMEOUT_MS", "0"),
    ]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let blocked = std::thread::spawn(move || http_get(addr, "/block"));
    fx.wait_for_hook("block_started", 1, BOOT);
    fx.stop();
    let _ = blocked.join();
    let stderr = fx.stderr();
    assert!(
        stderr.contains("killed at the end of the graceful timeout"),
        "{stderr}"
    );
    let exits = exits(&fx);
    assert_eq!(exits.killed, 1, "{exits:?}");
    assert_eq!(exits.stopped, 1, "{exits:?}");
    assert_eq!(exits.crashed, 0, "{exits:?}");
}

#[test]
fn ttou_at_one_worker_says_it_is_ignored_and_every_retirement_logs_the_ready_count() {
    let mut fx = quiet(&[("FORKLINE_WORKERS", "1")]);
    fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    let logged = |line: &str| {
        wait_until(BOOT, || fx.stderr().contains(line).then_some(()))
            .unwrap_or_else(|| panic!("{line:?}:\n{}", fx.stderr()))
    };
    fx.signal(libc::SIGTTOU);
    logged("TTOU ignored: 1 worker is the fewest the server runs with");
    fx.signal(libc::SIGTTIN);
    fx.wait_for_workers(2, BOOT);
    logged("[ready=2]");
    fx.signal(libc::SIGTTOU);
    logged("asked to stop (TTOU) [ready=1]");
    logged("stopped after TTOU (Exited(0)) [ready=1]");
    fx.stop();
    assert_eq!(exits(&fx).fewer_by_ttou, 1);
}
