//! OTel metrics across real forks (issue 12): the `budget_server` fixture (one route behind
//! `TelemetryLayer`) with 2 workers and no endpoint, so each worker's meter provider, built in
//! its `post_fork`, writes its collections to `metrics-<pid>.jsonl`. Whatever worker served a
//! request, its own file holds it: the resource carries the worker's pid, and the
//! `http.server.request.duration` histogram counts exactly the requests its report says it
//! served (the last collection, made at worker exit, is cumulative).

use forkline_tests::harness::{attributes, http_get, last_collection, u64_of, wait_until, Fixture};
use forkline_tests::load::Load;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_budget_server");
const BOOT: Duration = Duration::from_secs(30);

#[test]
fn each_worker_counts_the_requests_it_served_under_its_own_pid() {
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("SENTRY_DSN", ""),
        ],
    );
    let addr = fx.addr(BOOT);
    let workers = fx.wait_for_workers(2, BOOT);
    // Keep-alive clients: balanced accept gives each worker connections of its own.
    let load = Load::start(addr, 4, true, "/req/1");
    wait_until(Duration::from_secs(60), || {
        (load.so_far().ok >= 400).then_some(())
    })
    .expect("the load runs");
    let (seen, _) = load.stop();
    assert_eq!(seen.failed, 0, "{seen:?}");
    // A few 500s (every tenth request number answers 500), each on its own connection.
    for _ in 0..3 {
        let (status, body) = http_get(addr, "/req/10").expect("answered");
        assert_eq!(status, 500, "{body}");
    }

    fx.stop();
    let run_dir = fx.run_dir();
    let reports = forkline::read_reports(&run_dir).expect("reports");
    assert_eq!(reports.len(), 2, "{reports:?}");
    let served: BTreeMap<u32, u64> = reports
        .iter()
        .map(|r| (r.pid, r.serving.requests_served))
        .collect();
    assert_eq!(
        served.keys().copied().collect::<Vec<_>>(),
        {
            let mut w = workers.clone();
            w.sort_unstable();
            w
        },
        "one report per worker"
    );
    assert_eq!(served.values().sum::<u64>(), seen.ok + 3, "{served:?}");
    assert!(
        served.values().all(|n| *n > 0),
        "both workers must serve for this test to mean anything: {served:?}"
    );

    for report in &reports {
        let pid = report.pid;
        assert_eq!(report.shutdown.metrics, forkline::report::PartOutcome::Done);
        let (resource, points) = last_collection(&run_dir, pid, "http.server.request.duration");
        assert_eq!(
            resource["process.pid"],
            Value::from(i64::from(pid)),
            "{resource}"
        );
        assert_eq!(resource["service.name"], "budget-fixture");
        let mut count = 0;
        let mut errors = 0;
        for point in &points {
            let attrs = attributes(&point["attributes"]);
            assert_eq!(attrs["http.request.method"], "GET", "{attrs}");
            assert_eq!(
                attrs["http.route"], "/req/{n}",
                "the template, never the path: {attrs}"
            );
            assert_eq!(attrs["url.scheme"], "http", "{attrs}");
            let n = u64_of(&point["count"]);
            match attrs["http.response.status_code"].as_i64() {
                Some(200) => assert!(attrs.get("error.type").is_none_or(Value::is_null)),
                Some(500) => {
                    assert_eq!(attrs["error.type"], "500", "{attrs}");
                    errors += n;
                }
                other => panic!("unexpected status {other:?}: {attrs}"),
            }
            let bounds: Vec<f64> = point["explicitBounds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            assert_eq!(bounds.len(), 14, "the conventions' boundaries: {bounds:?}");
            assert_eq!(bounds.first(), Some(&0.005));
            count += n;
        }
        assert_eq!(
            count, served[&pid],
            "worker {pid}: the duration histogram counts the requests its report says it served"
        );
        assert!(errors <= 3);
        // Every request ended: none is left active.
        let (_, active) = last_collection(&run_dir, pid, "http.server.active_requests");
        let still_active: i64 = active
            .iter()
            .map(|p| {
                p["asInt"]
                    .as_i64()
                    .or_else(|| p["asInt"].as_str().and_then(|s| s.parse().ok()))
                    .unwrap_or(i64::MIN)
            })
            .sum();
        assert_eq!(still_active, 0, "{active:?}");
    }
}

