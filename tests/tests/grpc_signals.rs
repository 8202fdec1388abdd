//! Metrics and logs over OTLP/gRPC (feature `grpc`), across real forks: the `budget_server`
//! fixture (one route behind `TelemetryLayer`, whose handler logs `tracing::info!(n, "request
//! served")`) with 2 workers, `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` and the test's gRPC collector
//! as the base endpoint, so spans, metrics and logs all reach its `TraceService`,
//! `MetricsService` and `LogsService`, each worker's channel made after its fork.
//!
//! - Healthy: every worker's collections arrive, the last one's request-duration histogram
//!   counting what the worker served (all together: the requests sent); every request's log
//!   record arrives from the worker that served it, in the trace of its server span (whose span
//!   id the collector received); the headers travel as metadata on every service.
//! - Failing (UNAVAILABLE on every call, or a refusing port): requests stay fast, the master
//!   exits within the workers' deadline after TERM, and each worker's metrics and logs figures
//!   count everything accepted as dropped, none delivered, with the failure named.
#![cfg(all(feature = "grpc", feature = "tracing"))]

use forkline::report::PartOutcome::Done;
use forkline::report::PipelineHealth;
use forkline_tests::grpc_collector::{GrpcBehaviour, GrpcCollector, OtlpService};
use forkline_tests::harness::{self, http_get, wait_until, Fixture};
use forkline_tests::otlp_read::{duration_count, metrics_pid, resource_pid};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_budget_server");
const BOOT: Duration = Duration::from_secs(30);
/// Log records a request makes: its `tracing::info!`, and its `log::info!` with feature `log`.
const PER_REQUEST: u64 = if cfg!(feature = "log") { 2 } else { 1 };
const SECRET: &str = "Bearer grpc-signals";

/// The fixture's variables for a collector at `url` over gRPC, plus `more`.
fn start(url: &str, more: &[(&str, &str)]) -> Fixture {
    let mut env = vec![
        ("FORKLINE_WORKERS", "2"),
        ("SENTRY_DSN", ""),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20grpc-signals",
        ),
        ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
    ];
    env.extend_from_slice(more);
    Fixture::start(BIN, &env)
}

/// [`harness::requests_over_both_workers`] (at least 20), every tenth answered 500 by the
/// fixture and the others 200: the pid that answered each `n`, and the slowest answer.
fn requests_over_both_workers(addr: SocketAddr) -> (BTreeMap<u64, u32>, Duration) {
    let served = harness::requests_over_both_workers(addr, 20);
    for (n, status) in &served.statuses {
        assert_eq!(*status, if n % 10 == 0 { 500 } else { 200 }, "/req/{n}");
    }
    (served.pids, served.slowest)
}

/// A log record's trace id and span id.
type Ids = (Vec<u8>, Vec<u8>);

/// The `n` of a `request served` record.
fn n_of(record: &opentelemetry_proto::tonic::logs::v1::LogRecord) -> Option<u64> {
    let kv = record.attributes.iter().find(|kv| kv.key == "n")?;
    match kv.value.as_ref()?.value {
        Some(Any::IntValue(n)) => u64::try_from(n).ok(),
        _ => None,
    }
}

