//! OTel logs across real forks (issue 12): the `budget_server` fixture (one route behind
//! `TelemetryLayer`, whose handler logs `tracing::info!(n, "request served")`) with 2 workers.
//! Each worker's logger provider, built in its `post_fork`, turns the event into a log record
//! (the `tracing` bridge, installed in `worker_init`); the record carries the worker's pid in
//! its resource, and the trace and span ids of the request's server span. Without an endpoint the
//! records go to `logs-<pid>.jsonl` (and the spans to `spans-<pid>.jsonl`); with one, both reach
//! the collector in the test through the guarded pipelines.
#![cfg(feature = "tracing")]

use forkline_tests::harness::{
    alone, attributes, http_get, pipeline_health, read_sink_text, read_spans,
    requests_over_both_workers, wait_until, Fixture,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_budget_server");
const BOOT: Duration = Duration::from_secs(30);
/// Log records a request makes: its `tracing::info!`, and its `log::info!` with feature `log`.
const PER_REQUEST: u64 = if cfg!(feature = "log") { 2 } else { 1 };

/// What a request's log record and server span say, as hex ids.
#[derive(Debug, PartialEq, Eq)]
struct Ids {
    trace_id: String,
    span_id: String,
}

/// A trace or span id as the OTLP JSON files and the collector show it: lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn n_of(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// The `request served` records in a worker's logs file: the pid in their resource, and the
/// ids of each by its `n`.
fn logged(run_dir: &std::path::Path, pid: u32) -> BTreeMap<u64, (Value, Ids)> {
    let text = read_sink_text(run_dir, &format!("logs-{pid}"));
    let mut records = BTreeMap::new();
    for line in text.lines() {
        let request: Value = serde_json::from_str(line).expect("OTLP JSON");
        for rl in request["resourceLogs"].as_array().into_iter().flatten() {
            let resource = attributes(&rl["resource"]["attributes"]);
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for record in sl["logRecords"].as_array().into_iter().flatten() {
                    if record["body"]["stringValue"] != "request served" {
                        continue;
                    }
                    let attrs = attributes(&record["attributes"]);
                    let n = n_of(&attrs["n"]).unwrap_or_else(|| panic!("no n in {record}"));
                    let ids = Ids {
                        trace_id: record["traceId"].as_str().unwrap_or_default().into(),
                        span_id: record["spanId"].as_str().unwrap_or_default().into(),
                    };
                    assert_eq!(record["severityText"], "INFO", "{record}");
                    assert!(records.insert(n, (resource.clone(), ids)).is_none());
                }
            }
        }
    }
    records
}

/// With feature `log`: the records the handler's `log::info!` became in a worker's logs file, by
/// the `n` in their message, with their target and the record's own (`log.target`).
#[cfg(feature = "log")]
fn logged_through_log(run_dir: &std::path::Path, pid: u32) -> BTreeMap<u64, (Ids, Value)> {
    let text = read_sink_text(run_dir, &format!("logs-{pid}"));
    let mut records = BTreeMap::new();
    for line in text.lines() {
        let request: Value = serde_json::from_str(line).expect("OTLP JSON");
        for rl in request["resourceLogs"].as_array().into_iter().flatten() {
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for record in sl["logRecords"].as_array().into_iter().flatten() {
                    let body = record["body"]["stringValue"].as_str().unwrap_or_default();
                    let Some(n) = body
                        .strip_prefix("request ")
                        .and_then(|rest| rest.strip_suffix(" served through log"))
                        .and_then(|n| n.parse().ok())
                    else {
                        continue;
                    };
                    let ids = Ids {
                        trace_id: record["traceId"].as_str().unwrap_or_default().into(),
                        span_id: record["spanId"].as_str().unwrap_or_default().into(),
                    };
                    let mut attrs = attributes(&record["attributes"]);
                    attrs["scope"] = sl["scope"]["name"].clone();
                    assert!(records.insert(n, (ids, attrs)).is_none());
                }
            }
        }
    }
    records
}

/// The server span of each `/req/{n}` in a worker's spans file.
fn server_spans(run_dir: &std::path::Path, pid: u32) -> BTreeMap<u64, Ids> {
    read_spans(run_dir, pid)
        .iter()
        .filter_map(|span| {
            let attrs = attributes(&span["attributes"]);
            let n = attrs["url.path"]
                .as_str()?
                .strip_prefix("/req/")?
                .parse()
                .ok()?;
            let ids = Ids {
                trace_id: span["traceId"].as_str()?.into(),
                span_id: span["spanId"].as_str()?.into(),
            };
            Some((n, ids))
        })
        .collect()
}

