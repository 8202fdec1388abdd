//! A fresh worker's first panic costs its request no more than 50 ms over the same panic with
//! Sentry off, whatever Sentry is set to (local files, a healthy host, a black-holed one): the
//! stack is walked on the request's thread and resolved on a thread of its own, because the
//! first resolution in a process loads the binary's debug info (1.3–2.3 s measured in a debug
//! build before). The event keeps its stack: resolved, the panicking function on top, Sentry's
//! panic semantics (`panic`, unhandled, the message, fatal).

use forkline_tests::faults::{Behaviour, FaultServer};
use forkline_tests::harness::{http_get, read_sentry, wait_until, Fixture};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);
/// What a first panic may cost over the same panic with Sentry off.
const BUDGET: Duration = Duration::from_millis(50);

/// A one-worker server with `sentry` (`None`: local files), and its first `/panic`'s latency.
fn first_panic(sentry: Option<&str>) -> (Fixture, Duration) {
    // The default hook printing every backtrace would be most of what is measured.
    let mut env = vec![("FORKLINE_WORKERS", "1"), ("RUST_BACKTRACE", "0")];
    if let Some(dsn) = sentry {
        env.push(("SENTRY_DSN", dsn));
    }
    let fx = Fixture::start(BIN, &env);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    // A warm connection path, so that the panic is what is timed.
    assert_eq!(http_get(addr, "/work").expect("GET /work").0, 200);
    let started = Instant::now();
    let (status, _) = http_get(addr, "/panic").expect("GET /panic");
    let took = started.elapsed();
    assert_eq!(status, 500, "the layer answers a panic with a 500");
    (fx, took)
}

#[test]
fn a_fresh_workers_first_panic_costs_no_more_than_50_ms_over_sentry_off() {
    let (mut off, control) = first_panic(Some(""));
    off.stop();
    let (mut files, local) = first_panic(None);
    let healthy = FaultServer::start(Behaviour::Healthy);
    let (mut up, to_healthy) = first_panic(Some(&format!("http://k@{}/1", healthy.addr)));
    let hole = FaultServer::start(Behaviour::BlackHole);
    let (mut down, to_hole) = first_panic(Some(&format!("http://k@{}/1", hole.addr)));
    eprintln!(
        "first panic: Sentry off {control:?}; local files {local:?}; healthy host \
         {to_healthy:?}; black-holed host {to_hole:?}"
    );
    for (what, took) in [
        ("local files", local),
        ("a healthy host", to_healthy),
        ("a black-holed host", to_hole),
    ] {
        assert!(
            took <= control + BUDGET,
            "with {what} the first panic took {took:?}, against {control:?} with Sentry off"
        );
    }

    // The event, once its stack is resolved off the request's thread, as Sentry makes it.
    let worker = files.booted_workers()[0];
    let event = wait_until(BOOT, || {
        read_sentry(&files.run_dir(), worker)
            .into_iter()
            .find(|r| r["type"] == "event" && r.to_string().contains("handler panicked"))
    })
    .expect("the panic's event is written");
    let exception = &event["event"]["exception"]["values"][0];
    assert_eq!(exception["type"], "panic");
    assert_eq!(exception["value"], "handler panicked on purpose");
    assert_eq!(exception["mechanism"]["type"], "panic");
    assert_eq!(exception["mechanism"]["handled"], false);
    assert!(
        exception["mechanism"]["data"]
            .get("forkline.stack.pending")
            .is_none(),
        "no internal mark left: {exception:#}"
    );
    assert_eq!(event["event"]["level"], "fatal");
    let frames = exception["stacktrace"]["frames"]
        .as_array()
        .unwrap_or_else(|| panic!("a stack: {exception:#}"));
    let top = frames.last().expect("frames");
    assert!(
        top["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("forkline_tests::fixture::boom")),
        "the panicking function is on top: {top:#}"
    );
    assert!(
        !frames.iter().any(|f| f["function"]
            .as_str()
            .is_some_and(|f| f.contains("panicking") || f.starts_with("sentry"))),
        "the panic machinery is trimmed: {frames:#?}"
    );
    assert_eq!(top["in_app"], true, "{top:#}");
    files.stop();
    let report = forkline::read_reports(&files.run_dir())
        .expect("reports")
        .into_iter()
        .find(|r| r.pid == worker)
        .expect("its report");
    assert_eq!(
        (report.stats.stacks_taken, report.stats.stacks_resolved),
        (1, 1),
        "{:?}",
        report.stats
    );
    up.stop();
    down.stop();
}
