//! What instrumentation costs an HTTP service, end to end over real sockets: an axum route
//! (`GET /orders/{id}`) served by one runtime thread pinned to core 0, under a load generator
//! pinned to core 1 (keep-alive connections, one request in flight on each), in four setups:
//!
//! - `bare`: the route alone;
//! - `forkline`: `TelemetryLayer` and a `#[forkline::handler]` (2 spans per request);
//! - `forkline+metrics`: the same with forkline's meter provider installed
//!   (`http.server.request.duration`, `http.server.active_requests`);
//! - `tracing`: tower-http's `TraceLayer` and a `#[tracing::instrument]` function through
//!   `tracing-opentelemetry` (2 spans per request), what most Rust services use instead;
//! - `sdk-floor`: the same two spans made by a minimal layer and handler wrapper of the bench's
//!   own (`floor.rs`): the SDK's share, the least any instrumentation that makes these spans
//!   through it pays.
//!
//! Every setup that makes spans does so through the same tracer provider (always sampled; its
//! processor counts ended spans and discards them), so the figures are the instrumentation,
//! not an exporter. The bench checks that each such setup ended exactly two spans per request
//! served. Each setup runs in a fresh server process, alternating for several rounds; it prints
//! the medians of requests/s, p50 and p99, and each setup's throughput against bare axum
//! (issue target: forkline >= 0.85x, with metrics >= 0.80x).
//!
//!     cargo bench -p forkline-tests --bench http_overhead [-- SECONDS ROUNDS [connections=N] [only=SETUP]]
//!
//! To profile one setup's server: `perf record -C 0 -g` while the bench runs it (`only=forkline`).

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use forkline::opentelemetry::trace::TracerProvider as _;
use forkline::opentelemetry::{global, Context};
use forkline_tests::cpu::pin_to;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, Span, SpanData, SpanProcessor};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "http_overhead/floor.rs"]
mod floor;

const SETUP: &str = "FORKLINE_BENCH_SETUP";
const SETUPS: [&str; 5] = [
    "bare",
    "forkline",
    "forkline+metrics",
    "tracing",
    "sdk-floor",
];
const SERVER_CORE: usize = 0;
const LOAD_CORE: usize = 1;
const WARM_UP: Duration = Duration::from_secs(1);

/// Counts ended spans and discards them.
#[derive(Debug)]
struct CountSpans(Arc<AtomicU64>);

impl SpanProcessor for CountSpans {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        std::hint::black_box(span);
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

static SERVED: AtomicU64 = AtomicU64::new(0);

fn answer(id: u64) -> String {
    SERVED.fetch_add(1, Ordering::Relaxed);
    format!("order {id}")
}

async fn plain_order(id: u64) -> String {
    answer(id)
}

#[forkline::handler]
async fn forkline_order(id: u64) -> String {
    answer(id)
}

#[tracing::instrument]
async fn traced_order(id: u64) -> String {
    answer(id)
}

async fn floor_order(id: u64) -> String {
    floor::handler(id, async move { answer(id) }).await
}

fn install_forkline(metrics: bool, run_dir: &std::path::Path) {
    let dir = run_dir.to_string_lossy().into_owned();
    forkline_tests::pipelines::install_as_worker(&[
        ("OTEL_TRACES_EXPORTER", "none"),
        (
            "OTEL_METRICS_EXPORTER",
            if metrics { "embedded" } else { "none" },
        ),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("SENTRY_DSN", ""),
        ("FORKLINE_DIR", dir.as_str()),
    ]);
}

/// One setup's server: prints `port=N`, serves until its standard input closes, then prints
/// `served=N spans=M`.
fn serve(setup: &str) {
    pin_to(SERVER_CORE);
    let spans = Arc::new(AtomicU64::new(0));
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(CountSpans(spans.clone()))
        .build();
    let run_dir = std::env::temp_dir().join(format!("forkline-http-bench-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir).expect("run folder");
    let app = match setup {
        "bare" => Router::new().route("/orders/{id}", get(|Path(id): Path<u64>| plain_order(id))),
        "forkline" | "forkline+metrics" => {
            install_forkline(setup == "forkline+metrics", &run_dir);
            // The same provider as the other setups, installed after forkline's base.
            global::set_tracer_provider(provider.clone());
            forkline::manual::sdk_provider_installed(&provider, false);
            Router::new()
                .route(
                    "/orders/{id}",
                    get(|Path(id): Path<u64>| forkline_order(id)),
                )
                .layer(forkline::http::TelemetryLayer::new())
        }
        "tracing" => {
            use tracing_subscriber::layer::SubscriberExt;
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::set_global_default(subscriber).expect("subscriber");
            Router::new()
                .route("/orders/{id}", get(|Path(id): Path<u64>| traced_order(id)))
                .layer(tower_http::trace::TraceLayer::new_for_http())
        }
        "sdk-floor" => {
            floor::install(provider.tracer("bench"));
            Router::new()
                .route("/orders/{id}", get(|Path(id): Path<u64>| floor_order(id)))
                .layer(floor::Layer)
        }
        other => panic!("unknown setup {other}"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        println!("port={port}");
        std::io::stdout().flush().expect("stdout");
        let stop = async {
            // Standard input closes when the load generator is done.
            let _ = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
            })
            .await;
        };
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .expect("serve");
    });
    let _ = provider.force_flush();
    println!(
        "served={} spans={}",
        SERVED.load(Ordering::Relaxed),
        spans.load(Ordering::Relaxed)
    );
    let _ = std::fs::remove_dir_all(run_dir);
}

/// What one connection saw while measuring: latencies in ns, and responses outside the window.
struct Seen {
    latencies: Vec<u64>,
    answered: u64,
}

/// Requests on one keep-alive connection until `end`; latencies recorded from `measure_from`.
async fn connection(port: u16, measure_from: Instant, end: Instant, seed: u64) -> Seen {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut seen = Seen {
        latencies: Vec::with_capacity(1 << 16),
        answered: 0,
    };
    let mut buffer = vec![0u8; 4096];
    let mut id = seed;
    loop {
        let started = Instant::now();
        if started >= end {
            return seen;
        }
        id = id
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let request = format!(
            "GET /orders/{} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
            id >> 44
        );
        stream.write_all(request.as_bytes()).await.expect("request");
        read_response(&mut stream, &mut buffer).await;
        seen.answered += 1;
        if started >= measure_from {
            seen.latencies
                .push(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        }
    }
}

/// Reads one response (headers, then a body of `content-length` bytes); panics on anything
/// but 200, so that a setup that fails cannot look fast.
async fn read_response(stream: &mut tokio::net::TcpStream, buffer: &mut Vec<u8>) {
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            buffer.resize(buffer.len() * 2, 0);
        }
        let n = stream.read(&mut buffer[filled..]).await.expect("response");
        assert!(n > 0, "the server closed the connection");
        filled += n;
        let Some(head_end) = buffer[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buffer[..head_end]).expect("headers");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("content-length");
        if filled >= head_end + 4 + length {
            return;
        }
    }
}