#[test]
fn each_workers_log_records_carry_its_pid_and_the_trace_of_the_request_they_were_logged_in() {
    let _alone = alone();
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("SENTRY_DSN", ""),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let served = requests_over_both_workers(addr, 20).pids;
    fx.stop();
    let run_dir = fx.run_dir();
    let reports = forkline::read_reports(&run_dir).expect("reports");
    assert_eq!(reports.len(), 2, "{reports:?}");
    for report in &reports {
        let pid = report.pid;
        assert_eq!(
            report.shutdown.logs,
            forkline::report::PartOutcome::Done,
            "{report:?}"
        );
        let mine: BTreeSet<u64> = served
            .iter()
            .filter(|(_, p)| **p == pid)
            .map(|(n, _)| *n)
            .collect();
        assert!(!mine.is_empty(), "worker {pid} served nothing: {served:?}");
        // The report accounts for every record: all emitted were written, none lost.
        let stats = &report.stats;
        assert_eq!(
            stats.logs_emitted,
            PER_REQUEST * mine.len() as u64,
            "{stats:?}"
        );
        assert_eq!(stats.logs_written, stats.logs_emitted, "{stats:?}");
        assert_eq!(
            (stats.logs_discarded_budget, stats.logs_dropped_unwritten),
            (0, 0),
            "{stats:?}"
        );
        let records = logged(&run_dir, pid);
        assert_eq!(
            records.keys().copied().collect::<BTreeSet<_>>(),
            mine,
            "worker {pid}'s logs file holds one record for each request it served, and no other"
        );
        let spans = server_spans(&run_dir, pid);
        for (n, (resource, ids)) in &records {
            assert_eq!(resource["process.pid"], Value::from(i64::from(pid)));
            assert_eq!(resource["service.name"], "budget-fixture");
            assert_eq!(ids.trace_id.len(), 32, "a trace id: {ids:?}");
            let span = spans
                .get(n)
                .unwrap_or_else(|| panic!("worker {pid}: no server span for /req/{n}"));
            assert_eq!(
                ids, span,
                "worker {pid}, /req/{n}: the record carries its request's server span"
            );
        }
        // Requests are distinct traces: no two records share one.
        let traces: BTreeSet<&str> = records.values().map(|(_, i)| i.trace_id.as_str()).collect();
        assert_eq!(traces.len(), records.len());
        // With feature `log`, the handler's `log::info!` took the same path.
        #[cfg(feature = "log")]
        {
            let through_log = logged_through_log(&run_dir, pid);
            assert_eq!(
                through_log.keys().copied().collect::<BTreeSet<_>>(),
                mine,
                "worker {pid}: one `log` record for each request it served"
            );
            for (n, (ids, attrs)) in &through_log {
                assert_eq!(
                    Some(ids),
                    spans.get(n),
                    "worker {pid}, /req/{n} through log"
                );
                assert_eq!(attrs["log.target"], "budget_fixture", "{attrs}");
            }
        }
    }
}

