//! End to end: a request stuck on one of a worker's two runtime threads gets the worker
//! aborted, and what it was doing arrives in the real backends: its server span in otelite,
//! ended with an error status, and the "worker timeout" event in Bugsink, whose trace context
//! is that span's.
#![cfg(feature = "e2e")]

use forkline_tests::harness::http_get;
use forkline_tests::peers::{eventually, start_against, stop, Peers, ARRIVAL, BOOT};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");

#[test]
fn a_stuck_requests_span_reaches_otelite_with_an_error_and_its_event_links_to_it() {
    let peers = Peers::from_env();
    let (fx, service) = start_against(
        BIN,
        &peers,
        "e2e-stuck",
        "1",
        &[
            ("FORKLINE_WORKER_THREADS", "2"),
            ("FORKLINE_TIMEOUT_MS", "1000"),
        ],
    );
    let addr = fx.addr(BOOT);
    let first = fx.wait_for_workers(1, BOOT)[0];
    let stuck = std::thread::spawn(move || http_get(addr, "/block/db-lock"));
    fx.wait_for_hook("block_started", 1, BOOT);
    fx.wait_for_workers(2, BOOT);
    assert!(
        stuck.join().expect("client").is_err(),
        "it died with its worker"
    );
    let reports = stop(fx);
    let aborted = reports.iter().find(|r| r.pid == first).expect("its report");
    assert!(aborted.timed_out, "{aborted:?}");

    let span = eventually(ARRIVAL, || {
        peers
            .spans_of(&service)
            .into_iter()
            .find(|s| s["name"] == "GET /block/{reason}")
    })
    .unwrap_or_else(|| panic!("otelite has the stuck request's span ({service})"));
    let status = span["status"].to_string();
    assert!(
        status.to_lowercase().contains("error") && status.contains("worker timeout"),
        "ended with an error: {span:#}"
    );
    let event = eventually(ARRIVAL, || {
        peers
            .events_in(&service)
            .into_iter()
            .find(|e| e.to_string().contains("worker timeout: worker 0"))
    })
    .unwrap_or_else(|| panic!("Bugsink has the worker timeout event ({service})"));
    let trace = &event["contexts"]["trace"];
    assert_eq!(trace["trace_id"], span["trace_id"], "{trace} vs {span:#}");
    assert_eq!(trace["span_id"], span["span_id"], "{trace} vs {span:#}");
    assert!(
        event
            .to_string()
            .contains(span["trace_id"].as_str().unwrap_or("?")),
        "the event lists the request with its trace id: {event:#}"
    );
}
