//! Used inside the fixture binaries: an axum app whose handlers make OTel server spans (and
//! Sentry events inside them), and a recorder that appends one line per hook call.

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{FutureExt, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{global, Context, KeyValue};
use std::io::Write;

/// Appends `phase key=value...` to the file named by `FORKLINE_TEST_LOG`, with the process,
/// thread, thread count, the names of the threads other than the calling one, and whether an
/// async runtime is reachable. One `write` per line on an O_APPEND file, so lines from every
/// process land whole and in the order they happened.
pub fn record(phase: &str, extra: &str) {
    let Ok(path) = std::env::var("FORKLINE_TEST_LOG") else {
        return;
    };
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let (threads, others) = threads_besides(tid);
    let runtime = tokio::runtime::Handle::try_current().is_ok();
    // When, on the monotonic clock (milliseconds), for tests that time the lifecycle.
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let at_ms = now.tv_sec * 1000 + now.tv_nsec / 1_000_000;
    let line = format!(
        "{phase} pid={} tid={tid} threads={threads} others={others} runtime={runtime} at_ms={at_ms} {extra}\n",
        std::process::id()
    );
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("fixture: cannot record to {path}: {e}");
    }
}

/// This process's thread count, and the sorted names of its threads other than `me`, joined by
/// `,` (spaces made `_`, so the hook line still splits on whitespace): a count alone does not
/// say which library started an unexpected thread.
fn threads_besides(me: i32) -> (usize, String) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return (0, String::new());
    };
    let tids: Vec<String> = tasks
        .filter_map(|t| t.ok()?.file_name().into_string().ok())
        .collect();
    let mut names: Vec<String> = tids
        .iter()
        .filter(|tid| **tid != me.to_string())
        .map(|tid| {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                .map(|n| n.trim().replace(char::is_whitespace, "_"))
                .unwrap_or_else(|_| "?".into())
        })
        .collect();
    names.sort();
    (tids.len(), names.join(","))
}

/// Records `pre_fork worker=N` for the worker about to be forked: the fixtures' count of forks.
pub fn record_pre_fork(master: &forkline::Master) {
    record(
        "pre_fork",
        &format!("worker={}", master.forking_worker().unwrap_or(usize::MAX)),
    );
}

/// Writes the bound address where the test harness looks for it (`FORKLINE_TEST_ADDR`).
pub fn publish_addr(master: &forkline::Master) {
    if let (Ok(path), Some(addr)) = (std::env::var("FORKLINE_TEST_ADDR"), master.local_addr()) {
        let tmp = format!("{path}.tmp");
        if std::fs::write(&tmp, addr.to_string())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .is_err()
        {
            eprintln!("fixture: cannot publish the address to {path}");
        }
    }
}

/// A span named `name` with a Sentry event inside it, as a worker does at boot: proves that
/// the worker's spans and Sentry events are linked.
pub fn boot_span_with_event(worker: &forkline::Worker) {
    let tracer = global::tracer("forkline-fixture");
    tracer.in_span("worker.boot", |cx| {
        cx.span()
            .set_attribute(KeyValue::new("worker.id", worker.id() as i64));
        sentry::capture_message(
            &format!("worker {} booted", worker.id()),
            sentry::Level::Info,
        );
    });
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// A server span continuing whatever trace the request's headers carry (through the global
/// propagators: W3C trace context, baggage, sentry-trace).
fn server_span(name: &'static str, headers: &HeaderMap) -> Context {
    let parent = global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let tracer = global::tracer("forkline-fixture");
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .start_with_context(&tracer, &parent);
    parent.with_span(span)
}

async fn work(headers: HeaderMap) -> String {
    let cx = server_span("GET /work", &headers);
    let body = async {
        // A child span, so parent/child links can be checked end to end.
        global::tracer("forkline-fixture").in_span("load order", |_| {});
        format!("pid={}", std::process::id())
    }
    .with_context(cx.clone())
    .await;
    cx.span().end();
    body
}

async fn fail(headers: HeaderMap) -> (axum::http::StatusCode, &'static str) {
    let cx = server_span("GET /fail", &headers);
    async {
        sentry::capture_message("order lookup failed", sentry::Level::Error);
    }
    .with_context(cx.clone())
    .await;
    cx.span().end();
    (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "failed")
}

async fn boom(headers: HeaderMap) -> &'static str {
    let cx = server_span("GET /panic", &headers);
    async {
        let on_purpose = true;
        if on_purpose {
            panic!("handler panicked on purpose");
        }
        "unreachable"
    }
    .with_context(cx)
    .await
}

