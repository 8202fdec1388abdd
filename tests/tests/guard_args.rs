//! The hooks' `guard(...)` arguments reach the running pipelines: with `breaker_failures = 1`
//! both breakers open on the first refused connection (the default needs five); from then on
//! Sentry events are dropped as `breaker_open` (`max_retries = 0`), spans wait for a probe that
//! the ten-minute cool-down puts past the exit deadline, and every span and event is accounted
//! for at exit, each under the reason these arguments imply.

use forkline_tests::faults::refusing_addr;
use forkline_tests::harness::{http_get, wait_until, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_guard_args_server");
const BOOT: Duration = Duration::from_secs(30);
/// `breaker_failures = 1` on both paths in the fixture: the failures it takes to open.
const BREAKER_FAILURES: u64 = 1;
/// `/fail` requests: each is one span and one Sentry event.
const REQUESTS: u64 = 5;

#[test]
fn hook_guard_arguments_set_the_breakers_of_both_paths() {
    let dead = refusing_addr();
    let fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("http://{dead}")),
            ("SENTRY_DSN", &format!("http://public@{dead}/1")),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    for _ in 0..REQUESTS {
        assert_eq!(http_get(addr, "/fail").map(|r| r.0).ok(), Some(500));
    }
    // Both open, every span handed over and every event decided: the figures are final.
    let health = wait_until(Duration::from_secs(20), || {
        let body = http_get(addr, "/health").ok()?.1;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let h = &v["health"];
        let open = |p: &str| h[p]["breaker"] == "open";
        let settled = h["traces"]["accepted"] == REQUESTS
            && h["sentry"]["accepted"] == REQUESTS
            && h["sentry"]["pending"] == 0;
        (open("traces") && open("sentry") && settled).then_some(v)
    })
    .expect("both breakers open after refused connections");
    for path in ["traces", "sentry"] {
        let p = &health["health"][path];
        assert_eq!(
            p["consecutive_failures"], BREAKER_FAILURES,
            "{path}: one failure opened it: {p}"
        );
    }
    let sentry = &health["health"]["sentry"];
    assert_eq!(
        (
            &sentry["dropped"]["network"],
            &sentry["dropped"]["breaker_open"]
        ),
        (
            &BREAKER_FAILURES.into(),
            &(REQUESTS - BREAKER_FAILURES).into()
        ),
        "Sentry: the event whose delivery opened the breaker failed, the rest met it open: {sentry}"
    );
    assert_eq!(sentry["retried"], 0, "max_retries = 0: {sentry}");
    let otlp = &health["health"]["traces"];
    assert_eq!(
        (&otlp["dropped_total"], &otlp["pending"]),
        (&0.into(), &REQUESTS.into()),
        "OTLP: the spans wait for the probe, none dropped yet: {otlp}"
    );

    let reports = forkline_tests::peers::stop(fx);
    assert_eq!(reports.len(), 1);
    for pipeline in [reports[0].traces.as_ref(), reports[0].sentry.as_ref()] {
        let p = pipeline.expect("both pipelines report");
        assert_eq!(p.accepted, p.delivered + p.dropped_total, "{p:#?}");
        assert_eq!(p.delivered, 0, "nothing reached a refusing port");
    }
    let (otlp, sentry) = (
        reports[0].traces.as_ref().expect("OTLP"),
        reports[0].sentry.as_ref().expect("Sentry"),
    );
    // The probe would come ten minutes after the failure, past the 2 s exit deadline: shutdown
    // drops the waiting spans as breaker_open at once rather than wait.
    assert_eq!(
        (otlp.dropped.breaker_open, otlp.dropped_total),
        (REQUESTS, REQUESTS),
        "{otlp:#?}"
    );
    assert_eq!(
        sentry.dropped.breaker_open,
        REQUESTS - BREAKER_FAILURES,
        "{sentry:#?}"
    );
}
