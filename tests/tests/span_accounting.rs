//! The master accounts for every span of every worker, including one killed with KILL, which
//! cannot report its own losses: its counters live in its scoreboard record, in memory the
//! master shares, and what it held (neither delivered nor dropped) is counted as lost with it.

use forkline_tests::faults::{Behaviour, FaultServer};
use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{http_get, signal_pid, wait_until};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

#[test]
fn a_killed_workers_undelivered_spans_are_counted_as_lost_and_the_run_adds_up() {
    // A collector that takes each batch and never answers: spans stay pending in the worker.
    let collector = FaultServer::start(Behaviour::BlackHole);
    let endpoint = format!("http://{}", collector.addr);
    let mut fx = quiet_server(
        BIN,
        "1",
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("FORKLINE_WORKER_THREADS", "1"),
        ],
    );
    let addr = fx.addr(BOOT);
    let worker = fx.wait_for_workers(1, BOOT)[0];
    const REQUESTS: u64 = 40;
    for _ in 0..REQUESTS {
        let (status, _) = http_get(addr, "/work").expect("GET /work");
        assert_eq!(status, 200);
    }
    // The first batch reached the collector, which holds it unanswered.
    wait_until(BOOT, || (collector.requests() > 0).then_some(()))
        .expect("a batch is in flight to the black hole");
    signal_pid(worker, libc::SIGKILL);
    let replacement = wait_until(BOOT, || {
        fx.booted_workers().into_iter().find(|&p| p != worker)
    })
    .expect("a replacement");
    for _ in 0..5 {
        assert_eq!(http_get(addr, "/work").expect("GET").0, 200);
    }
    fx.signal(libc::SIGQUIT);
    assert!(fx.wait_exit(BOOT).is_some(), "the master stops");

    let reports = forkline::read_master_reports(&fx.run_dir()).expect("report");
    let report = reports.first().expect("the master's report");
    // A KILL from outside the master (here the test, elsewhere the OOM killer) is a crash.
    assert_eq!(report.exits.crashed, 1, "{report:?}");
    assert_eq!(report.exits.killed, 0, "{report:?}");
    let spans = report.spans;
    // One server span per request in the fixture's /work, in the killed worker and after.
    assert!(spans.created >= REQUESTS + 5, "{report:?}");
    assert!(
        spans.lost_with_killed_workers >= REQUESTS,
        "the killed worker's spans never left it: {report:?}"
    );
    assert_eq!(
        spans.delivered, 0,
        "the black hole acknowledged nothing: {report:?}"
    );
    // (`created = delivered + dropped + lost + unaccounted` holds by construction: `dropped`
    // is what remains. What carries information is `unaccounted`, and the master's figures
    // checked against the replacement's own report below.)
    assert_eq!(spans.unaccounted, 0, "{report:?}");
    // The replacement reported its own spans as dropped at its deadline, not lost.
    let own = forkline::read_reports(&fx.run_dir()).expect("worker reports");
    assert_eq!(own.len(), 1, "the killed worker wrote no report: {own:?}");
    let replacement_report = own
        .iter()
        .find(|r| r.pid == replacement)
        .expect("its report");
    let its = replacement_report.stats;
    assert!(its.spans_export_failed >= 5, "{replacement_report:?}");
    assert_eq!(its.spans_dropped_unexported, 0, "{replacement_report:?}");
    // What the master read from the scoreboard agrees with what the replacement counted itself:
    // every drop is its own (the killed worker held its spans, it dropped none), and every span
    // beyond the replacement's was the killed worker's and is counted as lost with it.
    let its_drops = its.spans_export_failed
        + its.spans_dropped_inherited
        + its.spans_discarded_no_exporter
        + its.spans_discarded_budget;
    assert_eq!(spans.dropped, its_drops, "{report:?} / {its:?}");
    assert_eq!(
        spans.lost_with_killed_workers,
        spans.created - its.spans_ended,
        "{report:?} / {its:?}"
    );
}