/// The innermost cause of `/err`'s error.
#[derive(Debug)]
pub struct DiskUnreadable;

impl std::fmt::Display for DiskUnreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk 3 unreadable")
    }
}

impl std::error::Error for DiskUnreadable {}

/// The error `/err`'s handler returns: order lookup failed, because of the disk.
#[derive(Debug)]
pub struct OrderLookupFailed(DiskUnreadable);

impl std::fmt::Display for OrderLookupFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order 77 lookup failed")
    }
}

impl std::error::Error for OrderLookupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl axum::response::IntoResponse for OrderLookupFailed {
    fn into_response(self) -> axum::response::Response {
        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "failed").into_response()
    }
}

/// `/err`: a `#[forkline::handler(err)]` returning a chained error, as an application would.
#[forkline::handler(err, name = "GET /err")]
pub async fn lookup_order() -> Result<String, OrderLookupFailed> {
    Err(OrderLookupFailed(DiskUnreadable))
}

/// The error of `/orders/{id}/refuse`.
#[derive(Debug)]
pub struct OrderRefused;

impl std::fmt::Display for OrderRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order 88 refused")
    }
}

impl std::error::Error for OrderRefused {}

impl axum::response::IntoResponse for OrderRefused {
    fn into_response(self) -> axum::response::Response {
        (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "refused").into_response()
    }
}

/// `/orders/{id}/refuse`: a `#[forkline::handler(err)]` behind `forkline::http::TelemetryLayer`,
/// whose error event carries the route and the request.
#[forkline::handler(err)]
pub async fn refuse_order() -> Result<String, OrderRefused> {
    Err(OrderRefused)
}

/// `/orders/{id}/explode`: a panic behind the layer.
async fn explode_order() -> &'static str {
    let on_purpose = true;
    if on_purpose {
        panic!("order exploded on purpose");
    }
    "unreachable"
}

/// A step instrumented with `tracing` only: with the bridge it is a child of the server span.
#[cfg(feature = "tracing")]
#[tracing::instrument(fields(order.id = id))]
fn traced_step(id: u64) -> u64 {
    tracing::info!("inside the traced step");
    id + 1
}

#[cfg(feature = "tracing")]
async fn traced(headers: HeaderMap) -> String {
    let cx = server_span("GET /traced", &headers);
    let out = async { traced_step(41) }.with_context(cx.clone()).await;
    cx.span().end();
    out.to_string()
}

/// `/orders/{id}/logged` (behind the layer): two `tracing` events that become breadcrumbs, then
/// a `tracing::error!` that becomes a Sentry event linked to the request's span; answers with the
/// request's trace id.
#[cfg(feature = "tracing")]
async fn logged_order(axum::extract::Path(id): axum::extract::Path<u64>) -> String {
    tracing::info!(order.id = id, "looking order {id} up");
    tracing::warn!("order {id} is late");
    tracing::debug!("order {id} debug detail");
    tracing::error!(order.id = id, "order {id} could not be shipped");
    let cx = forkline::opentelemetry::Context::current();
    cx.span().span_context().trace_id().to_string()
}

/// This worker's `forkline::health()` as JSON with its pid. It makes no span, so that reading
/// it does not change what it reports.
async fn health() -> String {
    serde_json::json!({ "pid": std::process::id(), "health": forkline::health() }).to_string()
}

/// `POST /work`: reads the body and answers with its length and the worker's pid, what a write
/// a proxy will not retry on a new connection looks like.
async fn take_order(body: String) -> String {
    format!("pid={} took={}", std::process::id(), body.len())
}

/// Takes 300 ms, recording `slow_started` when it begins: a request a stop must let finish.
async fn slow() -> String {
    record("slow_started", "");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    format!("pid={}", std::process::id())
}

