//! The quickstart: a pre-fork server with 3 workers on a loopback port, driven with a couple of
//! hundred requests (some failing, one panicking), stopped gracefully, then summarised.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! With no `OTEL_EXPORTER_OTLP_ENDPOINT` and no `SENTRY_DSN`, spans (OTLP JSON) and Sentry events
//! land in files in the run folder; set those variables and the same binary talks to a real
//! collector and a real Sentry. The demo runs itself twice: as the driver (this process) and, as
//! a child process, as the server (master + workers) it drives.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use forkline::{Master, Worker};
use forkline_examples::child_server::{self, ChildServer};
use forkline_examples::http_get;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

// ---- The server: hooks generate the telemetry setup in the right order. ----

#[forkline::post_fork(service_name = "quickstart")]
fn otel(_worker: &Worker) {} // The OTel base is built; per-worker extras would go here.

#[forkline::worker_init(sentry(traces_sample_rate = 1.0))]
fn telemetry(worker: &Worker) {
    sentry::configure_scope(|scope| scope.set_tag("worker.id", worker.id()));
}

#[forkline::worker_exit(deadline_ms = 2000)]
fn bye(_worker: &Worker) {}

#[forkline::when_ready]
fn ready(master: &Master) -> std::io::Result<()> {
    child_server::publish_addr(master)
}

/// What an order lookup carries: recorded on the handler's span as `order.*` attributes.
#[derive(forkline::SpanAttributes)]
#[span(prefix = "order")]
struct OrderLookup {
    id: u64,
    #[span(redact)]
    customer_email: String,
}

/// The handler's error: sent to Sentry as `OrderError` (its type, not its variant), linked to
/// the handler's span, with the request's route as the event's transaction.
#[derive(Debug)]
enum OrderError {
    Unavailable(u64),
}

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(id) => write!(f, "order {id} could not be loaded"),
        }
    }
}

impl std::error::Error for OrderError {}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// The business step: a span (child of the request's server span) with the lookup's attributes;
/// an `Err` marks it and goes to Sentry, once.
#[forkline::handler(err)]
async fn load_order(lookup: OrderLookup) -> Result<String, OrderError> {
    let _ = &lookup.customer_email; // Only its redacted form is recorded.
                                    // A log record of the worker's logs pipeline, carrying this span's trace and span ids.
    tracing::info!(order.id = lookup.id, "order looked up");
    if lookup.id.is_multiple_of(20) {
        return Err(OrderError::Unavailable(lookup.id));
    }
    Ok(format!(
        "order {} from pid {}",
        lookup.id,
        std::process::id()
    ))
}

async fn order(Path(id): Path<u64>) -> Result<String, OrderError> {
    let lookup = OrderLookup {
        id,
        customer_email: "ada@example.com".into(),
    };
    load_order(lookup).await
}

/// Panics on purpose: the layer records it on the server span, Sentry's panic integration
/// captures it, and the client still gets a 500.
async fn panics() -> &'static str {
    let on_purpose = true;
    if on_purpose {
        panic!("the quickstart's panicking handler");
    }
    "unreachable"
}

fn serve() -> ExitCode {
    // The layer makes every request's server span, named after its route template.
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .route("/panic", get(panics))
        .layer(forkline::http::TelemetryLayer::new());
    let result = forkline::Server::from_env()
        .and_then(|s| s.bind("127.0.0.1:0"))
        .and_then(|s| s.serve_axum(app));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quickstart server: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---- The driver: starts the server, sends requests, stops it, summarises. ----

const REQUESTS: u64 = 200;

fn main() -> ExitCode {
    child_server::main("quickstart", serve, drive)
}

fn drive() -> Result<(), String> {
    let run_dir = std::env::var_os("FORKLINE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("forkline-quickstart-{}", std::process::id()))
        });
    let server = ChildServer::start(
        &run_dir,
        &std::env::var("FORKLINE_WORKERS").unwrap_or_else(|_| "3".into()),
    )?;
    let addr = server.addr;
    println!(
        "quickstart: master pid {} listening on {addr}",
        server.pid()
    );

    let started = Instant::now();
    let (mut ok, mut failed, mut lost) = (0, 0, 0);
    println!(
        "quickstart: request {} goes to /panic on purpose (expect one panic message below)",
        REQUESTS / 2
    );
    for id in 1..=REQUESTS {
        let path = if id == REQUESTS / 2 {
            "/panic".to_string()
        } else {
            format!("/orders/{id}")
        };
        match http_get(addr, &path) {
            Ok((200, _)) => ok += 1,
            Ok(_) => failed += 1, // 9 errors and the panic, each answered with a 500.
            Err(_) => lost += 1,
        }
    }
    println!(
        "quickstart: {REQUESTS} requests in {:?}: {ok} ok, {failed} answered 500 (9 errors, 1 panic), {lost} without response",
        started.elapsed()
    );

    let stop = Instant::now();
    let status = server.stop()?;
    println!(
        "quickstart: graceful stop took {:?} ({status})",
        stop.elapsed()
    );
    if !status.success() {
        return Err(format!("the server exited with {status}"));
    }
    summarise(&run_dir)
}

