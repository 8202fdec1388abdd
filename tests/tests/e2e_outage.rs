//! End to end, alone in its test binary because it stops and restarts the shared backends:
//! a forkline server keeps serving through an otelite + Bugsink outage and export resumes, shown
//! by Sentry events created after the restart (marked with a trace id of their own) reaching
//! Bugsink.
#![cfg(feature = "e2e")]

use forkline_examples::http_get_with;
use forkline_tests::harness::http_get;
use forkline_tests::peers::{eventually, start_against, stop, Peers, ARRIVAL, BOOT};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");
/// Generous: the breaker's cool-down (2 s in development) plus a slow machine's restart.
const DRAIN: Duration = Duration::from_secs(30);

#[test]
fn export_rides_out_a_backend_restart_without_slowing_requests() {
    let peers = Peers::from_env();
    let (fx, service) = start_against(
        BIN,
        &peers,
        "e2e-outage",
        "2",
        &[("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);

    let running = Arc::new(AtomicBool::new(true));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let load = {
        let (running, latencies) = (running.clone(), latencies.clone());
        std::thread::spawn(move || {
            // One request per ~10 ms, at most 700 (each is one trace): otelite lists at most
            // 1000 traces, and restarting the backends can take seconds on a loaded machine.
            for _ in 0..700 {
                if !running.load(Ordering::Relaxed) {
                    break;
                }
                let t = Instant::now();
                let ok = http_get(addr, "/work").map(|r| r.0 == 200).unwrap_or(false);
                latencies.lock().map(|mut l| l.push((t.elapsed(), ok))).ok();
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let phase = |d: Duration| std::thread::sleep(d); // the load keeps running through each phase
    phase(Duration::from_secs(1));
    peers.ctl("stop", "otelite");
    peers.ctl("stop", "bugsink");
    // Errors until every worker's Sentry path has failed: recovery is then shown by each
    // worker, not by one that never saw the outage (Bugsink's rate limits can spare a worker
    // any attempt at all).
    let both_failing = eventually(DRAIN, || {
        assert_eq!(
            http_get(addr, "/fail").map(|r| r.0).ok(),
            Some(500),
            "errors are served while Sentry is down"
        );
        let mut failing = BTreeMap::new();
        for _ in 0..40 {
            let health = http_get(addr, "/health").ok()?.1;
            let health: serde_json::Value = serde_json::from_str(&health).ok()?;
            let failures = health["health"]["sentry"]["consecutive_failures"].as_u64()?;
            failing.insert(health["pid"].as_u64()?, failures > 0);
        }
        (failing.len() == 2 && failing.values().all(|f| *f)).then_some(())
    });
    assert!(
        both_failing.is_some(),
        "both workers' Sentry paths failed during the outage"
    );
    phase(Duration::from_secs(3));
    peers.ctl("start", "otelite");
    peers.ctl("start", "bugsink");
    phase(Duration::from_secs(2));
    assert_eq!(http_get(addr, "/fail").map(|r| r.0).ok(), Some(500));
    running.store(false, Ordering::Relaxed);
    load.join().ok();
    // How soon a worker's breaker probes the restarted collector depends on its backoff and on
    // how long the restart took; stop only once every worker reports its backlog delivered.
    let drained = eventually(DRAIN, || {
        let mut seen = BTreeMap::new();
        for _ in 0..40 {
            let health = http_get(addr, "/health").ok()?.1;
            let health: serde_json::Value = serde_json::from_str(&health).ok()?;
            let pending = health["health"]["traces"]["pending"].as_u64()?;
            seen.insert(health["pid"].as_u64()?, pending);
        }
        (seen.len() == 2 && seen.values().all(|p| *p == 0)).then_some(seen)
    });
    assert!(
        drained.is_some(),
        "both workers deliver their backlog within {DRAIN:?} of the restart"
    );
    // Events created after the restart carry a trace id no earlier event has, so events sent
    // before the outage cannot stand in for them. The Sentry path has no ride-through buffer:
    // one sent while its breaker still waits out the cool-down is dropped (and counted), so
    // marked errors are sent until one arrives.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let marker = format!(
        "{:016x}{nanos:016x}",
        u64::from(std::process::id()) | 1 << 48
    );
    let traceparent = format!("00-{marker}-00f067aa0ba902b7-01");
    let mut marked_sent = 0;
    let marked = eventually(ARRIVAL, || {
        let sent = http_get_with(addr, "/fail", &[("traceparent", &traceparent)]);
        assert_eq!(sent.map(|r| r.0).ok(), Some(500));
        marked_sent += 1;
        let n = peers
            .events_in(&service)
            .iter()
            .filter(|e| e["contexts"]["trace"]["trace_id"] == marker.as_str())
            .count();
        (n >= 1).then_some(n)
    });
    // Export resumed: errors created after the restart reached Bugsink.
    let marked = marked.unwrap_or_else(|| {
        panic!("none of the {marked_sent} errors sent after Bugsink restarted reached it")
    });
    assert!(marked <= marked_sent, "{marked} of {marked_sent}");
    let reports = stop(fx);

    let latencies = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(latencies.len() > 100, "the load ran: {}", latencies.len());
    assert!(
        latencies.iter().all(|(_, ok)| *ok),
        "every request succeeded during the outage"
    );
    let slowest = latencies.iter().map(|(d, _)| *d).max().unwrap_or_default();
    assert!(
        slowest < Duration::from_millis(500),
        "slowest request {slowest:?} during the outage"
    );

    let ended: u64 = reports.iter().map(|r| r.stats.spans_ended).sum();
    let exported: u64 = reports.iter().map(|r| r.stats.spans_exported).sum();
    let otlp: Vec<&forkline::report::PipelineHealth> =
        reports.iter().filter_map(|r| r.traces.as_ref()).collect();
    assert_eq!(
        otlp.len(),
        2,
        "both workers exported through the guarded pipeline"
    );
    let dropped: u64 = otlp.iter().map(|h| h.dropped_total).sum();
    let retried: u64 = otlp.iter().map(|h| h.retried).sum();
    // The ride-through buffer held the spans of the outage and delivered them afterwards.
    assert_eq!(dropped, 0, "nothing lost to a 3 s outage: {otlp:#?}");
    assert_eq!(exported, ended, "every span ended was exported");
    assert!(retried > 0, "the outage showed in health: {otlp:#?}");
    let received = eventually(ARRIVAL, || {
        let n = peers.spans_of(&service).len() as u64;
        (n >= exported).then_some(n)
    })
    .unwrap_or_else(|| panic!("otelite has fewer spans than the {exported} exported"));
    assert_eq!(
        received, exported,
        "every span reached otelite exactly once"
    );
    // Sentry: every envelope delivered or counted (the transport has no ride-through buffer).
    for sentry in reports.iter().filter_map(|r| r.sentry.as_ref()) {
        assert_eq!(
            sentry.accepted,
            sentry.delivered + sentry.dropped_total,
            "{sentry:#?}"
        );
    }
}
