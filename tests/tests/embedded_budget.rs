//! The embedded sink's byte budget (issue 15), on a real pre-fork server (the `budget_server`
//! fixture, one route behind `TelemetryLayer`) with a 64 KiB budget per worker: under load the
//! run folder stays within the budget plus one file's worth, the files keep the newest spans
//! (exactly the last requests each worker served), and what the worker reports as discarded is
//! what was created minus what is on disk, for spans, Sentry events and transactions alike.

#[cfg(feature = "tracing")]
use forkline_tests::harness::read_sink_text;
use forkline_tests::harness::{http_get, read_sentry, read_spans, wait_until, Fixture};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_budget_server");
const BOOT: Duration = Duration::from_secs(30);
const WORKERS: u64 = 2;
const BUDGET: u64 = 64 * 1024;
/// Spans, metrics, logs and Sentry all write locally: each sink gets a quarter of the budget,
/// in two files.
const FILE_LIMIT: u64 = BUDGET / 8;
const REQUESTS: u64 = 2000;

/// Every file in the run folder and its size. A file renamed away between listing and sizing
/// is skipped: its bytes are in its successor's name.
fn files(run_dir: &Path) -> BTreeMap<String, u64> {
    std::fs::read_dir(run_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let len = e.metadata().ok()?.len();
            Some((e.file_name().to_string_lossy().into_owned(), len))
        })
        .collect()
}

fn check_bound(run_dir: &Path, when: &str) -> u64 {
    let files = files(run_dir);
    let total: u64 = files.values().sum();
    assert!(
        total <= WORKERS * BUDGET + FILE_LIMIT,
        "{when}: the run folder holds {total} bytes, over {WORKERS} x {BUDGET} + {FILE_LIMIT}: {files:#?}"
    );
    for (name, len) in &files {
        if name.ends_with(".jsonl") {
            assert!(
                *len <= FILE_LIMIT,
                "{when}: {name} holds {len} bytes, over its share of {FILE_LIMIT}"
            );
        }
    }
    total
}

