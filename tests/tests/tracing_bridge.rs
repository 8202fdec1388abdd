//! The `tracing` bridge across a real fork: `worker_init` installs it, and a function
//! instrumented only with `#[tracing::instrument]` shows up in the worker's spans as a child of
//! the OTel server span that was active, with its fields and events.
#![cfg(feature = "tracing")]

use forkline_tests::harness::{http_get, read_spans, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");
const BOOT: Duration = Duration::from_secs(30);

#[test]
fn tracing_spans_join_the_otel_trace_in_every_worker() {
    let mut fx = Fixture::start(BIN, &[("FORKLINE_WORKERS", "2")]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    for _ in 0..6 {
        assert_eq!(http_get(addr, "/traced").expect("GET"), (200, "42".into()));
    }
    fx.signal(libc::SIGTERM);
    assert!(fx
        .wait_exit(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
    let dir = fx.run_dir();
    let mut checked = 0;
    for pid in fx.booted_workers() {
        let spans = read_spans(&dir, pid);
        for step in spans.iter().filter(|s| s["name"] == "traced_step") {
            let parent = spans
                .iter()
                .find(|s| s["spanId"] == step["parentSpanId"])
                .unwrap_or_else(|| {
                    panic!("the tracing span's parent is in the same worker: {step}")
                });
            assert_eq!(parent["name"], "GET /traced");
            assert_eq!(parent["traceId"], step["traceId"]);
            let attributes = forkline_tests::harness::attributes(&step["attributes"]);
            assert_eq!(attributes["order.id"], "41", "{step}");
            let events = step["events"].as_array().cloned().unwrap_or_default();
            assert!(
                events.iter().any(|e| e["name"] == "inside the traced step"),
                "{step}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6, "every request's tracing span was exported");
}
