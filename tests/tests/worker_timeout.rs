//! Gunicorn's `timeout`: a worker whose runtime is blocked (here a sync sleep in a handler on its
//! one runtime thread) stops beating; the master sends ABRT, the worker flushes its telemetry
//! from a thread of its own, sends a Sentry event "worker timeout" and leaves a report saying so,
//! and a replacement serves, within the timeout and 2 s.

use forkline_tests::harness::{http_get, read_hooks, read_sentry, Fixture};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);
const TIMEOUT_MS: u64 = 1500;

type Blocked = std::thread::JoinHandle<std::io::Result<(u16, String)>>;

/// One worker on one runtime thread with the timeout, its runtime blocked by a request to
/// `path` (its route has started): the server, the worker's pid and the blocked client.
fn one_worker_blocked_by(path: &'static str) -> (Fixture, u32, Blocked) {
    let timeout = TIMEOUT_MS.to_string();
    let fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("FORKLINE_WORKER_THREADS", "1"),
            ("FORKLINE_TIMEOUT_MS", &timeout),
        ],
    );
    let addr = fx.addr(BOOT);
    let first = fx.wait_for_workers(1, BOOT)[0];
    let blocked = std::thread::spawn(move || http_get(addr, path));
    fx.wait_for_hook("block_started", 1, BOOT);
    (fx, first, blocked)
}

#[test]
fn a_worker_with_a_blocked_runtime_is_aborted_flushed_and_replaced() {
    let (mut fx, first, blocked) = one_worker_blocked_by("/block/db-lock");
    let log = fx.dir.join("hooks.log");
    let blocked_at = Instant::now();
    let all = fx.wait_for_workers(2, BOOT);
    let replaced_after = blocked_at.elapsed();
    let replacement = *all.iter().find(|&&p| p != first).expect("a replacement");
    eprintln!(
        "replaced {} ms after the runtime blocked",
        replaced_after.as_millis()
    );
    assert!(
        replaced_after < Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(2),
        "replaced after {replaced_after:?}:\n{}",
        fx.stderr()
    );
    assert!(
        blocked.join().expect("client").is_err(),
        "the blocked request died with its worker"
    );
    let (status, body) = http_get(fx.addr(BOOT), "/work").expect("the replacement answers");
    assert_eq!(status, 200);
    assert!(body.contains(&format!("pid={replacement}")), "{body}");

    let stderr = fx.stderr();
    assert!(
        stderr.contains(&format!(
            "(pid {first}) timed out: its runtime made no progress for"
        )) && stderr.contains(&format!("(pid {first}) stopped after its timeout")),
        "{stderr}"
    );
    // `#[worker_abort]` ran in the aborted worker, on its abort thread (not the main thread),
    // before the flush and exit.
    let hooks = read_hooks(&log);
    let abort = hooks
        .iter()
        .find(|h| h.phase == "worker_abort")
        .expect("worker_abort ran");
    assert_eq!(abort.pid(), first, "{abort:?}");
    assert_ne!(abort.get("tid"), first.to_string(), "{abort:?}");
    assert!(
        hooks
            .iter()
            .all(|h| h.phase != "worker_exit" || h.pid() != first),
        "an aborted worker does not run worker_exit"
    );
    let events = read_sentry(&fx.run_dir(), first);
    assert!(
        events
            .iter()
            .any(|e| e.to_string().contains("worker timeout: worker 0")
                // The route template, not the path it was called with.
                && e.to_string().contains("requests in flight: GET /block/{reason}")),
        "{events:?}"
    );
    fx.stop();
    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    let aborted = reports.iter().find(|r| r.pid == first).expect("its report");
    assert!(aborted.timed_out, "{aborted:?}");
    let next = reports
        .iter()
        .find(|r| r.pid == replacement)
        .expect("report");
    assert!(!next.timed_out);
    for pid in [first, replacement] {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }
}

/// The aborted worker exits by itself, within a moment of its flush, even when the stuck request
/// holds std's stdout lock: its exit does not wait on that lock, or the master would KILL it
/// 2 s later (`Signaled(9)` in its line, and the report's exit would not be its own).
#[test]
fn an_aborted_worker_exits_by_itself_while_a_stuck_request_holds_stdout() {
    let (mut fx, first, blocked) = one_worker_blocked_by("/block-stdout");
    fx.wait_for_workers(2, BOOT);
    assert!(blocked.join().expect("client").is_err());
    let stopped = format!("(pid {first}) stopped after its timeout (Exited(5))");
    let stderr = fx.stderr();
    assert!(
        stderr.contains(&stopped),
        "wanted {stopped:?} in:\n{stderr}"
    );
    assert!(!stderr.contains("Signaled(9)"), "{stderr}");
    fx.stop();
}
