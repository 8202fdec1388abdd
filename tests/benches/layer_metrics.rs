//! What the HTTP server metrics add to `TelemetryLayer`: an axum route (`/orders/{id}`) called
//! in process, bare, behind the layer with metrics off, and behind the layer with metrics on
//! (the worker's meter provider recording `http.server.request.duration` and
//! `http.server.active_requests`; spans sampled and discarded in both). Each setup runs in a
//! fresh process of this binary (a provider is installed once per process, as in a worker), and
//! the setups alternate for several rounds. Prints the median ns per request of each, and the
//! metrics' share of the layer's own cost (target: <= 10 %). 25 rounds by default: the
//! difference measured is a few tens of nanoseconds, and single rounds spread by more.
//!
//!     cargo bench -p forkline-tests --bench layer_metrics [-- ROUNDS]

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use std::time::Instant;
use tower_service::Service;

const SETUP: &str = "FORKLINE_BENCH_SETUP";
const SETUPS: [&str; 3] = ["bare", "layer", "layer+metrics"];
const PER_SAMPLE: u32 = 20_000;
const SAMPLES: usize = 15;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs one setup in this process; prints `ns=<median ns per request>`.
fn run(setup: &str) {
    let run_dir = std::env::temp_dir().join(format!("forkline-layer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).expect("run folder");
    let metrics = if setup == "layer+metrics" {
        "embedded"
    } else {
        "none"
    };
    let dir = run_dir.to_string_lossy().into_owned();
    if setup != "bare" {
        forkline_tests::pipelines::install_as_worker(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_METRICS_EXPORTER", metrics),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("SENTRY_DSN", ""),
            ("FORKLINE_DIR", dir.as_str()),
        ]);
    }
    let router = Router::new().route("/orders/{id}", get(|| std::future::ready("ok")));
    let mut app = if setup == "bare" {
        router
    } else {
        router.layer(forkline::http::TelemetryLayer::new())
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let samples: Vec<f64> = rt.block_on(async {
        let mut samples = Vec::new();
        for sample in 0..=SAMPLES {
            let started = Instant::now();
            for i in 0..PER_SAMPLE {
                let request = Request::get(format!("/orders/{i}"))
                    .body(Body::empty())
                    .expect("request");
                let response = app.call(request).await.expect("infallible");
                assert!(response.status().is_success());
                std::hint::black_box(response);
            }
            // The first sample warms up (instruments made, caches filled).
            if sample > 0 {
                samples.push(started.elapsed().as_nanos() as f64 / f64::from(PER_SAMPLE));
            }
        }
        samples
    });
    if setup == "layer+metrics" {
        // Every request is in the exported histogram, or the figure measures nothing.
        forkline::manual::teardown(std::time::Duration::from_secs(5));
        let requests = u64::from(PER_SAMPLE) * (SAMPLES as u64 + 1);
        let recorded = forkline_examples::DurationHistogram::read(&run_dir, std::process::id())
            .expect("the metrics file's request duration histogram")
            .count();
        assert_eq!(recorded, requests, "requests in the exported histogram");
    }
    println!("ns={}", median(samples));
    let _ = std::fs::remove_dir_all(run_dir);
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
        .unwrap_or(25);
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
    let [bare, layer, metrics]: [f64; 3] = [0, 1, 2].map(|i| median(results[i].clone()));
    println!(
        "layer_metrics: {rounds} rounds, {SAMPLES} samples of {PER_SAMPLE} requests each, medians"
    );
    for (setup, runs) in SETUPS.iter().zip(&results) {
        let runs: Vec<String> = runs.iter().map(|ns| format!("{ns:.0}")).collect();
        println!(
            "  {setup:<14} {:>7.0} ns/request  (rounds: {})",
            median(runs.iter().filter_map(|r| r.parse().ok()).collect()),
            runs.join(", ")
        );
    }
    let own = layer - bare;
    let added = metrics - layer;
    println!(
        "the layer's own cost {own:.0} ns; metrics add {added:.0} ns = {:.1} % of it (target <= 10 %); layer+metrics / layer = {:.3}",
        100.0 * added / own,
        metrics / layer
    );
}
