//! The hooks' `guard(...)` arguments reach the running pipelines: with `breaker_failures = 1`
//! both breakers open on the first refused connection (the default needs five), and every span
//! and event is still accounted for at exit.

use forkline_tests::faults::refusing_addr;
use forkline_tests::harness::{http_get, wait_until, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_guard_args_server");
const BOOT: Duration = Duration::from_secs(30);

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
    for _ in 0..5 {
        assert_eq!(http_get(addr, "/fail").map(|r| r.0).ok(), Some(500));
    }
    let health = wait_until(Duration::from_secs(20), || {
        let body = http_get(addr, "/health").ok()?.1;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let open = |p: &str| v["health"][p]["breaker"] == "open";
        (open("otlp") && open("sentry")).then_some(v)
    })
    .expect("both breakers open after refused connections");
    for path in ["otlp", "sentry"] {
        let p = &health["health"][path];
        assert_eq!(
            p["consecutive_failures"], 1,
            "{path}: one failure opened it: {p}"
        );
        assert!(p["dropped"]["breaker_open"].as_u64().is_some(), "{p}");
    }

    let reports = forkline_tests::peers::stop(fx);
    assert_eq!(reports.len(), 1);
    for pipeline in [reports[0].otlp.as_ref(), reports[0].sentry.as_ref()] {
        let p = pipeline.expect("both pipelines report");
        assert_eq!(p.accepted, p.delivered + p.dropped_total, "{p:#?}");
        assert_eq!(p.delivered, 0, "nothing reached a refusing port");
    }
}
