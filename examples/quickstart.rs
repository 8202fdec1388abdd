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
use axum::routing::get;
use axum::Router;
use forkline::opentelemetry::trace::{FutureExt, SpanKind, TraceContextExt, Tracer};
use forkline::opentelemetry::{global, Context, KeyValue};
use forkline::{Master, Worker};
use forkline_examples::child_server::{self, ChildServer};
use forkline_examples::http_get;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

// ---- The server: hooks generate the telemetry setup in the right order. ----

#[forkline::post_fork(service_name = "quickstart")]
fn otel(worker: &Worker) {
    let _ = worker; // The OTel base is built; per-worker extras would go here.
}

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

/// Runs `body` inside a server span that is the active context (so Sentry events link to it).
async fn traced<T>(name: String, body: impl std::future::Future<Output = T>) -> T {
    let tracer = global::tracer("quickstart");
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .start(&tracer);
    let cx = Context::current_with_span(span);
    let out = body.with_context(cx.clone()).await;
    cx.span().end();
    out
}

async fn order(Path(id): Path<u64>) -> (StatusCode, String) {
    traced(format!("GET /orders/{id}"), async move {
        Context::current()
            .span()
            .set_attribute(KeyValue::new("order.id", id as i64));
        if id % 20 == 0 {
            sentry::capture_message(
                &format!("order {id} could not be loaded"),
                sentry::Level::Error,
            );
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("order {id} failed"),
            )
        } else {
            (
                StatusCode::OK,
                format!("order {id} from pid {}", std::process::id()),
            )
        }
    })
    .await
}

async fn panics() -> &'static str {
    traced("GET /panic".into(), async {
        let on_purpose = true;
        if on_purpose {
            panic!("the quickstart's panicking handler");
        }
        "unreachable"
    })
    .await
}

fn serve() -> ExitCode {
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .route("/panic", get(panics));
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
            Ok(_) => failed += 1,
            Err(_) => lost += 1, // The panicking handler never answers.
        }
    }
    println!(
        "quickstart: {REQUESTS} requests in {:?}: {ok} ok, {failed} errors (500), {lost} without response (panic)",
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
        for (name, health) in [("otlp", &r.otlp), ("sentry", &r.sentry)] {
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
