//! Metrics and logs end to end against otelite (issue 12), started by `./scripts/test` like the
//! other e2e tests: the `budget_server` fixture (one route behind `TelemetryLayer`, whose handler
//! writes `tracing::info!(n, "request served")`) with 2 workers exporting spans, metrics and logs
//! over OTLP/HTTP to otelite, a known number of requests, TERM (the last collection is flushed at
//! worker exit), then otelite's REST API is asked what arrived:
//!
//! - metrics of every worker, each with its `process.pid` in the resource, already before TERM
//!   (the periodic reader, every 200 ms here);
//! - the `http.server.request.duration` counts of the last cumulative point of every series of
//!   every worker add up to the requests sent, and per worker to what its report says it served;
//! - every `request served` log record carries the trace and span ids of the server span of the
//!   request it was written in, as otelite's traces API shows that span.
#![cfg(all(feature = "e2e", feature = "tracing"))]

use forkline_examples::http_get_with;
use forkline_tests::harness::requests_over_both_workers;
use forkline_tests::peers::{attr, eventually, start_against, stop, Peers, ARRIVAL, BOOT};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_budget_server");
const DURATION: &str = "http.server.request.duration";

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// GET on otelite's API, as JSON; `None` unless it answers 200 with JSON.
fn api(peers: &Peers, path: &str) -> Option<Value> {
    match http_get_with(peers.otelite_api, path, &[]) {
        Ok((200, body)) => serde_json::from_str(&body).ok(),
        _ => None,
    }
}

/// Every stored metric data point named exactly `name` since `since_ns` whose resource's
/// `service.name` is `service` (otelite stores one row per data point, all values as strings).
/// `/api/metrics` gives only the latest point per name across all resources, so this reads
/// `/api/metrics/export`, which is neither cached nor limited.
fn points(peers: &Peers, name: &str, service: &str, since_ns: i64) -> Vec<Value> {
    let all = api(
        peers,
        &format!("/api/metrics/export?name={name}&start_time={since_ns}"),
    )
    .and_then(|v| v.as_array().cloned())
    .unwrap_or_default();
    all.into_iter()
        .filter(|m| m["name"] == name && attr(m, "service.name") == service)
        .collect()
}

/// The pids in the resources of every metric point of `service` since `since_ns`.
fn pids_with_metrics(peers: &Peers, service: &str, since_ns: i64) -> BTreeSet<u32> {
    let all = api(peers, &format!("/api/metrics/export?start_time={since_ns}"))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    all.iter()
        .filter(|m| attr(m, "service.name") == service)
        .filter_map(|m| attr(m, "process.pid").as_str()?.parse().ok())
        .collect()
}

/// The log records otelite stored in one trace. `/api/logs` caches a response for 5 minutes by
/// its query (an empty one too), so each call asks with a new `end_time`. (The `tracing` bridge
/// sets only the observed timestamp, and otelite stores the record's own, 0: a `start_time`
/// would hide every record.)
fn records_in(peers: &Peers, trace_id: &str) -> Vec<Value> {
    let path = format!(
        "/api/logs?trace_id={trace_id}&end_time={}&limit=1000",
        now_ns() + 60_000_000_000
    );
    let page = api(peers, &path).unwrap_or(Value::Null);
    page["logs"].as_array().cloned().unwrap_or_default()
}

