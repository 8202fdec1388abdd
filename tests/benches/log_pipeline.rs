//! A log record through forkline's logs pipeline against the plain SDK's batch log processor
//! with the OTLP/HTTP log exporter, both delivering to the same healthy local OTLP sink: the
//! cost on the thread that writes the record (the export runs on each pipeline's own thread).
//! Records go in bursts of 200 (below either pipeline's batch size), each followed by an
//! untimed flush, so neither measures its drop path. Each pipeline runs in a fresh process of
//! this binary, alternating for several rounds (15 by default). Prints the median ns per
//! record of each and the ratio (target: forkline / plain <= 1.1).
//!
//!     cargo bench -p forkline-tests --bench log_pipeline [-- ROUNDS]

use forkline::opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use forkline_tests::faults::{Behaviour, FaultServer};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use std::time::Instant;

const SETUP: &str = "FORKLINE_BENCH_SETUP";
const SETUPS: [&str; 2] = ["plain", "forkline"];
const BURST: u32 = 200;
const BURSTS: usize = 200;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn plain(sink: &FaultServer) -> SdkLoggerProvider {
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{}/v1/logs", sink.addr))
        .build()
        .expect("exporter");
    SdkLoggerProvider::builder()
        .with_batch_exporter(exporter)
        .build()
}

fn forkline(sink: &FaultServer) -> SdkLoggerProvider {
    let endpoint = format!("http://{}", sink.addr);
    forkline_tests::pipelines::install_as_worker(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("SENTRY_DSN", ""),
        ("FORKLINE_PROFILE", "production"),
    ]);
    forkline::manual::logger_provider().expect("forkline's logger provider")
}

/// Runs one pipeline in this process; prints `ns=<median ns per record>`.
fn run(setup: &str) {
    let sink = FaultServer::start(Behaviour::Healthy);
    let provider = if setup == "plain" {
        plain(&sink)
    } else {
        forkline(&sink)
    };
    let logger = provider.logger("bench");
    // More bursts for a profile (`FORKLINE_BENCH_BURSTS=20000 perf record ...`).
    let bursts = std::env::var("FORKLINE_BENCH_BURSTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(BURSTS);
    // An untimed pause after each flush (`FORKLINE_BENCH_PAUSE_US`), to tell the emit path from
    // export work that outlives the flush and competes with the next burst.
    let pause = std::env::var("FORKLINE_BENCH_PAUSE_US")
        .ok()
        .and_then(|us| us.parse().ok())
        .map(std::time::Duration::from_micros);
    let mut per_record = Vec::with_capacity(bursts);
    for burst in 0..=bursts {
        let started = Instant::now();
        for i in 0..BURST {
            let mut record = logger.create_log_record();
            record.set_severity_number(Severity::Info);
            record.set_severity_text("INFO");
            record.set_body("order placed".into());
            record.add_attribute("order.id", i64::from(i));
            logger.emit(record);
        }
        let took = started.elapsed();
        let _ = provider.force_flush();
        if let Some(pause) = pause {
            std::thread::sleep(pause);
        }
        // The first burst warms up (connections, buffers).
        if burst > 0 {
            per_record.push(took.as_nanos() as f64 / f64::from(BURST));
        }
    }
    let _ = provider.shutdown();
    println!("ns={}", median(per_record));
}

fn main() {
    if let Ok(setup) = std::env::var(SETUP) {
        run(&setup);
        return;
    }
    let rounds: usize = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .find_map(|a| a.parse().ok())
        .unwrap_or(15);
    let exe = std::env::current_exe().expect("this bench");
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); SETUPS.len()];
    for _ in 0..rounds {
        for (i, setup) in SETUPS.iter().enumerate() {
            let out = std::process::Command::new(&exe)
                .env(SETUP, setup)
                .output()
                .expect("run a setup");
            let text = String::from_utf8_lossy(&out.stdout);
            let ns: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("ns="))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| {
                    panic!("{setup}: {text} {}", String::from_utf8_lossy(&out.stderr))
                });
            results[i].push(ns);
        }
    }
    println!(
        "log_pipeline: {rounds} rounds, {BURSTS} bursts of {BURST} records each, medians of ns per record"
    );
    for (setup, runs) in SETUPS.iter().zip(&results) {
        let each: Vec<String> = runs.iter().map(|ns| format!("{ns:.0}")).collect();
        println!(
            "  {setup:<9} {:>6.0} ns/record  (rounds: {})",
            median(runs.clone()),
            each.join(", ")
        );
    }
    let (plain, forkline) = (median(results[0].clone()), median(results[1].clone()));
    println!("forkline / plain = {:.3} (target <= 1.1)", forkline / plain);
}
