//! The README's hello service: a pre-fork server with OpenTelemetry and Sentry set up in each
//! worker, a traced handler, and a clean stop. `cargo run --example hello`, then
//! `curl localhost:8000/hello/ada`; with no `OTEL_EXPORTER_OTLP_ENDPOINT` and no `SENTRY_DSN`
//! its telemetry goes to files in the run folder the start line names.

use axum::{extract::Path, routing::get, Router};

#[forkline::post_fork(service_name = "hello")]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(sentry(dsn = env("SENTRY_DSN"), traces_sample_rate = 1.0))]
fn init(_worker: &forkline::Worker) {}

#[forkline::worker_exit(deadline_ms = 2000)]
fn bye(worker: &forkline::Worker) {
    eprintln!(
        "worker {} stops; its telemetry is flushed next",
        worker.id()
    );
}

#[forkline::handler]
async fn hello(Path(name): Path<String>) -> String {
    format!("hello, {name}\n")
}

fn main() -> forkline::Result<()> {
    let app = Router::new()
        .route("/hello/{name}", get(hello))
        .layer(forkline::http::TelemetryLayer::new());
    forkline::Server::from_env()?
        .workers(2)
        .bind("127.0.0.1:8000")?
        .serve_axum(app)
}