/// Leaks `mib` MiB on purpose, every page touched so that it is resident: a worker that grows.
async fn leak(axum::extract::Path(mib): axum::extract::Path<usize>) -> String {
    let leaked: &'static mut [u8] = vec![1u8; mib * 1024 * 1024].leak();
    for page in leaked.chunks_mut(4096) {
        page[0] = 2;
    }
    format!("pid={} leaked {mib} MiB", std::process::id())
}

/// Ends the worker with `abort()` (SIGABRT) while it serves.
async fn crash_abort() -> String {
    std::process::abort()
}

/// Ends the worker with a segmentation fault (SIGSEGV, as a bad pointer would) while it serves.
async fn crash_segfault() -> String {
    // SAFETY: restoring a signal's default action and raising it have no memory-safety
    // preconditions; the default action ends the process, which is the point. (Rust's runtime
    // handles SIGSEGV to report stack overflows, and returns from a raised one.)
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    unreachable!("SIGSEGV ends the process")
}

/// Blocks the runtime thread it runs on for a minute (a sync sleep where an await belongs).
async fn block() -> String {
    record("block_started", "");
    std::thread::sleep(std::time::Duration::from_secs(60));
    format!("pid={}", std::process::id())
}

/// Blocks its runtime thread for a minute while it holds std's stdout lock, as a request stuck
/// inside a `println!` (a full pipe) does.
async fn block_holding_stdout() -> String {
    let held = std::io::stdout().lock();
    record("block_started", "stdout");
    std::thread::sleep(std::time::Duration::from_secs(60));
    drop(held);
    format!("pid={}", std::process::id())
}

/// The fixture app: `/work` (200), `/fail` (500 + Sentry error), `/err` (500 from a
/// `#[forkline::handler(err)]`), `/panic` (panics), `/health`, `/slow` (200 after 300 ms),
/// `/block` and `/block/{reason}` (block their runtime thread for a minute; `/block-stdout` holding
/// stdout's lock), `/leak/{mib}`
/// (leaks that much, resident), `/crash/abort` and
/// `/crash/segfault` (end the worker by that signal), and behind `forkline::http::TelemetryLayer`:
/// `/orders/{id}/refuse` (500 from a `#[forkline::handler(err)]`) and `/orders/{id}/explode`
/// (panics).
pub fn router() -> Router {
    let layered = Router::new()
        .route("/orders/{id}/refuse", get(refuse_order))
        .route("/orders/{id}/explode", get(explode_order))
        .layer(forkline::http::TelemetryLayer::new());
    let router = Router::new()
        .route("/work", get(work).post(take_order))
        .route("/slow", get(slow))
        .route("/leak/{mib}", get(leak))
        .route("/crash/abort", get(crash_abort))
        .route("/crash/segfault", get(crash_segfault))
        .route("/block", get(block))
        .route("/block/{reason}", get(block))
        .route("/block-stdout", get(block_holding_stdout))
        .route("/fail", get(fail))
        .route("/err", get(lookup_order))
        .route("/panic", get(boom))
        .route("/health", get(health))
        .merge(layered);
    #[cfg(feature = "tracing")]
    let router = router.route("/traced", get(traced)).merge(
        Router::new()
            .route("/orders/{id}/logged", get(logged_order))
            .layer(forkline::http::TelemetryLayer::new()),
    );
    router
}

/// Serves `app` on a random loopback port with settings from the environment, the way every
/// fixture binary does; a start-up or serving error is printed and exits with status 1. With
/// `FIXTURE_OWN_LISTENER=PATH`, the program binds a Unix socket there itself and hands it over
/// (`Server::listener`) instead.
pub fn serve_or_exit(app: Router) {
    let result = forkline::Server::from_env()
        .and_then(|s| match std::env::var_os("FIXTURE_OWN_LISTENER") {
            Some(path) => {
                let own = std::os::unix::net::UnixListener::bind(&path).map_err(|source| {
                    forkline::Error::Io {
                        context: "binding the fixture's own socket".into(),
                        source,
                    }
                })?;
                Ok(s.listener(own))
            }
            None => s.bind("127.0.0.1:0"),
        })
        .and_then(|s| s.serve_axum(app));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