fn summarise(run_dir: &std::path::Path) -> Result<(), String> {
    let reports = forkline::read_reports(run_dir).map_err(|e| format!("reading reports: {e}"))?;
    println!();
    println!(
        "worker  pid      requests  connections  spans created  exported  dropped  sentry events  shutdown"
    );
    let mut dropped_total = 0;
    for r in &reports {
        let s = &r.stats;
        // Spans the embedded budget rotated away count as dropped: they are no longer on disk.
        let dropped = s.spans_export_failed
            + s.spans_dropped_unexported
            + s.spans_dropped_inherited
            + s.spans_discarded_budget;
        dropped_total += dropped;
        println!(
            "{:<7} {:<8} {:>8}  {:>11}  {:>13}  {:>8}  {:>7}  {:>13}  {} ms ({:?} / {:?})",
            r.worker_id,
            r.pid,
            r.serving.requests_served,
            r.serving.connections_accepted,
            s.spans_ended,
            s.spans_exported,
            dropped,
            s.sentry_events_captured,
            r.shutdown.elapsed_ms,
            r.shutdown.otel,
            r.shutdown.sentry
        );
    }
    for r in &reports {
        for (name, health) in [("traces", &r.traces), ("sentry", &r.sentry)] {
            if let Some(h) = health {
                let reasons: Vec<String> = serde_json::to_value(h.dropped)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .into_iter()
                    .flatten()
                    .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
                    .map(|(reason, n)| format!("{reason} {n}"))
                    .collect();
                println!(
                    "worker {} {name}: {} delivered, {} dropped{}, {} retries, circuit {:?}{}",
                    r.worker_id,
                    h.delivered,
                    h.dropped_total,
                    if reasons.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", reasons.join(", "))
                    },
                    h.retried,
                    h.breaker,
                    h.last_error
                        .as_deref()
                        .map(|e| format!(", last error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    duration_chart(run_dir, &reports);
    println!();
    println!("telemetry files in {}:", run_dir.display());
    let mut files: Vec<String> = std::fs::read_dir(run_dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| {
            format!(
                "  {} ({} bytes)",
                e.file_name().to_string_lossy(),
                e.metadata().map(|m| m.len()).unwrap_or(0)
            )
        })
        .collect();
    files.sort();
    println!("{}", files.join("\n"));
    // With an OTLP endpoint the records went there, and there is no file to read.
    let to_files = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").map_or(true, |e| e.is_empty());
    if show_logs(run_dir) == 0 && to_files {
        return Err("expected log records from the handlers in logs-<pid>.jsonl".into());
    }
    let created: u64 = reports.iter().map(|r| r.stats.spans_ended).sum();
    if reports.is_empty() || created < REQUESTS - 1 {
        return Err(format!(
            "expected a span per answered request, found {created} in {} reports",
            reports.len()
        ));
    }
    if dropped_total > 0 {
        println!("note: {dropped_total} spans were dropped (counted above)");
    }
    Ok(())
}

/// A few of the log records the handlers wrote (`tracing::info!` in `load_order`), each with the
/// trace and span of the request it was written in.
fn show_logs(run_dir: &std::path::Path) -> usize {
    let mut shown = 0;
    println!();
    println!("log records (OTLP JSON in logs-<pid>.jsonl), the first 3:");
    let mut files: Vec<_> = std::fs::read_dir(run_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("logs-"))
        })
        .collect();
    files.sort();
    for line in files.iter().flat_map(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    }) {
        let Ok(batch) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let records = batch["resourceLogs"][0]["scopeLogs"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|scope| scope["logRecords"].as_array().cloned().unwrap_or_default());
        for record in records {
            if shown == 3 {
                return shown;
            }
            println!(
                "  {} {:?} trace {} span {}",
                record["severityText"].as_str().unwrap_or("?"),
                record["body"]["stringValue"].as_str().unwrap_or("?"),
                record["traceId"].as_str().unwrap_or("-"),
                record["spanId"].as_str().unwrap_or("-"),
            );
            shown += 1;
        }
    }
    if shown == 0 {
        println!("  (none in the run folder)");
    }
    shown
}

/// Each worker's requests and p50 / p99 duration, read back from the last collection of
/// `http.server.request.duration` in its `metrics-<pid>.jsonl` (cumulative, so the last one
/// holds the whole run), as a small text chart.
fn duration_chart(run_dir: &std::path::Path, reports: &[forkline::WorkerReport]) {
    let rows: Vec<(usize, Option<Quantiles>)> = reports
        .iter()
        .map(|r| (r.worker_id, duration_quantiles(run_dir, r.pid)))
        .collect();
    if rows.iter().all(|(_, q)| q.is_none()) {
        return;
    }
    let most = rows
        .iter()
        .filter_map(|(_, q)| q.map(|q| q.0))
        .max()
        .unwrap_or(1)
        .max(1);
    println!();
    println!("request duration per worker (http.server.request.duration, from its metrics file):");
    println!("worker  requests  p50          p99");
    for (worker, quantiles) in rows {
        let Some((count, p50, p99)) = quantiles else {
            println!("{worker:<7} (no metrics)");
            continue;
        };
        let bar = "#".repeat(((count * 30).div_ceil(most)) as usize);
        println!(
            "{worker:<7} {count:>8}  {:<11}  {:<11}  {bar}",
            bound(p50),
            bound(p99)
        );
    }
}

fn bound(seconds: f64) -> String {
    if seconds.is_infinite() {
        "> 10 s".to_string()
    } else {
        format!("<= {} ms", seconds * 1000.0)
    }
}

/// A histogram's count, p50 and p99 (seconds).
type Quantiles = (u64, f64, f64);

/// `(count, p50, p99)` of the histogram, all routes together.
fn duration_quantiles(run_dir: &std::path::Path, pid: u32) -> Option<Quantiles> {
    let histogram = forkline_examples::DurationHistogram::read(run_dir, pid)?;
    let count = histogram.count();
    (count > 0).then(|| (count, histogram.quantile(0.5), histogram.quantile(0.99)))
}