struct Figures {
    per_second: f64,
    p50_us: f64,
    p99_us: f64,
}

/// Runs one setup's server and the load against it.
fn run(exe: &std::path::Path, setup: &str, seconds: u64, connections: usize) -> Figures {
    let mut server = Command::new(exe)
        .env(SETUP, setup)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    let mut out = BufReader::new(server.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("port line");
    let port: u16 = line
        .trim()
        .strip_prefix("port=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{setup}: no port in {line:?}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let measure = Duration::from_secs(seconds);
    let (seen, window) = runtime.block_on(async {
        let start = Instant::now();
        let measure_from = start + WARM_UP;
        let end = measure_from + measure;
        let tasks: Vec<_> = (0..connections)
            .map(|c| tokio::spawn(connection(port, measure_from, end, c as u64 + 1)))
            .collect();
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.expect("connection"));
        }
        (seen, measure)
    });
    drop(server.stdin.take());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("server's figures");
    let status = server.wait().expect("server exit");
    assert!(status.success(), "{setup}: server {status}");
    let field = |name: &str| -> u64 {
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("{setup}: no {name} in {rest:?}"))
    };
    let (served, spans) = (field("served"), field("spans"));
    let answered: u64 = seen.iter().map(|s| s.answered).sum();
    assert_eq!(served, answered, "{setup}: served vs answered");
    let expected_spans = if setup == "bare" { 0 } else { 2 * served };
    assert_eq!(spans, expected_spans, "{setup}: spans ended vs 2 x served");
    let mut latencies: Vec<u64> = seen.into_iter().flat_map(|s| s.latencies).collect();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        per_second: latencies.len() as f64 / window.as_secs_f64(),
        p50_us: at(0.50) as f64 / 1000.0,
        p99_us: at(0.99) as f64 / 1000.0,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if let Ok(setup) = std::env::var(SETUP) {
        serve(&setup);
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let seconds = numbers.first().copied().unwrap_or(5);
    let rounds = numbers.get(1).copied().unwrap_or(3) as usize;
    let connections = args
        .iter()
        .find_map(|a| a.strip_prefix("connections=")?.parse().ok())
        .unwrap_or(16);
    let only: Option<String> = args
        .iter()
        .find_map(|a| a.strip_prefix("only=").map(str::to_string));
    assert!(
        std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2,
        "the bench pins the server and the load to two cores"
    );
    pin_to(LOAD_CORE);
    let exe = std::env::current_exe().expect("this bench");
    let mut figures: Vec<Vec<Figures>> = SETUPS.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (i, setup) in SETUPS.iter().enumerate() {
            if only.as_deref().is_none_or(|o| o == *setup) {
                figures[i].push(run(&exe, setup, seconds, connections));
            }
        }
    }
    println!(
        "http_overhead: {rounds} rounds of {seconds} s per setup, {connections} keep-alive \
         connections, server on core {SERVER_CORE} (1 runtime thread), load on core {LOAD_CORE}; \
         medians"
    );
    let rate = |i: usize| median(figures[i].iter().map(|f| f.per_second).collect());
    if let Some(only) = &only {
        let i = SETUPS
            .iter()
            .position(|s| s == only)
            .expect("a known setup");
        println!("  {only}: {:.0} requests/s", rate(i));
        return;
    }
    let bare = rate(0);
    println!(
        "  {:<17} {:>10} {:>8} {:>8} {:>8}   rounds (requests/s)",
        "setup", "requests/s", "p50 µs", "p99 µs", "vs bare"
    );
    for (i, setup) in SETUPS.iter().enumerate() {
        let each: Vec<String> = figures[i]
            .iter()
            .map(|f| format!("{:.0}", f.per_second))
            .collect();
        println!(
            "  {setup:<17} {:>10.0} {:>8.1} {:>8.1} {:>7.2}x   {}",
            rate(i),
            median(figures[i].iter().map(|f| f.p50_us).collect()),
            median(figures[i].iter().map(|f| f.p99_us).collect()),
            rate(i) / bare,
            each.join(", ")
        );
    }
    println!("spans checked: 2 per request served in every setup that makes spans, 0 in bare");
}
