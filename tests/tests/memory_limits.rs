//! uWSGI's memory limits, with a route that leaks on purpose: a worker past `reload_on_rss` is
//! replaced gracefully (its replacement first, then it drains and runs `worker_exit`) with no
//! request lost on kept-alive connections; one past `evil_reload_on_rss` takes the timeout's
//! path (ABRT, `worker_abort`, the Sentry event that says why) and is replaced.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{http_get, wait_until, Fixture};
use forkline_tests::load::{stop_and_assert_nothing_lost, Load, Request};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

/// The pid in a fixture answer (`pid=123 ...`).
fn pid_of(body: &str) -> u32 {
    body.strip_prefix("pid=")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {body:?}"))
}

#[test]
fn a_worker_past_reload_on_rss_is_replaced_gracefully_and_no_request_fails() {
    let mut fx = quiet_server(
        BIN,
        "2",
        &[
            ("FORKLINE_RELOAD_ON_RSS_MB", "160"),
            ("FORKLINE_WORKER_THREADS", "2"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let gets = Load::sending(addr, 4, Request::get("/work", true));
    let posts = Load::sending(addr, 4, Request::post("/work", true));
    let (status, body) = http_get(addr, "/leak/200").expect("GET /leak/200");
    assert_eq!(status, 200);
    let grown = pid_of(&body);
    fx.wait_for_log(&format!("(pid {grown}) holds"), 1);
    fx.wait_for_log(
        &format!("(pid {grown}) stopped for its memory (reload_on_rss) (Exited(0))"),
        1,
    );
    fx.wait_for_workers(3, BOOT);
    let before = gets.so_far().ok;
    wait_until(BOOT, || (gets.so_far().ok > before + 300).then_some(())).expect("the load goes on");
    stop_and_assert_nothing_lost("reload_on_rss", gets, posts);
    let exited = fx
        .hooks()
        .into_iter()
        .any(|h| h.phase == "worker_exit" && h.pid() == grown);
    assert!(exited, "the grown worker ran worker_exit:\n{}", fx.stderr());
    fx.stop();
    let reports = forkline::read_master_reports(&fx.run_dir()).expect("the master's report");
    assert_eq!(reports[0].exits.recycled, 1, "{:?}", reports[0].exits);
}

#[test]
fn a_worker_past_evil_reload_on_rss_is_aborted_and_replaced() {
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("FORKLINE_EVIL_RELOAD_ON_RSS_MB", "160"),
            ("FORKLINE_TIMEOUT_MS", "0"),
        ],
    );
    let addr = fx.addr(BOOT);
    let grown = fx.wait_for_workers(1, BOOT)[0];
    // The worker may be aborted before it answers: a hard limit does not wait.
    let _ = http_get(addr, "/leak/200");
    fx.wait_for_log(&format!("(pid {grown}) holds"), 1);
    fx.wait_for_log("past evil_reload_on_rss", 1);
    fx.wait_for_log(&format!("(pid {grown}) stopped after its timeout"), 1);
    fx.wait_for_workers(2, BOOT);
    let aborted = fx
        .hooks()
        .into_iter()
        .any(|h| h.phase == "worker_abort" && h.pid() == grown);
    assert!(aborted, "worker_abort ran:\n{}", fx.stderr());
    let events = forkline_tests::harness::read_sentry(&fx.run_dir(), grown);
    assert!(
        events.iter().any(|e| e
            .to_string()
            .contains("its resident memory passed evil_reload_on_rss")),
        "{events:?}"
    );
    assert_eq!(
        http_get(addr, "/work").expect("the replacement serves").0,
        200
    );
    fx.stop();
}
