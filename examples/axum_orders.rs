//! An axum service instrumented the forkline way: the `TelemetryLayer` makes every request's
//! server span (continuing the caller's trace), `#[forkline::handler]` makes a span per business
//! step with a `#[derive(SpanAttributes)]` request type as its attributes, and an outgoing call
//! to another service carries the trace (W3C and Sentry headers, with Sentry's sampling context).
//!
//! ```text
//! cargo run --example axum_orders
//! ```
//!
//! It runs itself as a pre-fork server with 2 workers (embedded sink unless
//! `OTEL_EXPORTER_OTLP_ENDPOINT` / `SENTRY_DSN` are set), sends it a few orders, stops it, and
//! shows one order's trace: the server span, the handler's span, the outgoing call and the
//! inventory service's server span, all in one trace.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use forkline::{Master, Worker};
use forkline_examples::child_server::{self, ChildServer};
use forkline_examples::{http_get, http_get_with};
use std::net::SocketAddr;
use std::process::ExitCode;

#[forkline::post_fork(service_name = "orders")]
fn otel(_worker: &Worker) {}

#[forkline::worker_init(sentry(traces_sample_rate = 1.0))]
fn init(_worker: &Worker) {}

#[forkline::when_ready]
fn ready(master: &Master) -> std::io::Result<()> {
    child_server::publish_addr(master)
}

/// What an order request carries; recorded on the handler's span as `order.*` attributes.
#[derive(forkline::SpanAttributes)]
#[span(prefix = "order")]
struct PlaceOrder {
    id: u64,
    sku: String,
    quantity: u32,
    #[span(redact)]
    card_token: String,
}

#[derive(Debug)]
struct OutOfStock(String);

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is out of stock", self.0)
    }
}

impl std::error::Error for OutOfStock {}

/// The business step: its span is a child of the request's server span; an `Err` marks it and
/// goes to Sentry linked to it.
#[forkline::handler(err, skip(inventory))]
async fn place_order(order: PlaceOrder, inventory: SocketAddr) -> Result<String, OutOfStock> {
    let _ = &order.card_token; // Used by the payment step; only its redacted form is recorded.
    let stock = check_stock(inventory, &order.sku).await;
    if stock < u64::from(order.quantity) {
        return Err(OutOfStock(order.sku));
    }
    Ok(format!(
        "order {} placed: {} x {}",
        order.id, order.quantity, order.sku
    ))
}

/// The outgoing call: a client span, and the current context injected into its headers.
#[forkline::handler(kind = "client", name = "GET /inventory/{sku}", skip(inventory))]
async fn check_stock(inventory: SocketAddr, sku: &str) -> u64 {
    let mut headers = HeaderMap::new();
    forkline::http::inject(&mut headers);
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let path = format!("/inventory/{sku}");
    // A blocking client, off the async threads; any HTTP client works with the same headers.
    tokio::task::spawn_blocking(move || {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        http_get_with(inventory, &path, &headers)
    })
    .await
    .ok()
    .and_then(|r| r.ok())
    .and_then(|(_, body)| body.trim().parse().ok())
    .unwrap_or(0)
}

async fn order(
    State(inventory): State<SocketAddr>,
    Path((id, sku)): Path<(u64, String)>,
) -> (StatusCode, String) {
    let order = PlaceOrder {
        id,
        sku,
        quantity: 2,
        card_token: "tok_4242".into(),
    };
    match place_order(order, inventory).await {
        Ok(done) => (StatusCode::OK, done),
        Err(e) => (StatusCode::CONFLICT, e.to_string()),
    }
}

/// "Another service": here the same server, so that the demo needs nothing else running.
async fn inventory(Path(sku): Path<String>) -> String {
    if sku.starts_with("rare") { "0" } else { "10" }.to_string()
}

fn serve() -> ExitCode {
    // The app is built in each worker, where the bound address is known (the inventory
    // "service" is this same server).
    let result = forkline::Server::from_env()
        .and_then(|s| s.bind("127.0.0.1:0"))
        .and_then(|s| {
            s.serve(|serve: forkline::Serve| async move {
                let addr = serve.local_addr().ok_or_else(|| {
                    std::io::Error::other("the inventory is reached over TCP: bind a TCP address")
                })?;
                let app = Router::new()
                    .route("/orders/{id}/{sku}", get(order))
                    .route("/inventory/{sku}", get(inventory))
                    .with_state(addr)
                    .layer(forkline::http::TelemetryLayer::new());
                let shutdown = serve.shutdown.clone();
                axum::serve(serve.balanced_listener()?, app)
                    .with_graceful_shutdown(async move { shutdown.wait().await })
                    .await
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum_orders server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    child_server::main("axum_orders", serve, drive)
}

fn drive() -> Result<(), String> {
    let run_dir = std::env::temp_dir().join(format!("forkline-axum-orders-{}", std::process::id()));
    let server = ChildServer::start(&run_dir, "2")?;
    let addr = server.addr;
    for (id, sku) in [(1, "blue-mug"), (2, "rare-vase"), (3, "green-mug")] {
        let (status, body) =
            http_get(addr, &format!("/orders/{id}/{sku}")).map_err(|e| e.to_string())?;
        println!("axum_orders: GET /orders/{id}/{sku} -> {status} {body}");
    }
    let status = server.stop()?;
    if !status.success() {
        return Err(format!("the server exited with {status}"));
    }
    show_trace(&run_dir)
}

/// Prints the trace of order 1 from the embedded sink's files.
fn show_trace(dir: &std::path::Path) -> Result<(), String> {
    let mut spans = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("spans-") && name.ends_with(".jsonl")) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).map_err(|e| e.to_string())?;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            for rs in v["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    spans.extend(ss["spans"].as_array().into_iter().flatten().cloned());
                }
            }
        }
    }
    let Some(root) = spans.iter().find(|s| {
        s["name"] == "GET /orders/{id}/{sku}"
            && s["attributes"].to_string().contains("/orders/1/blue-mug")
    }) else {
        println!(
            "axum_orders: spans went to OTLP, not to files in {}",
            dir.display()
        );
        return Ok(());
    };
    let trace = root["traceId"].clone();
    let mut in_trace: Vec<&serde_json::Value> =
        spans.iter().filter(|s| s["traceId"] == trace).collect();
    in_trace.sort_by_key(|s| s["startTimeUnixNano"].as_str().unwrap_or("").to_string());
    println!(
        "axum_orders: the trace of order 1 ({} spans, trace {trace}):",
        in_trace.len()
    );
    for span in &in_trace {
        let parent = in_trace
            .iter()
            .find(|p| p["spanId"] == span["parentSpanId"])
            .map(|p| p["name"].as_str().unwrap_or("?").to_string())
            .unwrap_or_else(|| "(root)".into());
        println!(
            "  {:<28} child of {parent}",
            span["name"].as_str().unwrap_or("?")
        );
    }
    let names: Vec<&str> = in_trace.iter().filter_map(|s| s["name"].as_str()).collect();
    for expected in [
        "GET /orders/{id}/{sku}",
        "place_order",
        "GET /inventory/{sku}",
    ] {
        if names.iter().filter(|n| **n == expected).count() == 0 {
            return Err(format!("{expected} is missing from the trace: {names:?}"));
        }
    }
    if names
        .iter()
        .filter(|n| **n == "GET /inventory/{sku}")
        .count()
        != 2
    {
        return Err(format!(
            "the inventory call should show as client and server span: {names:?}"
        ));
    }
    println!(
        "axum_orders: spans and Sentry events are in {}",
        dir.display()
    );
    Ok(())
}