fn request_id(span: &Value) -> u64 {
    span["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|kv| kv["key"] == "url.path")
        .and_then(|kv| kv["value"]["stringValue"].as_str())
        .and_then(|path| path.strip_prefix("/req/"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request id in {span}"))
}

#[test]
fn a_small_budget_keeps_the_newest_telemetry_and_counts_what_it_discards() {
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("FORKLINE_EMBEDDED_BUDGET_BYTES", "65536"),
            // Batches every 100 ms, so that the files rotate while the load runs.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("FORKLINE_GRACEFUL_TIMEOUT_MS", "10000"),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(WORKERS as usize, BOOT);
    let run_dir = fx.run_dir();

    let mut served: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut largest = 0;
    for n in 1..=REQUESTS {
        let (status, body) = http_get(addr, &format!("/req/{n}")).expect("request");
        assert_eq!(status, if n % 10 == 0 { 500 } else { 200 }, "{body}");
        let pid = body
            .strip_prefix("pid=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {body:?}"));
        served.entry(pid).or_default().push(n);
        if n % 50 == 0 {
            largest = largest.max(check_bound(&run_dir, &format!("after {n} requests")));
        }
    }
    assert_eq!(served.len(), WORKERS as usize, "both workers served");

    // While it runs, `forkline::health()` names the drop reason.
    let health = wait_until(Duration::from_secs(10), || {
        let (_, body) = http_get(addr, "/health").ok()?;
        let v: Value = serde_json::from_str(&body).ok()?;
        (v["health"]["spans"]["spans_discarded_budget"].as_u64()? > 0).then_some(v)
    });
    assert!(
        health.is_some(),
        "health() never showed spans_discarded_budget"
    );

    fx.signal(libc::SIGTERM);
    let status = fx
        .wait_exit(Duration::from_secs(20))
        .expect("master exits after TERM");
    assert!(status.success(), "master exit: {status:?}\n{}", fx.stderr());
    largest = largest.max(check_bound(&run_dir, "after exit"));
    eprintln!(
        "largest run folder seen: {largest} bytes (bound {})",
        WORKERS * BUDGET + FILE_LIMIT
    );

    let reports = forkline::read_reports(&run_dir).expect("reports");
    assert_eq!(reports.len(), WORKERS as usize);
    for report in &reports {
        let s = &report.stats;
        let mine = served
            .get(&report.pid)
            .unwrap_or_else(|| panic!("worker {} served nothing", report.pid));
        assert_eq!(s.spans_ended, mine.len() as u64, "one span per request");
        assert_eq!(
            (
                s.spans_export_failed,
                s.spans_dropped_unexported,
                s.spans_dropped_inherited
            ),
            (0, 0, 0),
            "{s:?}"
        );

        let on_disk: Vec<u64> = read_spans(&run_dir, report.pid)
            .iter()
            .map(request_id)
            .collect();
        assert!(
            !on_disk.is_empty() && on_disk.len() < mine.len(),
            "worker {}: {} of {} spans on disk: the budget must have rotated",
            report.pid,
            on_disk.len(),
            mine.len()
        );
        // The newest are kept: exactly the last requests this worker served, in order.
        assert_eq!(
            on_disk,
            mine[mine.len() - on_disk.len()..],
            "worker {}",
            report.pid
        );
        assert_eq!(
            s.spans_discarded_budget,
            s.spans_ended - on_disk.len() as u64,
            "discarded = created - on disk: {s:?}"
        );

        let records = read_sentry(&run_dir, report.pid);
        let count = |kind: &str| records.iter().filter(|r| r["type"] == kind).count() as u64;
        let failures = mine.iter().filter(|n| *n % 10 == 0).count() as u64;
        assert_eq!(s.sentry_write_failed, 0, "{s:?}");
        assert_eq!(s.sentry_events_captured, failures, "one event per 500");
        assert_eq!(
            s.sentry_events_discarded_budget,
            failures - count("event"),
            "events discarded = captured - on disk: {s:?}"
        );
        assert_eq!(
            s.sentry_transactions_discarded_budget,
            mine.len() as u64 - count("transaction"),
            "transactions discarded = one per request - on disk: {s:?}"
        );
        assert!(s.sentry_transactions_discarded_budget > 0, "{s:?}");

        // With the tracing bridge, every request logs (twice with feature `log`): the logs
        // file rotates within its share too, and what it discards is counted.
        #[cfg(feature = "tracing")]
        {
            let per_request = if cfg!(feature = "log") { 2 } else { 1 };
            let on_disk: u64 = read_sink_text(&run_dir, &format!("logs-{}", report.pid))
                .lines()
                .map(|line| {
                    let request: Value = serde_json::from_str(line).expect("OTLP JSON");
                    request["resourceLogs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|rl| rl["scopeLogs"].as_array().into_iter().flatten())
                        .map(|sl| sl["logRecords"].as_array().map_or(0, Vec::len) as u64)
                        .sum::<u64>()
                })
                .sum();
            assert_eq!(s.logs_emitted, per_request * mine.len() as u64, "{s:?}");
            assert_eq!(
                (s.logs_write_failed, s.logs_dropped_unwritten),
                (0, 0),
                "{s:?}"
            );
            assert!(s.logs_discarded_budget > 0, "the logs file rotated: {s:?}");
            assert_eq!(
                s.logs_discarded_budget,
                s.logs_emitted - on_disk,
                "logs discarded = emitted - on disk: {s:?}"
            );
        }
    }
}

#[test]
fn production_with_local_files_only_warns_at_start_and_the_files_can_be_turned_off() {
    let warning = "telemetry is going to local files only";
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("FORKLINE_PROFILE", "production"),
        ],
    );
    fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    // From the master, once, before any worker: a warning, which the production profile shows.
    let stderr = fx.stderr();
    let from_master = format!("forkline[{}] warn:", fx.pid);
    let warned: Vec<&str> = stderr.lines().filter(|l| l.contains(warning)).collect();
    assert!(
        warned.len() == 1 && warned[0].starts_with(&from_master),
        "{stderr}"
    );
    fx.signal(libc::SIGTERM);
    assert!(fx.wait_exit(Duration::from_secs(20)).is_some());

    // The documented way to keep a production service off the disk: no span file, no metrics
    // file, no logs file, no Sentry file.
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("FORKLINE_PROFILE", "production"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("SENTRY_DSN", ""),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    for n in 1..=20 {
        assert!(http_get(addr, &format!("/req/{n}")).is_ok());
    }
    fx.signal(libc::SIGTERM);
    let status = fx.wait_exit(Duration::from_secs(20));
    assert!(status.is_some_and(|s| s.success()), "{}", fx.stderr());
    assert!(!fx.stderr().contains(warning), "{}", fx.stderr());
    let left: Vec<String> = files(&fx.run_dir())
        .into_keys()
        .filter(|name| name.ends_with(".jsonl"))
        .collect();
    assert!(left.is_empty(), "telemetry files left: {left:?}");
}
