//! A worker whose Sentry host and OTLP endpoint are both black holes (accept, read, never
//! answer) still exits within its `worker_exit` deadline + 100 ms, timed from outside: from the
//! master's TERM to the master's exit, which waits for every worker. Each worker says what it
//! left behind. (With the plain SDKs, dropping the Sentry guard never returns.)

use forkline::report::PartOutcome;
use forkline_tests::faults::{Backends, Behaviour};
use forkline_tests::harness::{http_get, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");

#[test]
fn black_holed_backends_cannot_hold_a_worker_past_its_deadline() {
    let backends = Backends::start(Behaviour::BlackHole);
    let (otlp, dsn) = (&backends.otlp_endpoint, &backends.dsn);
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("SENTRY_DSN", dsn),
        ],
    );
    let addr = fx.addr(Duration::from_secs(30));
    fx.wait_for_workers(2, Duration::from_secs(30));
    // The last one is behind `TelemetryLayer`, so the worker has a metric to export.
    for path in ["/work", "/fail", "/work", "/fail", "/orders/1/refuse"] {
        assert!(
            http_get(addr, path).is_ok(),
            "requests are served while both backends hang"
        );
    }
    let stopped_in = fx.stop();
    println!("TERM to the master's exit: {stopped_in:?}");

    let reports = fx.reports(2);
    // worker_exit(deadline_ms = 2000) in the fixture.
    assert!(
        reports.iter().all(|r| r.shutdown.deadline_ms == 2000),
        "{reports:#?}"
    );
    let deadline = Duration::from_millis(reports[0].shutdown.deadline_ms);
    assert!(
        stopped_in <= deadline + Duration::from_millis(100),
        "TERM to the master's exit took {stopped_in:?}; the workers' deadline is {deadline:?}"
    );
    for r in &reports {
        assert_ne!(r.shutdown.metrics, PartOutcome::Absent, "{r:#?}");
        assert_ne!(
            r.shutdown.sentry,
            PartOutcome::Done,
            "Sentry could not have flushed: {r:#?}"
        );
        let sentry = r
            .sentry
            .as_ref()
            .expect("the guarded transport's health is reported");
        assert_eq!(sentry.delivered, 0);
        assert_eq!(
            sentry.accepted, sentry.dropped_total,
            "left-behind events are counted: {sentry:#?}"
        );
    }
    // The worker that served the layered request has a last collection for the same black
    // hole; it is left behind within the deadline (the other has no metric to send).
    assert!(
        reports.iter().any(|r| matches!(
            r.shutdown.metrics,
            PartOutcome::TimedOut | PartOutcome::Failed(_)
        )),
        "the metrics could not have been delivered: {reports:#?}"
    );
    assert_eq!(backends.sentry.delivered(), 0);
    assert_eq!(backends.collector.delivered(), 0);
}