/// The same over OTLP/HTTP to a collector in this test: each worker's records reach it through
/// its guarded logs pipeline (its figures in the worker report), with its pid in the resource
/// and the trace of the server span the collector received for the same request.
#[test]
fn each_worker_exports_its_log_records_over_otlp_through_its_guarded_pipeline() {
    let _alone = alone();
    use forkline_tests::faults::{Behaviour, FaultServer};
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::common::v1::KeyValue;

    fn int(attributes: &[KeyValue], key: &str) -> Option<i64> {
        let kv = attributes.iter().find(|kv| kv.key == key)?;
        match kv.value.as_ref()?.value {
            Some(Any::IntValue(v)) => Some(v),
            _ => None,
        }
    }
    fn string<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
        let kv = attributes.iter().find(|kv| kv.key == key)?;
        match kv.value.as_ref()?.value.as_ref()? {
            Any::StringValue(v) => Some(v),
            _ => None,
        }
    }

    let collector = FaultServer::start(Behaviour::Healthy);
    let endpoint = format!("http://{}", collector.addr);
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("SENTRY_DSN", ""),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BLRP_SCHEDULE_DELAY", "100"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let served = requests_over_both_workers(addr, 20).pids;
    fx.stop();
    assert!(
        !fx.run_dir()
            .read_dir()
            .expect("run folder")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("logs-")),
        "with an endpoint, no logs file"
    );

    // The server spans the collector received, by request.
    let mut spans: BTreeMap<u64, Ids> = BTreeMap::new();
    for request in collector.traces() {
        for span in request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
        {
            let n = string(&span.attributes, "url.path")
                .and_then(|p| p.strip_prefix("/req/"))
                .and_then(|n| n.parse().ok());
            if let Some(n) = n {
                spans.insert(
                    n,
                    Ids {
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                    },
                );
            }
        }
    }
    // The records, by the pid in their resource.
    let mut records: BTreeMap<u32, BTreeMap<u64, Ids>> = BTreeMap::new();
    for request in collector.logs() {
        for rl in &request.resource_logs {
            let pid = rl
                .resource
                .as_ref()
                .and_then(|r| int(&r.attributes, "process.pid"))
                .and_then(|p| u32::try_from(p).ok())
                .expect("a pid in the resource");
            for record in rl.scope_logs.iter().flat_map(|sl| &sl.log_records) {
                let Some(n) = int(&record.attributes, "n") else {
                    continue;
                };
                let ids = Ids {
                    trace_id: hex(&record.trace_id),
                    span_id: hex(&record.span_id),
                };
                let again = records.entry(pid).or_default().insert(n as u64, ids);
                assert!(again.is_none(), "/req/{n} logged twice");
            }
        }
    }

    let reports = fx.reports(2);
    for report in &reports {
        let pid = report.pid;
        let mine: BTreeSet<u64> = served
            .iter()
            .filter(|(_, p)| **p == pid)
            .map(|(n, _)| *n)
            .collect();
        let got = records.remove(&pid).unwrap_or_default();
        assert_eq!(
            got.keys().copied().collect::<BTreeSet<_>>(),
            mine,
            "the collector got one record from worker {pid} for each request it served"
        );
        for (n, ids) in &got {
            assert_eq!(
                Some(ids),
                spans.get(n),
                "worker {pid}, /req/{n}: the record carries its request's server span"
            );
        }
        // The report's figures count the same records (the worker logs nothing else at info:
        // every record is a request's).
        let logs = report
            .logs
            .as_ref()
            .expect("the guarded logs pipeline's figures");
        assert_eq!(logs.delivered, PER_REQUEST * mine.len() as u64, "{logs:?}");
        assert_eq!(logs.dropped_total, 0, "{logs:?}");
        assert_eq!(report.shutdown.logs, forkline::report::PartOutcome::Done);
    }
    assert!(
        records.is_empty(),
        "records from no known worker: {records:?}"
    );
}

/// What a run against a failing logs collector showed: the slowest of 60 requests, how long
/// the master took from TERM to its exit, the workers' deadline, their reports, and the
/// requests each served.
struct FaultRun {
    slowest: Duration,
    stopped_in: Duration,
    deadline: Duration,
    reports: Vec<forkline::WorkerReport>,
    served: BTreeMap<u32, u64>,
}

/// 2 workers whose logs go to `endpoint` (spans, metrics and Sentry off), 60 requests, then
/// TERM once `until` says so of the logs figures of a worker that answered `/health`.
fn run_against(
    endpoint: &str,
    mut until: impl FnMut(u32, &forkline::report::PipelineHealth) -> bool,
) -> FaultRun {
    // One run at a time in this binary: another test's load would decide the timings checked.
    let _alone = alone();
    use std::time::Instant;
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("SENTRY_DSN", ""),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", endpoint),
            // A blocking request path would show this 5 s on a request.
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "5000"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "20"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "1"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let mut slowest = Duration::ZERO;
    let mut served = BTreeMap::new();
    for n in 1..=60_u64 {
        let started = Instant::now();
        let (_, body) = http_get(addr, &format!("/req/{n}")).expect("answered");
        slowest = slowest.max(started.elapsed());
        let pid: u32 = body
            .strip_prefix("pid=")
            .and_then(|p| p.parse().ok())
            .expect("pid");
        *served.entry(pid).or_insert(0_u64) += 1;
    }
    wait_until(Duration::from_secs(30), || {
        let (pid, logs) = pipeline_health(addr, "logs")?;
        until(pid, &logs).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the logs figures awaited did not come: {:?}",
            pipeline_health(addr, "logs")
        )
    });
    let stopped_in = fx.stop();
    let reports = fx.reports(2);
    FaultRun {
        slowest,
        stopped_in,
        deadline: Duration::from_millis(reports[0].shutdown.deadline_ms),
        reports,
        served,
    }
}