#[test]
fn every_worker_exports_its_metrics_and_logs_over_grpc_in_the_trace_of_each_request() {
    let collector = GrpcCollector::start(GrpcBehaviour::Healthy);
    let mut fx = start(&collector.url(), &[("OTEL_BLRP_SCHEDULE_DELAY", "100")]);
    let addr = fx.addr(BOOT);
    let workers = fx.wait_for_workers(2, BOOT);
    let (served, _) = requests_over_both_workers(addr);
    // Periodic collections reach the collector while the workers run, from every worker.
    wait_until(Duration::from_secs(30), || {
        let senders: BTreeSet<u32> = collector.metrics().iter().filter_map(metrics_pid).collect();
        workers.iter().all(|w| senders.contains(w)).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "not every worker exported metrics; stderr:\n{}",
            fx.stderr()
        )
    });
    fx.stop();
    assert!(
        !fx.run_dir()
            .read_dir()
            .expect("run folder")
            .flatten()
            .any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("metrics-") || name.starts_with("logs-")
            }),
        "with an endpoint, no metrics or logs file"
    );

    // Only the application's spans: none of the gRPC client's own `tracing` spans (h2's
    // `try_reclaim_frame` and the like), which the tracing bridge would otherwise export, each
    // export making more.
    let names: BTreeSet<String> = collector.span_names().into_iter().collect();
    assert_eq!(
        names,
        BTreeSet::from(["GET /req/{n}".to_string()]),
        "the spans the collector got"
    );
    // The records with an `n`, by the pid in their resource: (trace id, span id) by `n`.
    let span_ids: BTreeSet<Vec<u8>> = collector.span_ids().into_iter().collect();
    let mut records: BTreeMap<u32, BTreeMap<u64, Ids>> = BTreeMap::new();
    for request in collector.logs() {
        for rl in &request.resource_logs {
            let pid = resource_pid(rl.resource.as_ref()).expect("a pid in the resource");
            for record in rl.scope_logs.iter().flat_map(|sl| &sl.log_records) {
                let Some(n) = n_of(record) else { continue };
                let ids = (record.trace_id.clone(), record.span_id.clone());
                let again = records.entry(pid).or_default().insert(n, ids);
                assert!(again.is_none(), "/req/{n} logged twice");
            }
        }
    }

    let reports = fx.reports(2);
    let metrics = collector.metrics();
    let mut counted = 0;
    for report in &reports {
        let pid = report.pid;
        let mine: BTreeSet<u64> = served
            .iter()
            .filter(|(_, p)| **p == pid)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            report.serving.requests_served,
            mine.len() as u64,
            "{report:?}"
        );
        assert_eq!(
            (&report.shutdown.metrics, &report.shutdown.logs),
            (&Done, &Done),
            "{report:?}"
        );
        // Metrics: the last collection, made at exit, counts what the worker served.
        let last = metrics
            .iter()
            .rfind(|r| metrics_pid(r) == Some(pid))
            .unwrap_or_else(|| panic!("no metrics from worker {pid}"));
        assert_eq!(
            duration_count(last),
            mine.len() as u64,
            "worker {pid}: its last collection counts what it served"
        );
        counted += duration_count(last);
        let m = report
            .metrics
            .as_ref()
            .expect("the metrics pipeline's figures");
        assert!(m.delivered >= 2, "periodic and final collections: {m:?}");
        assert_eq!((m.accepted, m.dropped_total), (m.delivered, 0), "{m:?}");
        // Logs: one record for each request the worker served, in its server span's trace.
        let got = records.remove(&pid).unwrap_or_default();
        assert_eq!(
            got.keys().copied().collect::<BTreeSet<_>>(),
            mine,
            "the collector got one record from worker {pid} for each request it served"
        );
        for (n, (trace_id, span_id)) in &got {
            assert!(
                trace_id.len() == 16 && trace_id.iter().any(|b| *b != 0),
                "worker {pid}, /req/{n}: a trace id {trace_id:?}"
            );
            assert!(
                span_ids.contains(span_id),
                "worker {pid}, /req/{n}: the record's span is one the collector received"
            );
        }
        let traces: BTreeSet<&Vec<u8>> = got.values().map(|(t, _)| t).collect();
        assert_eq!(traces.len(), got.len(), "requests are distinct traces");
        let logs = report.logs.as_ref().expect("the logs pipeline's figures");
        assert_eq!(logs.delivered, PER_REQUEST * mine.len() as u64, "{logs:?}");
        assert_eq!(
            (logs.accepted, logs.dropped_total),
            (logs.delivered, 0),
            "{logs:?}"
        );
    }
    assert!(
        records.is_empty(),
        "records from no known worker: {records:?}"
    );
    assert_eq!(
        counted,
        served.len() as u64,
        "all together: the requests sent"
    );
    // The headers travel as metadata on every service.
    for service in [OtlpService::Traces, OtlpService::Metrics, OtlpService::Logs] {
        let auth = collector.authorization_to(service);
        assert_eq!(
            auth.len(),
            collector.calls_to(service),
            "{service:?}: metadata on every call"
        );
        assert!(
            !auth.is_empty() && auth.iter().all(|a| a == SECRET),
            "{service:?}: {auth:?}"
        );
    }
}

