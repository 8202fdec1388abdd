//! Whatever the master did before `serve`, every worker gets its stop signal: real forks, for
//! each state users' programs leave the master in (see `master_state_server.rs`), 20 runs each.
//! The time from TERM to the master's exit is measured here, from outside the process.
//! Threads at fork are a start-up error that names them, unless opted in.

use forkline_tests::harness::{read_hooks, Fixture};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);
const RUNS: usize = 20;
const WORKERS: usize = 3;
/// What TERM to exit may take beyond the workers' telemetry deadline.
const MARGIN: Duration = Duration::from_millis(200);

/// Starts the fixture in `mode`, stops it with TERM, checks that every worker ran `worker_exit`
/// and wrote its report, and returns how long TERM to exit took (and the bound it met).
fn term_stops_every_worker(mode: &str, opt_in: bool) -> (Duration, Duration) {
    let workers = WORKERS.to_string();
    let mut env = vec![
        ("FIXTURE_MASTER", mode),
        ("FORKLINE_WORKERS", workers.as_str()),
        // A missed TERM shows as a timeout here, not as a kill at the graceful timeout.
        ("FORKLINE_GRACEFUL_TIMEOUT_MS", "30000"),
    ];
    if opt_in {
        env.push(("FORKLINE_ALLOW_THREADS_AT_FORK", "1"));
    }
    let mut fx = Fixture::start(BIN, &env);
    fx.addr(BOOT);
    let pids = fx.wait_for_workers(WORKERS, BOOT);
    let sent = Instant::now();
    fx.signal(libc::SIGTERM);
    let status = fx.wait_exit(Duration::from_secs(40));
    let took = sent.elapsed();
    let stderr = fx.stderr();
    assert!(
        status.is_some_and(|s| s.success()),
        "{mode}: the master did not exit cleanly ({status:?}) in {took:?}:\n{stderr}"
    );
    assert!(
        !stderr.contains("did not stop in time"),
        "{mode}:\n{stderr}"
    );

    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    let exits = read_hooks(&fx.dir.join("hooks.log"));
    for pid in &pids {
        assert!(
            reports.iter().any(|r| r.pid == *pid),
            "{mode}: worker {pid} wrote no report:\n{stderr}"
        );
        assert!(
            exits
                .iter()
                .any(|h| h.phase == "worker_exit" && h.pid() == *pid),
            "{mode}: worker {pid} did not run worker_exit:\n{stderr}"
        );
    }
    // The bound comes from the deadline the workers themselves report.
    let deadline = reports
        .iter()
        .map(|r| Duration::from_millis(r.shutdown.deadline_ms))
        .max()
        .expect("a deadline");
    let bound = deadline + MARGIN;
    assert!(
        took <= bound,
        "{mode}: TERM to exit took {took:?}, over {bound:?}:\n{stderr}"
    );
    (took, bound)
}

fn repeatedly(mode: &str, opt_in: bool) {
    let mut took: Vec<Duration> = (0..RUNS)
        .map(|_| term_stops_every_worker(mode, opt_in).0)
        .collect();
    took.sort();
    eprintln!(
        "{mode}: TERM to master exit over {RUNS} runs: median {:?}, max {:?}",
        took[RUNS / 2],
        took[RUNS - 1]
    );
}

#[test]
fn a_runtime_made_and_dropped_before_serve_takes_no_workers_term() {
    repeatedly("dropped_runtime", false);
}

#[test]
fn with_the_opt_in_a_runtime_alive_at_serve_takes_no_workers_term() {
    repeatedly("live_runtime", true);
}

#[test]
fn with_the_opt_in_a_thread_started_in_main_takes_no_workers_term() {
    repeatedly("thread", true);
}

#[test]
fn with_the_opt_in_a_provider_kept_in_a_static_takes_no_workers_term() {
    repeatedly("static_provider", true);
}

#[test]
fn threads_in_the_master_are_a_start_up_error_that_names_them() {
    for (mode, names) in [
        (
            "live_runtime",
            &["\"tokio-rt-worker\"", "a tokio runtime is still alive"][..],
        ),
        ("thread", &["\"user-helper\""][..]),
        (
            "static_provider",
            &["\"OpenTelemetry.T\"", "\"reqwest-interna\""][..],
        ),
    ] {
        let mut fx = Fixture::start(BIN, &[("FIXTURE_MASTER", mode)]);
        let status = fx
            .wait_exit(Duration::from_secs(20))
            .expect("start-up fails promptly");
        let stderr = fx.stderr();
        assert!(!status.success(), "{mode}:\n{stderr}");
        assert!(
            stderr.contains("other thread(s) at fork()"),
            "{mode}:\n{stderr}"
        );
        for name in names {
            assert!(stderr.contains(name), "{mode}: {name} not named:\n{stderr}");
        }
        assert!(
            stderr.contains("FORKLINE_ALLOW_THREADS_AT_FORK=1"),
            "{stderr}"
        );
        let forks = fx.hooks().iter().filter(|h| h.phase == "pre_fork").count();
        let booted = fx.booted_workers().len();
        assert_eq!(booted, 0, "{mode}: no worker may start:\n{stderr}");
        assert_eq!(forks, 1, "{mode}: refused at the first fork, not retried");
    }
}
