//! The OTLP metrics path against failing collectors (issue 12), across real forks: the
//! `budget_server` fixture (one route behind `TelemetryLayer`, so every request records into the
//! request histogram) with 2 workers collecting every 100 ms, under keep-alive load, its metrics
//! going to a collector in this test (spans, logs and Sentry off). Against a refusing port, a
//! black hole, and a collector that answers every export with 503 + `Retry-After: 1`:
//!
//! - the request path stays flat: the slowest request is compared with a run against a healthy
//!   collector in the same test (within 4x + 250 ms, and under 900 ms);
//! - the master exits within the workers' `worker_exit` deadline (+ 200 ms) after TERM;
//! - every collection each worker made is accounted for in its report's `metrics` figures:
//!   `accepted == delivered + dropped_total`, none delivered, some dropped; with 503, retries
//!   made, and the collector saw each worker's exports, at least 900 ms apart (its
//!   `Retry-After`).

use forkline::report::PipelineHealth;
use forkline_tests::faults::{
    assert_retries_waited, refusing_addr, until_each_retried, Behaviour, FaultServer,
};
use forkline_tests::harness::{alone, pipeline_health, wait_until, Fixture};
use forkline_tests::load::Load;
use forkline_tests::otlp_read::metrics_pid;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_budget_server");
const BOOT: Duration = Duration::from_secs(30);
/// Collections each worker must have made (at 100 ms each) before the load stops.
const COLLECTIONS: u64 = 10;

/// What a run showed: the slowest request under load, TERM to the master's exit, the workers'
/// deadline, how long the load ran, and the reports.
#[derive(Debug)]
struct Run {
    slowest: Duration,
    stopped_in: Duration,
    deadline: Duration,
    loaded_for: Duration,
    reports: Vec<forkline::WorkerReport>,
}

/// 2 workers whose metrics go to `endpoint` every 100 ms, under load by 4 keep-alive clients
/// until a worker's `/health` shows `COLLECTIONS` collections and `enough` says so (given every
/// worker's figures as `/health` answers them), then TERM.
fn run_against(endpoint: &str, mut enough: impl FnMut(u32, &PipelineHealth) -> bool) -> Run {
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("SENTRY_DSN", ""),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "100"),
            // A request path that waited on an export would show this on a request.
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "5000"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let started = Instant::now();
    let load = Load::start(addr, 4, true, "/req/1");
    let seen = wait_until(Duration::from_secs(30), || {
        let (pid, health) = pipeline_health(addr, "metrics")?;
        let enough = enough(pid, &health);
        (load.so_far().ok >= 200 && health.accepted >= COLLECTIONS && enough).then_some(health)
    });
    let (outcome, _) = load.stop();
    let loaded_for = started.elapsed();
    let seen = seen.unwrap_or_else(|| {
        panic!(
            "the workers did not collect {COLLECTIONS} times with the figures awaited: {:?}",
            pipeline_health(addr, "metrics")
        )
    });
    println!("{endpoint}: one worker's figures under load: {seen:?}");
    assert_eq!(outcome.failed, 0, "{outcome:?}");
    let stopped_in = fx.stop();
    let reports = fx.reports(2);
    assert!(
        reports.iter().all(|r| r.serving.requests_served > 0),
        "both workers must serve for this test to mean anything: {reports:?}"
    );
    let run = Run {
        slowest: Duration::from_micros(outcome.longest_ok_us),
        stopped_in,
        deadline: Duration::from_millis(reports[0].shutdown.deadline_ms),
        loaded_for,
        reports,
    };
    println!(
        "{endpoint}: {} requests in {:?}, slowest {:?}; TERM to exit {:?} (deadline {:?})",
        outcome.ok, run.loaded_for, run.slowest, run.stopped_in, run.deadline
    );
    for r in &run.reports {
        println!("  worker {}: metrics {:?}", r.pid, r.metrics);
    }
    run
}

impl Run {
    fn metrics(&self) -> Vec<&PipelineHealth> {
        self.reports
            .iter()
            .map(|r| {
                r.metrics
                    .as_ref()
                    .expect("the guarded metrics pipeline's figures")
            })
            .collect()
    }