#[test]
fn at_rust_log_trace_the_grpc_clients_own_spans_are_not_exported() {
    // h2's spans are at trace level, made on the export threads (which run with telemetry
    // suppressed): even with every level let through, none may become a span to export.
    let collector = GrpcCollector::start(GrpcBehaviour::Healthy);
    let mut fx = start(&collector.url(), &[("RUST_LOG", "trace")]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let (served, _) = requests_over_both_workers(addr);
    fx.stop();
    let names = collector.span_names();
    let servers = names.iter().filter(|n| *n == "GET /req/{n}").count();
    assert_eq!(servers, served.len(), "one server span per request");
    let h2: Vec<&String> = names
        .iter()
        .filter(|n| {
            [
                "FramedWrite",
                "FramedRead",
                "hpack::",
                "try_reclaim_frame",
                "pop_frame",
            ]
            .iter()
            .any(|h| n.contains(h))
        })
        .collect();
    assert!(
        h2.is_empty(),
        "the gRPC client's spans were exported: {h2:?}"
    );
}

/// The metrics and logs figures of the worker that answered `/health`.
fn pipelines(addr: SocketAddr) -> Option<(u32, PipelineHealth, PipelineHealth)> {
    let (_, body) = http_get(addr, "/health").ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let pid = u32::try_from(v["pid"].as_u64()?).ok()?;
    let of = |name: &str| serde_json::from_value(v["health"][name].clone()).ok();
    Some((pid, of("metrics")?, of("logs")?))
}

/// 2 workers whose metrics and logs go over gRPC to `url` (spans off): 20+ requests, until
/// each worker's `/health` shows both pipelines failing, then TERM. Asserts the request path
/// stayed fast, the master exited within the workers' deadline, and every collection and record
/// each worker accepted is counted dropped, none delivered, the last error containing `error`.
fn assert_flat_on_time_and_counted(url: &str, error: &str) -> Vec<forkline::WorkerReport> {
    let mut fx = start(
        url,
        &[
            ("OTEL_TRACES_EXPORTER", "none"),
            // A request path that waited on an export would show this.
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "5000"),
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "5000"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "20"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "1"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let (served, slowest) = requests_over_both_workers(addr);
    let mut failing = BTreeSet::new();
    wait_until(Duration::from_secs(30), || {
        let (pid, metrics, logs) = pipelines(addr)?;
        let failed =
            |p: &PipelineHealth| p.last_error.as_deref().is_some_and(|e| e.contains(error));
        if failed(&metrics) && failed(&logs) {
            failing.insert(pid);
        }
        (failing.len() == 2).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "not both workers failing with {error:?}: {:?}",
            pipelines(addr)
        )
    });
    assert!(
        slowest < Duration::from_secs(1),
        "a request took {slowest:?} while the collector fails"
    );
    let stopped_in = fx.stop();
    let reports = fx.reports(2);
    let deadline = Duration::from_millis(reports[0].shutdown.deadline_ms);
    assert!(
        stopped_in <= deadline + Duration::from_millis(200),
        "TERM to the master's exit took {stopped_in:?}; the workers' deadline is {deadline:?}"
    );
    for r in &reports {
        let mine = served.values().filter(|p| **p == r.pid).count() as u64;
        let m = r.metrics.as_ref().expect("the metrics pipeline's figures");
        assert!(m.accepted >= 1, "{m:?}");
        assert_eq!((m.delivered, m.dropped_total), (0, m.accepted), "{m:?}");
        let logs = r.logs.as_ref().expect("the logs pipeline's figures");
        assert_eq!(logs.accepted, PER_REQUEST * mine, "{logs:?}");
        assert_eq!(
            (logs.delivered, logs.dropped_total),
            (0, logs.accepted),
            "{logs:?}"
        );
        for p in [m, logs] {
            assert!(p.consecutive_failures >= 1, "{p:?}");
            assert!(
                p.last_error.as_deref().is_some_and(|e| e.contains(error)),
                "{p:?}"
            );
        }
    }
    reports
}

/// A collector answering UNAVAILABLE to every call: retried (the OTLP retry table), never
/// delivered, and nothing waits on it.
#[test]
fn an_unavailable_grpc_collector_neither_slows_requests_nor_holds_a_worker_past_its_deadline() {
    let collector = GrpcCollector::start(GrpcBehaviour::Status(tonic::Code::Unavailable));
    let reports = assert_flat_on_time_and_counted(&collector.url(), "gRPC UNAVAILABLE");
    for r in &reports {
        for p in [&r.metrics, &r.logs] {
            let p = p.as_ref().expect("figures");
            assert!(p.retried >= 1, "UNAVAILABLE is retried: {p:?}");
        }
    }
    assert!(collector.calls_to(OtlpService::Metrics) >= 2);
    assert!(collector.calls_to(OtlpService::Logs) >= 2);
    assert!(collector.metrics().is_empty() && collector.logs().is_empty());
}

/// A port that refuses connections: the failures show as what they are.
#[test]
fn a_refusing_grpc_port_neither_slows_requests_nor_holds_a_worker_past_its_deadline() {
    let addr = forkline_tests::faults::refusing_addr();
    assert_flat_on_time_and_counted(&format!("http://{addr}"), "could not connect");
}