/// The same over OTLP/HTTP to a collector in this test: a collection every 100 ms goes through
/// each worker's guarded metrics pipeline (visible in `forkline::health().metrics`), and the
/// last one each worker sends at exit counts what it served.
#[test]
fn each_worker_exports_its_metrics_over_otlp_through_its_guarded_pipeline() {
    use forkline_tests::faults::{Behaviour, FaultServer};
    use forkline_tests::otlp_read::{duration_count, metrics_pid as pid_of};
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;

    /// The value of `name`'s data point whose attributes include `with` (a sum or a gauge).
    fn point(
        request: &ExportMetricsServiceRequest,
        name: &str,
        with: &[(&str, &str)],
    ) -> Option<f64> {
        use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
        let metric = request
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .find(|m| m.name == name)?;
        let points = match metric.data.as_ref()? {
            Data::Sum(sum) => &sum.data_points,
            Data::Gauge(gauge) => &gauge.data_points,
            _ => return None,
        };
        let has = |p: &&opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| {
            with.iter().all(|(k, v)| {
                p.attributes.iter().any(|kv| {
                    kv.key == *k
                        && matches!(kv.value.as_ref().and_then(|a| a.value.as_ref()),
                            Some(Any::StringValue(s)) if s == v)
                })
            })
        };
        match points.iter().find(has)?.value? {
            Number::AsInt(n) => Some(n as f64),
            Number::AsDouble(x) => Some(x),
        }
    }

    let collector = FaultServer::start(Behaviour::Healthy);
    let endpoint = format!("http://{}/v1/metrics", collector.addr);
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("SENTRY_DSN", ""),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
        ],
    );
    let addr = fx.addr(BOOT);
    let workers = fx.wait_for_workers(2, BOOT);
    let load = Load::start(addr, 4, true, "/req/1");
    wait_until(Duration::from_secs(60), || {
        (load.so_far().ok >= 400).then_some(())
    })
    .expect("the load runs");
    let (seen, _) = load.stop();
    assert_eq!(seen.failed, 0, "{seen:?}");

    // Periodic collections reach the collector while the workers serve, from every worker.
    wait_until(Duration::from_secs(30), || {
        let senders: std::collections::BTreeSet<u32> =
            collector.metrics().iter().filter_map(pid_of).collect();
        workers.iter().all(|w| senders.contains(w)).then_some(())
    })
    .unwrap_or_else(|| panic!("not every worker exported; stderr:\n{}", fx.stderr()));
    // A worker's health shows its metrics pipeline delivering (the health route is outside the
    // layer, so it adds a request served but no duration).
    let mut health_requests: BTreeMap<u32, u64> = BTreeMap::new();
    let delivered = wait_until(Duration::from_secs(30), || {
        let (status, body) = http_get(addr, "/health").ok()?;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).ok()?;
        let pid = u32::try_from(v["pid"].as_u64()?).ok()?;
        *health_requests.entry(pid).or_default() += 1;
        let metrics = &v["health"]["metrics"];
        (metrics["delivered"].as_u64()? >= 1).then(|| metrics.clone())
    })
    .expect("a worker's health().metrics shows delivered collections");
    assert_eq!(delivered["dropped_total"], 0, "{delivered}");

    fx.stop();
    let reports = fx.reports(2);
    assert!(
        !fx.run_dir()
            .read_dir()
            .expect("run folder")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("metrics-")),
        "with an endpoint, no metrics file"
    );
    let received = collector.metrics();
    for report in &reports {
        let pid = report.pid;
        assert!(report.serving.requests_served > 0, "{report:?}");
        assert_eq!(report.shutdown.metrics, forkline::report::PartOutcome::Done);
        let last = received
            .iter()
            .rfind(|r| pid_of(r) == Some(pid))
            .unwrap_or_else(|| panic!("nothing from worker {pid}"));
        let layered =
            report.serving.requests_served - health_requests.get(&pid).copied().unwrap_or(0);
        assert_eq!(
            duration_count(last),
            layered,
            "worker {pid}: its last collection counts what it served"
        );
        // Operational metrics: the process, and the metrics pipeline's own figures.
        let memory = point(last, "process.memory.usage", &[]).unwrap_or(0.0);
        assert!(
            memory > f64::from(1 << 20),
            "worker {pid}: resident bytes {memory}"
        );
        let user = point(last, "process.cpu.time", &[("cpu.mode", "user")]).unwrap_or(0.0);
        assert!(user > 0.0, "worker {pid}: user CPU seconds {user}");
        let accepted = point(
            last,
            "forkline.export.items",
            &[
                ("forkline.pipeline", "metrics"),
                ("forkline.outcome", "accepted"),
            ],
        )
        .unwrap_or(0.0);
        assert!(
            accepted >= 1.0,
            "worker {pid}: collections handed to its pipeline {accepted}"
        );
        let open = point(
            last,
            "forkline.export.breaker",
            &[
                ("forkline.pipeline", "metrics"),
                ("forkline.breaker.state", "closed"),
            ],
        );
        assert_eq!(open, Some(1.0), "worker {pid}: its breaker is closed");
    }
}