    /// Slowest request within 4x the healthy run's + 250 ms (scheduling noise on a shared
    /// machine) and under 900 ms (a request that waited on the collector would take its
    /// `Retry-After`, 1 s, or the attempt timeout, 5 s), the master out within the deadline
    /// + 200 ms, and every collection counted: none delivered, the rest dropped.
    fn assert_flat_on_time_and_counted(&self, healthy: &Run) {
        let bound =
            (healthy.slowest * 4 + Duration::from_millis(250)).min(Duration::from_millis(900));
        assert!(
            self.slowest < bound,
            "the slowest request took {:?} against a failing collector, {:?} against a healthy one",
            self.slowest,
            healthy.slowest
        );
        assert!(
            self.stopped_in <= self.deadline + Duration::from_millis(200),
            "TERM to the master's exit took {:?}; the workers' deadline is {:?}",
            self.stopped_in,
            self.deadline
        );
        for m in self.metrics() {
            assert!(m.accepted >= COLLECTIONS, "{m:?}");
            assert_eq!(m.delivered, 0, "{m:?}");
            assert_eq!(
                m.accepted,
                m.delivered + m.dropped_total,
                "every collection accounted for: {m:?}"
            );
            assert!(m.dropped_total > 0, "{m:?}");
        }
    }
}

/// The baseline: a healthy collector gets every collection, and the figures say so.
fn healthy_run() -> Run {
    let collector = FaultServer::start(Behaviour::Healthy);
    let run = run_against(&format!("http://{}/v1/metrics", collector.addr), |_, _| {
        true
    });
    let mut delivered = 0;
    for m in run.metrics() {
        assert!(m.accepted >= COLLECTIONS, "{m:?}");
        assert_eq!(m.accepted, m.delivered, "{m:?}");
        assert_eq!(m.dropped_total, 0, "{m:?}");
        delivered += m.delivered;
    }
    assert_eq!(collector.metrics().len() as u64, delivered);
    run
}

/// A collector whose port refuses connections: requests stay flat, the master exits on time,
/// and each worker's collections are all counted, dropped (the refusals seen as network errors,
/// held for a collector that comes back, dropped at exit).
#[test]
fn a_refusing_metrics_collector_neither_slows_requests_nor_holds_a_worker_past_its_deadline() {
    // One at a time: another test's load would decide the timings compared here.
    let _alone = alone();
    let healthy = healthy_run();
    let addr = refusing_addr();
    let run = run_against(&format!("http://{addr}/v1/metrics"), |_, _| true);
    run.assert_flat_on_time_and_counted(&healthy);
    for m in run.metrics() {
        assert!(
            m.consecutive_failures >= 1 && m.last_error.is_some(),
            "the refusals are seen: {m:?}"
        );
    }
}

/// A collector that accepts, reads and never answers: the same; each worker's first attempt
/// still hangs (its timeout is 5 s) when TERM comes, and the worker's exit deadline cuts it off.
#[test]
fn a_black_holed_metrics_collector_neither_slows_requests_nor_holds_a_worker_past_its_deadline() {
    // One at a time: another test's load would decide the timings compared here.
    let _alone = alone();
    let healthy = healthy_run();
    let collector = FaultServer::start(Behaviour::BlackHole);
    let run = run_against(&format!("http://{}/v1/metrics", collector.addr), |_, _| {
        true
    });
    run.assert_flat_on_time_and_counted(&healthy);
    assert!(
        collector.requests() >= 1,
        "the workers did try the collector"
    );
    assert_eq!(collector.delivered(), 0);
    for r in &run.reports {
        assert_ne!(
            r.shutdown.metrics,
            forkline::report::PartOutcome::Done,
            "the metrics could not have been delivered: {r:?}"
        );
    }
}

/// A collector answering every export with 503 + `Retry-After: 1`: the same, and each worker
/// retried, no sooner than the collector asked: its attempts, timed where they arrive, are at
/// least 900 ms apart, where the guard's own backoff (a 100 ms ceiling at first) would have
/// retried within a few hundred milliseconds.
#[test]
fn a_throttling_metrics_collector_is_retried_after_its_delay_without_slowing_requests() {
    // One at a time: another test's load would decide the timings compared here.
    let _alone = alone();
    let healthy = healthy_run();
    let collector = FaultServer::throttling();
    let endpoint = format!("http://{}/v1/metrics", collector.addr);
    let run = run_against(&endpoint, until_each_retried(2));
    run.assert_flat_on_time_and_counted(&healthy);
    for m in run.metrics() {
        assert!(
            m.retried >= 1 && m.last_error.is_some(),
            "retries made: {m:?}"
        );
    }
    assert_eq!(collector.delivered(), 0);
    let attempts = collector
        .metrics_attempts()
        .into_iter()
        .map(|(at, request)| (at, metrics_pid(&request).expect("a pid in the resource")));
    let pids: Vec<u32> = run.reports.iter().map(|r| r.pid).collect();
    let gaps = assert_retries_waited(attempts, &pids, Duration::from_millis(900));
    println!(
        "503 + Retry-After 1: the collector saw {} exports; per worker, the gaps between them: \
         {gaps:?}",
        collector.requests()
    );
}