#[test]
fn metrics_and_logs_of_every_worker_reach_otelite_counted_and_linked_to_their_spans() {
    let peers = Peers::from_env();
    let since = now_ns() - 1_000_000_000;
    let (fx, service) = start_against(
        BIN,
        &peers,
        "e2e-signals",
        "2",
        &[
            ("SENTRY_DSN", ""),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
        ],
    );
    let addr = fx.addr(BOOT);
    let mut workers = fx.wait_for_workers(2, BOOT);
    workers.sort_unstable();
    let served = requests_over_both_workers(addr, 40).pids;
    let sent = served.len() as u64;

    // The periodic reader: both workers' collections arrive while they run, before any flush.
    let early = eventually(ARRIVAL, || {
        let pids = pids_with_metrics(&peers, &service, since);
        (pids.len() >= 2).then_some(pids)
    })
    .unwrap_or_else(|| panic!("no periodic collection of both workers of {service} in otelite"));
    assert_eq!(
        early.into_iter().collect::<Vec<_>>(),
        workers,
        "metrics from each worker, under its own pid, before TERM"
    );

    let reports = stop(fx);
    assert_eq!(reports.len(), 2, "{reports:?}");
    let by_report: BTreeMap<u32, u64> = reports
        .iter()
        .map(|r| (r.pid, r.serving.requests_served))
        .collect();
    assert_eq!(by_report.values().sum::<u64>(), sent, "{by_report:?}");
    for r in &reports {
        let metrics = r.metrics.as_ref().expect("the guarded metrics pipeline");
        assert!(metrics.delivered >= 2, "several collections: {metrics:?}");
        assert_eq!(metrics.dropped_total, 0, "{metrics:?}");
        assert_eq!(metrics.accepted, metrics.delivered, "{metrics:?}");
        println!(
            "worker {}: {} collections accepted, {} delivered",
            r.pid, metrics.accepted, metrics.delivered
        );
        let logs = r.logs.as_ref().expect("the guarded logs pipeline");
        assert_eq!(logs.dropped_total, 0, "{logs:?}");
        assert_eq!(r.shutdown.metrics, forkline::report::PartOutcome::Done);
    }

    // The request histogram: the last cumulative point of each series (method, route, status...)
    // of each worker, summed. Polled until it covers every request: the exit collection is the
    // one that holds the last ones.
    let mut last_counts = BTreeMap::new();
    let counted = eventually(ARRIVAL, || {
        let mut last: BTreeMap<(u32, String), (i64, u64)> = BTreeMap::new();
        for p in points(&peers, DURATION, &service, since) {
            let pid = attr(&p, "process.pid")
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let series = p["attributes"].to_string();
            let at = p["timestamp"].as_i64().unwrap_or(0);
            let count = p["metric_type"]["Histogram"]["count"].as_u64().unwrap_or(0);
            let entry = last.entry((pid, series)).or_insert((at, count));
            if at >= entry.0 {
                *entry = (at, count);
            }
        }
        let mut per_worker: BTreeMap<u32, u64> = BTreeMap::new();
        for ((pid, _), (_, count)) in &last {
            *per_worker.entry(*pid).or_default() += count;
        }
        last_counts = per_worker.clone();
        (per_worker.values().sum::<u64>() >= sent).then_some(per_worker)
    })
    .unwrap_or_else(|| {
        panic!("{DURATION} in otelite never counted the {sent} requests: {last_counts:?}")
    });
    println!("requests sent: {sent}; counted by otelite's last points, per worker: {counted:?}; served per the reports: {by_report:?}");
    assert_eq!(
        counted, by_report,
        "each worker's last cumulative points count exactly the requests it served"
    );
    assert_eq!(counted.values().sum::<u64>(), sent);

    // The log records: each request's server span, found in otelite's traces, has in its trace
    // the one record its handler wrote, carrying that span's ids, from the worker that served it.
    let spans = eventually(ARRIVAL, || {
        let spans: BTreeMap<u64, Value> = peers
            .spans_of(&service)
            .into_iter()
            .filter(|s| s["kind"] == "Server")
            .filter_map(|s| {
                let n = s["attributes"]["url.path"]
                    .as_str()?
                    .strip_prefix("/req/")?
                    .parse()
                    .ok()?;
                Some((n, s))
            })
            .collect();
        (spans.len() as u64 >= sent).then_some(spans)
    })
    .unwrap_or_else(|| panic!("otelite did not receive the {sent} server spans of {service}"));
    assert_eq!(
        spans.keys().copied().collect::<Vec<_>>(),
        served.keys().copied().collect::<Vec<_>>(),
        "one server span for each request"
    );
    let mut linked = 0;
    for (n, span) in &spans {
        let trace_id = span["trace_id"].as_str().unwrap_or_default();
        let records = eventually(ARRIVAL, || {
            // With feature `log`, the handler's `log::info!` is a second record of the trace.
            let records: Vec<Value> = records_in(&peers, trace_id)
                .into_iter()
                .filter(|r| r["body"] == "request served")
                .collect();
            (!records.is_empty()).then_some(records)
        })
        .unwrap_or_else(|| panic!("/req/{n}: no log record in its trace {trace_id}"));
        assert_eq!(records.len(), 1, "/req/{n}: {records:#?}");
        let record = &records[0];
        assert_eq!(record["severity"], "INFO", "{record:#}");
        assert_eq!(
            record["attributes"]["n"].as_str(),
            Some(n.to_string().as_str()),
            "/req/{n}: the record written in this request: {record:#}"
        );
        assert_eq!(record["trace_id"], span["trace_id"], "{record:#}");
        assert_eq!(
            record["span_id"], span["span_id"],
            "/req/{n}: the record carries its request's server span: {record:#}"
        );
        assert_eq!(
            attr(record, "process.pid").as_str(),
            Some(served[n].to_string().as_str()),
            "/req/{n}: logged by the worker that served it: {record:#}"
        );
        assert_eq!(attr(record, "process.pid"), attr(span, "process.pid"));
        linked += 1;
    }
    println!("{linked} log records, each in the trace of its request's server span in otelite, with its span id");
}
