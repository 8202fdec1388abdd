//! A pre-fork server whose one route sits behind `forkline::http::TelemetryLayer`, writing to
//! the embedded sink: driven by `tests/tests/embedded_budget.rs` with a small budget, and by hand
//! (`wrk`) for the load measurement of the default budget, and by `tests/tests/http_metrics.rs`
//! and `tests/tests/http_logs.rs`.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use forkline::{Master, Worker};
use forkline_tests::fixture::{publish_addr, record};

#[forkline::when_ready]
fn ready(master: &Master) {
    publish_addr(master);
}

#[forkline::post_fork(service_name = "budget-fixture", sampler = "always_on")]
fn otel(_worker: &Worker) {}

#[forkline::worker_init(sentry(traces_sample_rate = 1.0))]
fn init(worker: &Worker) {
    record("worker_init", &format!("worker={}", worker.id()));
}

/// Request `n` answers with the worker's pid, so the test knows which worker's files should
/// hold its span. Every tenth answers 500: the layer captures it to Sentry as an event, so that
/// events rotate beside the transactions. With feature `tracing` it also logs one `tracing`
/// event carrying `n`, which the bridge makes an OTel log record (`tests/tests/http_logs.rs`),
/// and, with feature `log`, one `log` record naming `n` in its message.
async fn request(Path(n): Path<u64>) -> (StatusCode, String) {
    #[cfg(feature = "tracing")]
    tracing::info!(n, "request served");
    #[cfg(feature = "log")]
    log::info!(target: "budget_fixture", "request {n} served through log");
    let status = if n % 10 == 0 {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    (status, format!("pid={}", std::process::id()))
}

/// This worker's `forkline::health()`; outside the layer, so reading it makes no span.
async fn health() -> String {
    serde_json::json!({ "pid": std::process::id(), "health": forkline::health() }).to_string()
}

fn main() {
    let app = Router::new()
        .route("/req/{n}", get(request))
        .layer(forkline::http::TelemetryLayer::new())
        .route("/health", get(health));
    forkline_tests::fixture::serve_or_exit(app);
}
