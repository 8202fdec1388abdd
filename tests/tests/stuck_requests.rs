//! A request stuck on one runtime thread is caught whatever the worker's other threads do:
//! a worker whose request has been inside one poll for longer than the timeout (a sync sleep
//! in an async handler, a blocking lock) is aborted, even while its other runtime threads keep
//! serving and keep its heartbeat alive. What it was doing is delivered: the abort ends every
//! in-flight request's span with an error, and the "worker timeout" Sentry event lists them.
//!
//! And the master's account counts every exit once, under what happened: an abort() while
//! serving and a segfault are crashes, a worker still running at the end of the graceful
//! timeout is killed.

use forkline_tests::harness::{http_get, read_hooks, read_sentry, read_spans, wait_until, Fixture};
use forkline_tests::load::{Load, Request};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);
const TIMEOUT_MS: u64 = 1000;

fn at_ms(phase: &str, fx: &Fixture, n: usize) -> Option<i64> {
    let hooks = read_hooks(&fx.dir.join("hooks.log"));
    let line = hooks.iter().filter(|h| h.phase == phase).nth(n)?;
    line.get("at_ms").parse().ok()
}

/// One worker of `threads` runtime threads, a light keep-alive client beside the stuck
/// requests (its other threads keep serving), and ten requests that block their thread, one
/// after another: each worker is aborted within the timeout and 1 s of its request blocking.
fn ten_stuck_requests_are_each_aborted_in_time(threads: &str) {
    let timeout = TIMEOUT_MS.to_string();
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("FORKLINE_WORKER_THREADS", threads),
            ("FORKLINE_TIMEOUT_MS", &timeout),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("SENTRY_DSN", ""),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    let light = Load::sending(addr, 1, Request::get("/work", true));
    let (mut took, mut replaced) = (Vec::new(), Vec::new());
    for run in 0..10 {
        let worker = *fx.wait_for_workers(run + 1, BOOT).last().expect("a worker");
        let before = light.so_far().ok;
        wait_until(BOOT, || (light.so_far().ok > before + 20).then_some(()))
            .expect("the light client is served");
        let client = std::thread::spawn(move || http_get(addr, "/block/db-lock"));
        let blocked = wait_until(BOOT, || at_ms("block_started", &fx, run))
            .unwrap_or_else(|| panic!("request {run} blocks:\n{}", fx.stderr()));
        let aborted = wait_until(BOOT, || at_ms("worker_abort", &fx, run))
            .unwrap_or_else(|| panic!("worker {worker} is aborted:\n{}", fx.stderr()));
        let after = Duration::from_millis((aborted - blocked).max(0) as u64);
        took.push(after.as_millis());
        assert!(
            after <= Duration::from_millis(TIMEOUT_MS) + Duration::from_secs(1),
            "run {run}: aborted {after:?} after its request blocked:\n{}",
            fx.stderr()
        );
        assert!(
            fx.stderr().contains(&format!("(pid {worker}) timed out: ")),
            "{}",
            fx.stderr()
        );
        let _ = client.join();
        // The replacement's worker_init: it serves from there.
        let ready = wait_until(BOOT, || at_ms("worker_init", &fx, run + 1))
            .unwrap_or_else(|| panic!("a replacement boots:\n{}", fx.stderr()));
        replaced.push(ready - (blocked + TIMEOUT_MS as i64));
    }
    eprintln!(
        "{threads} runtime threads: aborted after (ms) {took:?}; the replacement ready after \
         the deadline (ms) {replaced:?}"
    );
    light.stop();
    fx.stop();
}

#[test]
fn a_stuck_request_with_two_runtime_threads_is_aborted_within_the_timeout() {
    ten_stuck_requests_are_each_aborted_in_time("2");
}

#[test]
fn a_stuck_request_with_four_runtime_threads_is_aborted_within_the_timeout() {
    ten_stuck_requests_are_each_aborted_in_time("4");
}

#[test]
fn an_aborted_workers_in_flight_spans_end_with_an_error_and_its_event_lists_them() {
    let timeout = TIMEOUT_MS.to_string();
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("FORKLINE_WORKER_THREADS", "2"),
            ("FORKLINE_TIMEOUT_MS", &timeout),
        ],
    );
    let addr = fx.addr(BOOT);
    let first = fx.wait_for_workers(1, BOOT)[0];
    // One request stuck in its poll, one merely slow (awaiting) beside it.
    let stuck = std::thread::spawn(move || http_get(addr, "/block/db-lock"));
    fx.wait_for_hook("block_started", 1, BOOT);
    let slow = std::thread::spawn(move || http_get(addr, "/slow"));
    fx.wait_for_workers(2, BOOT);
    let _ = (stuck.join(), slow.join());
    fx.stop();

    let spans = read_spans(&fx.run_dir(), first);
    let blocked = spans
        .iter()
        .find(|s| s["name"] == "GET /block/{reason}")
        .unwrap_or_else(|| panic!("the stuck request's span was exported: {spans:#?}"));
    assert_eq!(blocked["status"]["code"], 2, "error status: {blocked}");
    assert!(
        blocked["status"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("worker timeout")),
        "{blocked}"
    );
    let trace_id = blocked["traceId"].as_str().expect("a trace id").to_string();
    let events = read_sentry(&fx.run_dir(), first);
    let event = &events
        .iter()
        .find(|e| e["type"] == "event" && e.to_string().contains("worker timeout: worker 0"))
        .unwrap_or_else(|| panic!("the worker timeout event: {events:#?}"))["event"];
    let text = event.to_string();
    assert!(
        text.contains("GET /block/{reason}") && text.contains(&trace_id),
        "the event names the stuck request, its age and its trace: {event:#}"
    );
    assert_eq!(
        event["contexts"]["trace"]["trace_id"], trace_id,
        "the event is linked to the stuck request's span: {event:#}"
    );
}