impl FaultRun {
    /// Requests stayed far below the attempt timeout, the master exited within the workers'
    /// deadline, and every record a worker accepted is counted dropped, none delivered.
    fn assert_flat_on_time_and_counted(&self) {
        assert!(
            self.slowest < Duration::from_secs(1),
            "a request took {:?} while the logs collector fails",
            self.slowest
        );
        assert!(
            self.stopped_in <= self.deadline + Duration::from_millis(200),
            "TERM to the master's exit took {:?}; the workers' deadline is {:?}",
            self.stopped_in,
            self.deadline
        );
        for r in &self.reports {
            let logs = r
                .logs
                .as_ref()
                .expect("the guarded logs pipeline's figures");
            assert_eq!(
                logs.accepted,
                PER_REQUEST * self.served.get(&r.pid).copied().unwrap_or(0),
                "{logs:?}"
            );
            assert_eq!(logs.delivered, 0, "{logs:?}");
            assert_eq!(
                logs.dropped_total, logs.accepted,
                "every record left behind is counted: {logs:?}"
            );
        }
    }
}

/// A logs collector that accepts, reads and never answers: the request path does not wait on
/// it, the worker still exits within its `worker_exit` deadline, timed from outside, and what
/// the logs pipeline left behind is counted in its report.
#[test]
fn a_black_holed_logs_collector_neither_slows_requests_nor_holds_a_worker_past_its_deadline() {
    use forkline_tests::faults::{Behaviour, FaultServer};
    let collector = FaultServer::start(Behaviour::BlackHole);
    let run = run_against(&format!("http://{}/v1/logs", collector.addr), |_, _| true);
    run.assert_flat_on_time_and_counted();
    assert!(
        collector.requests() >= 1,
        "the logs pipeline did try the collector"
    );
    for r in &run.reports {
        assert_ne!(
            r.shutdown.logs,
            forkline::report::PartOutcome::Done,
            "the logs could not have been delivered: {r:?}"
        );
    }
    assert_eq!(collector.delivered(), 0);
}

/// A logs collector whose port refuses connections: the same, and the failures show as what
/// they are (network errors, then the open breaker) in the report's figures.
#[test]
fn a_refusing_logs_collector_neither_slows_requests_nor_holds_a_worker_past_its_deadline() {
    let addr = forkline_tests::faults::refusing_addr();
    let run = run_against(&format!("http://{addr}/v1/logs"), |_, _| true);
    run.assert_flat_on_time_and_counted();
    for r in &run.reports {
        let logs = r.logs.as_ref().expect("figures");
        assert!(
            logs.consecutive_failures >= 1 && logs.last_error.is_some(),
            "the refusals are seen: {logs:?}"
        );
    }
}

/// A logs collector answering every export with 503 + `Retry-After: 1`: the same, and each
/// worker retried, never sooner than the collector asked (its attempts, timed where they
/// arrive, are at least 900 ms apart, where the backoff alone would retry within 100 ms).
#[test]
fn a_throttling_logs_collector_is_retried_after_its_delay_without_slowing_requests() {
    use forkline_tests::faults::{assert_retries_waited, until_each_retried, FaultServer};
    use forkline_tests::otlp_read::logs_pid;
    let collector = FaultServer::throttling();
    let endpoint = format!("http://{}/v1/logs", collector.addr);
    let run = run_against(&endpoint, until_each_retried(2));
    run.assert_flat_on_time_and_counted();
    assert_eq!(collector.delivered(), 0);
    let attempts = collector
        .logs_attempts()
        .into_iter()
        .map(|(at, request)| (at, logs_pid(&request).expect("a pid in the resource")));
    let pids: Vec<u32> = run.reports.iter().map(|r| r.pid).collect();
    let gaps = assert_retries_waited(attempts, &pids, Duration::from_millis(900));
    println!("503 + Retry-After 1: per worker, the gaps between its log exports: {gaps:?}");
}
