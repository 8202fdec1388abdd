//! `forkline::http::TelemetryLayer` on a real axum server on 127.0.0.1, driven over real
//! sockets: the caller's trace continued from W3C `traceparent`, `sentry-trace` and `baggage`;
//! the stable HTTP semantic conventions on the server span; 5xx and panics captured to Sentry
//! inside the span, a panic answered with a 500; hostile headers ignored; outgoing calls carrying the trace and Sentry's
//! dynamic sampling context; the HTTP server metrics' attributes. Spans and metrics go to
//! in-memory exporters (this file checks the layer, the e2e tests check delivery).

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use forkline::config::PropagatorKind;
use forkline::opentelemetry::baggage::BaggageExt;
use forkline::opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use forkline::opentelemetry::{global, Context, Value};
use forkline_examples::http_get_with;
use forkline_tests::sentry_capture::{trace_context, KeptEnvelopes};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sentry::integrations::opentelemetry::SentrySpanProcessor;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

struct Setup {
    spans: InMemorySpanExporter,
    metrics: (SdkMeterProvider, InMemoryMetricExporter),
    sentry: Arc<KeptEnvelopes>,
    addr: SocketAddr,
}

async fn order(axum::extract::Path(id): axum::extract::Path<u64>) -> String {
    let cx = Context::current();
    let span = cx.span();
    format!(
        "{} {} {id}",
        span.span_context().trace_id(),
        span.span_context().span_id()
    )
}

async fn tenant() -> String {
    Context::current()
        .baggage()
        .get("tenant")
        .map(|v| v.to_string())
        .unwrap_or_default()
}

async fn fail() -> (StatusCode, &'static str) {
    (StatusCode::BAD_GATEWAY, "upstream down")
}

async fn boom() -> &'static str {
    let on_purpose = true;
    if on_purpose {
        panic!("layer test panic");
    }
    "unreachable"
}

/// A handler's error, answered with its status.
#[derive(Debug)]
struct Refused(StatusCode, &'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.1)
    }
}

impl std::error::Error for Refused {}

impl axum::response::IntoResponse for Refused {
    fn into_response(self) -> axum::response::Response {
        (self.0, self.1).into_response()
    }
}

/// A `#[handler(err)]` inside the layer: its event carries the layer's request.
#[forkline::handler(err, name = "charge")]
async fn charge() -> Result<String, Refused> {
    Err(Refused(
        StatusCode::PAYMENT_REQUIRED,
        "layer test card declined",
    ))
}

/// A `#[handler(err)]` whose error becomes a 503.
#[forkline::handler(err, name = "settle")]
async fn settle() -> Result<String, Refused> {
    Err(Refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "layer test ledger down",
    ))
}

/// A `#[handler]` with no `kind` behind the layer: internal, under the layer's server span.
#[forkline::handler(name = "lookup")]
async fn lookup() -> &'static str {
    "found"
}

/// An explicit `kind` wins, even behind the layer.
#[forkline::handler(name = "lookup as server", kind = "server")]
async fn lookup_as_server() -> &'static str {
    "found"
}

/// What this service would send to the next one.
async fn outgoing() -> String {
    let mut headers = HeaderMap::new();
    forkline::http::inject(&mut headers);
    let mut lines: Vec<String> = headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Once per test binary: Sentry, its span processor, the provider, the propagators — then a
/// server with the layer on its own runtime.
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let sentry = Arc::new(KeptEnvelopes::default());
        std::mem::forget(sentry::init(
            sentry::ClientOptions::new()
                .dsn("https://layerkey@sentry.invalid/3")
                .release("layer-test@1.0.0")
                .environment("test")
                .traces_sample_rate(1.0)
                // What forkline's worker_init sets: release health, a session per request.
                .session_mode(sentry::SessionMode::Request)
                .auto_session_tracking(true)
                .transport(sentry.clone()),
        ));
        let spans = InMemorySpanExporter::default();
        global::set_tracer_provider(
            SdkTracerProvider::builder()
                .with_span_processor(SentrySpanProcessor::new())
                .with_simple_exporter(spans.clone())
                .build(),
        );
        // Before the first request: the layer makes its instruments from it then.
        let metric_exporter = InMemoryMetricExporter::default();
        let meter_provider = SdkMeterProvider::builder()
            .with_periodic_exporter(metric_exporter.clone())
            .build();
        global::set_meter_provider(meter_provider.clone());
        forkline::manual::install_propagators(&[
            PropagatorKind::TraceContext,
            PropagatorKind::Baggage,
            PropagatorKind::Sentry,
        ]);
        let app = Router::new()
            .route("/orders/{id}", get(order))
            .route("/tenant", get(tenant))
            .route("/fail", get(fail))
            .route("/boom", get(boom))
            .route("/outgoing", get(outgoing))
            .route("/orders/{id}/charge", get(charge))
            .route("/orders/{id}/refund", get(fail))
            .route("/orders/{id}/settle", get(settle))
            .route("/lookup", get(lookup))
            .route("/lookup-as-server", get(lookup_as_server))
            .layer(forkline::http::TelemetryLayer::new());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app).await.expect("serve");
            });
        });
        Setup {
            spans,
            metrics: (meter_provider, metric_exporter),
            sentry,
            addr,
        }
    })
}

/// Every request holds it shared; the release-health test holds it alone, so the sessions it
/// counts are exactly its own requests' (a session ends before its response is written).
static REQUESTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn get_with(path: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
    let _shared = REQUESTS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    send(path, headers)
}

fn send(path: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
    http_get_with(setup().addr, path, headers)
}

/// Waits until Sentry's client has handed every event and session captured so far to the
/// transport (here, kept in memory).
fn flush_sentry() {
    let flushed = sentry::Hub::main()
        .client()
        .expect("a client")
        .flush(Some(std::time::Duration::from_secs(2)));
    assert!(flushed, "Sentry's client flushed within 2 s");
}

/// The first finished span named `name` that `also` accepts, waited for.
fn finished_span(name: &str, also: impl Fn(&SpanData) -> bool) -> Option<SpanData> {
    forkline_tests::harness::wait_until(std::time::Duration::from_secs(5), || {
        setup()
            .spans
            .get_finished_spans()
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.name == name && also(s))
    })
}

/// The server span named `name` whose `url.path` is `path` (each test uses its own paths).
fn server_span(name: &str, path: &str) -> SpanData {
    finished_span(name, |s| {
        attr(s, "url.path") == Some(Value::from(path.to_string()))
    })
    .unwrap_or_else(|| panic!("no span {name:?} for {path}"))
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn sentry_messages(needle: &str) -> Vec<sentry::protocol::Event<'static>> {
    setup().sentry.events_mentioning(needle)
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[test]
fn traceparent_continues_the_trace_with_http_semantic_conventions() {
    let traceparent = format!("00-{TRACE}-{PARENT}-01");
    let (status, body) = get_with(
        "/orders/7?expand=1",
        &[
            ("traceparent", &traceparent),
            ("User-Agent", "layer-test/1"),
        ],
    )
    .expect("GET");
    assert_eq!(status, 200);
    let span = server_span("GET /orders/{id}", "/orders/7");
    assert_eq!(span.span_context.trace_id().to_string(), TRACE);
    assert_eq!(span.parent_span_id.to_string(), PARENT);
    assert!(
        body.starts_with(&format!("{TRACE} {}", span.span_context.span_id())),
        "{body}"
    );
    assert_eq!(attr(&span, "http.request.method"), Some(Value::from("GET")));
    assert_eq!(
        attr(&span, "http.route"),
        Some(Value::from("/orders/{id}".to_string()))
    );
    assert_eq!(
        attr(&span, "http.response.status_code"),
        Some(Value::I64(200))
    );
    assert_eq!(
        attr(&span, "url.scheme"),
        Some(Value::from("http".to_string()))
    );
    assert_eq!(attr(&span, "url.query"), Some(Value::from("expand=1")));
    assert_eq!(
        attr(&span, "server.address"),
        Some(Value::from("127.0.0.1".to_string()))
    );
    assert_eq!(
        attr(&span, "server.port"),
        Some(Value::I64(i64::from(setup().addr.port())))
    );
    assert_eq!(
        attr(&span, "user_agent.original"),
        Some(Value::from("layer-test/1"))
    );
    assert_eq!(span.status, Status::Unset);
}

#[test]
fn sentry_trace_and_baggage_continue_the_trace() {
    let trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let (status, _) = get_with(
        "/orders/8",
        &[("sentry-trace", &format!("{trace}-{PARENT}-1"))],
    )
    .expect("GET");
    assert_eq!(status, 200);
    let span = server_span("GET /orders/{id}", "/orders/8");
    assert_eq!(span.span_context.trace_id().to_string(), trace);
    assert_eq!(span.parent_span_id.to_string(), PARENT);

    let (_, tenant) = get_with("/tenant", &[("baggage", "tenant=acme,other=1")]).expect("GET");
    assert_eq!(tenant, "acme", "baggage reaches the handler's context");
}

#[test]
fn a_5xx_marks_the_span_and_reaches_sentry_linked_to_it() {
    let (status, _) = get_with("/fail", &[]).expect("GET");
    assert_eq!(status, 502);
    let span = server_span("GET /fail", "/fail");
    assert_eq!(
        attr(&span, "error.type"),
        Some(Value::from("502".to_string()))
    );
    assert!(matches!(span.status, Status::Error { .. }));
    let events = forkline_tests::harness::wait_until(std::time::Duration::from_secs(5), || {
        let e = sentry_messages("HTTP 502 from GET /fail");
        (!e.is_empty()).then_some(e)
    })
    .expect("a Sentry event");
    assert_eq!(
        trace_context(&events[0]),
        (
            span.span_context.trace_id().to_string(),
            span.span_context.span_id().to_string()
        )
    );
    let event = &events[0];
    assert_eq!(event.level, sentry::Level::Error);
    let exception = event.exception.values.last().expect("an exception");
    let mechanism = exception.mechanism.as_ref().expect("a mechanism");
    assert_eq!(
        (mechanism.ty.as_str(), mechanism.handled),
        ("forkline.http", Some(true))
    );
    // Where the layer saw the 5xx: the server's frames, without forkline's or tokio's.
    assert_eq!(event.tags["forkline.stacktrace"], "capture_site");
    let frames = &exception.stacktrace.as_ref().expect("a stack").frames;
    let functions: Vec<&str> = frames
        .iter()
        .map(|f| f.function.as_deref().unwrap_or(""))
        .collect();
    assert!(
        functions
            .iter()
            .all(|f| !["forkline::", "<forkline::", "tokio::", "<tokio::"]
                .iter()
                .any(|p| f.starts_with(p))),
        "{functions:#?}"
    );
}

/// Credentials a request may carry, none of which may reach Sentry by default.
const SECRET_HEADERS: &[(&str, &str)] = &[
    ("authorization", "Bearer layer-secret-1"),
    ("proxy-authorization", "Basic layer-secret-2"),
    ("cookie", "session=layer-secret-3"),
    ("x-api-key", "layer-secret-4"),
    ("x-request-id", "req-77"),
];

/// The request of an event as `send_default_pii` off leaves it: the route template as the
/// transaction, method and URL, the plain headers, no credential and no query value.
fn assert_request_without_secrets(
    event: &sentry::protocol::Event<'static>,
    route: &str,
    path: &str,
) {
    assert_eq!(event.transaction.as_deref(), Some(route));
    let request = event.request.as_ref().expect("the request of the event");
    assert_eq!(request.method.as_deref(), Some("GET"));
    let url = request.url.as_ref().expect("a URL");
    assert_eq!(url.path(), path);
    assert_eq!(url.query(), Some("card=[Filtered]"));
    assert_eq!(request.query_string.as_deref(), Some("card=[Filtered]"));
    assert_eq!(
        request.headers.get("x-request-id").map(String::as_str),
        Some("req-77")
    );
    assert!(request.headers.contains_key("host"));
    assert_eq!(request.cookies, None);
    let all = format!("{request:?}");
    assert!(
        !all.contains("layer-secret"),
        "a credential reached Sentry: {all}"
    );
    assert!(!all.contains("4111"), "a query value reached Sentry: {all}");
}

/// The Sentry events mentioning `needle`, once there is at least one (5 s at most).
fn wait_for_events(needle: &str) -> Vec<sentry::protocol::Event<'static>> {
    forkline_tests::harness::wait_until(std::time::Duration::from_secs(5), || {
        let e = sentry_messages(needle);
        (!e.is_empty()).then_some(e)
    })
    .unwrap_or_else(|| panic!("no Sentry event mentioning {needle:?}"))
}

#[test]
fn an_err_event_inside_the_layer_has_the_route_and_the_request_without_credentials() {
    let (status, _) = get_with("/orders/5/charge?card=4111", SECRET_HEADERS).expect("GET");
    assert_eq!(status, 402);
    let events = wait_for_events("layer test card declined");
    assert_request_without_secrets(&events[0], "/orders/{id}/charge", "/orders/5/charge");
}

#[test]
fn a_handler_error_that_becomes_a_5xx_is_one_event_not_two() {
    let (status, _) = get_with("/orders/8/settle", &[]).expect("GET");
    assert_eq!(status, 503);
    let span = server_span("GET /orders/{id}/settle", "/orders/8/settle");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "the span still says 5xx"
    );
    let events = wait_for_events("layer test ledger down");
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].transaction.as_deref(),
        Some("/orders/{id}/settle")
    );
    // The span has ended, so the layer has decided; once the client has flushed, a second
    // event would be in the transport.
    flush_sentry();
    assert!(
        sentry_messages("from GET /orders/{id}/settle").is_empty(),
        "no second event for the 5xx"
    );
}

/// The finished span named `name` in `trace`.
fn span_in(trace: forkline::opentelemetry::trace::TraceId, name: &str) -> SpanData {
    finished_span(name, |s| s.span_context.trace_id() == trace)
        .unwrap_or_else(|| panic!("no span {name:?} in trace {trace}"))
}

#[test]
fn a_handler_behind_the_layer_is_internal_so_a_request_has_one_server_span() {
    let (status, _) = get_with("/lookup", &[]).expect("GET");
    assert_eq!(status, 200);
    let server = server_span("GET /lookup", "/lookup");
    assert_eq!(server.span_kind, SpanKind::Server);
    let trace = server.span_context.trace_id();
    let handler = span_in(trace, "lookup");
    assert_eq!(handler.span_kind, SpanKind::Internal);
    assert_eq!(handler.parent_span_id, server.span_context.span_id());
    let servers = setup()
        .spans
        .get_finished_spans()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace && s.span_kind == SpanKind::Server)
        .count();
    assert_eq!(servers, 1, "one SERVER span per request");
}

#[test]
fn an_explicit_kind_wins_behind_the_layer() {
    let (status, _) = get_with("/lookup-as-server", &[]).expect("GET");
    assert_eq!(status, 200);
    let server = server_span("GET /lookup-as-server", "/lookup-as-server");
    let handler = span_in(server.span_context.trace_id(), "lookup as server");
    assert_eq!(handler.span_kind, SpanKind::Server);
}

#[test]
fn every_request_is_a_release_health_session_errored_or_crashed_as_it_went() {
    setup();
    // No other test's request is in flight or starts until this one is done.
    let _alone = REQUESTS
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    flush_sentry();
    let before = setup().sentry.session_totals();
    for _ in 0..3 {
        assert_eq!(send("/lookup", &[]).expect("GET").0, 200);
    }
    assert_eq!(send("/fail", &[]).expect("GET").0, 502);
    assert_eq!(send("/boom", &[]).expect("GET").0, 500);
    // The layer ends a request's session when its response is ready, before it is written.
    flush_sentry();
    let after = setup().sentry.session_totals();
    assert_eq!(after.exited, before.exited + 3, "{before:?} -> {after:?}");
    assert_eq!(
        after.errored,
        before.errored + 1,
        "the 5xx: {before:?} -> {after:?}"
    );
    assert_eq!(
        after.crashed,
        before.crashed + 1,
        "the panic: {before:?} -> {after:?}"
    );
    assert_eq!(after.abnormal, before.abnormal, "{before:?} -> {after:?}");
}

#[test]
fn a_5xx_event_has_the_route_and_the_request_without_credentials() {
    let (status, _) = get_with("/orders/6/refund?card=4111", SECRET_HEADERS).expect("GET");
    assert_eq!(status, 502);
    let events = wait_for_events("HTTP 502 from GET /orders/{id}/refund");
    assert_request_without_secrets(&events[0], "/orders/{id}/refund", "/orders/6/refund");
}

#[test]
fn a_panic_is_answered_with_a_500_ends_the_span_as_an_error_and_reaches_sentry() {
    let (status, _) = get_with("/boom", &[]).expect("answered, not a dropped connection");
    assert_eq!(status, 500);
    let span = server_span("GET /boom", "/boom");
    assert_eq!(attr(&span, "error.type"), Some(Value::from("panic")));
    assert_eq!(
        attr(&span, "http.response.status_code"),
        Some(Value::I64(500))
    );
    assert!(
        matches!(&span.status, Status::Error { description } if description.contains("layer test panic"))
    );
    let events = forkline_tests::harness::wait_until(std::time::Duration::from_secs(5), || {
        let e = sentry_messages("layer test panic");
        (!e.is_empty()).then_some(e)
    })
    .expect("Sentry's panic handler captured it");
    assert_eq!(
        trace_context(&events[0]).1,
        span.span_context.span_id().to_string()
    );
}

#[test]
fn hostile_propagation_headers_are_ignored_and_a_new_trace_starts() {
    let long = "a".repeat(8000);
    let many = (0..500)
        .map(|i| format!("k{i}=v{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let hostile: Vec<(&str, String)> = vec![
        ("traceparent", "00-zzzz-yyyy-01".into()),
        ("traceparent", format!("00-{TRACE}-{PARENT}-01-{long}")),
        ("sentry-trace", format!("{TRACE}-{PARENT}-1-extra")),
        ("sentry-trace", long.clone()),
        ("baggage", many),
        ("baggage", format!("k={long}")),
        ("tracestate", long.clone()),
    ];
    for (i, (name, value)) in hostile.iter().enumerate() {
        let path = format!("/orders/{}", 9000 + i);
        let (status, _) = get_with(&path, &[(name, value)]).expect("served");
        assert_eq!(status, 200, "{name}");
        let span = server_span("GET /orders/{id}", &path);
        assert_ne!(
            span.parent_span_id.to_string(),
            PARENT,
            "{name}: garbage must not become the parent"
        );
    }
}

#[test]
fn outgoing_calls_carry_the_trace_and_sentrys_sampling_context() {
    // Head of the trace: this service makes the DSC from its Sentry client.
    let (_, headers) = get_with("/outgoing", &[]).expect("GET");
    let span = server_span("GET /outgoing", "/outgoing");
    let trace = span.span_context.trace_id().to_string();
    let id = span.span_context.span_id().to_string();
    assert!(
        headers.contains(&format!("traceparent: 00-{trace}-{id}-01")),
        "{headers}"
    );
    assert!(
        headers.contains(&format!("sentry-trace: {trace}-{id}-1")),
        "{headers}"
    );
    for entry in [
        format!("sentry-trace_id={trace}"),
        "sentry-public_key=layerkey".to_string(),
        "sentry-release=layer-test@1.0.0".to_string(),
        "sentry-environment=test".to_string(),
        "sentry-sampled=true".to_string(),
        "sentry-sample_rate=1".to_string(),
    ] {
        assert!(headers.contains(&entry), "{entry} missing in {headers}");
    }

    // Continuing a trace: the caller's DSC is forwarded unchanged, not replaced.
    let (_, headers) = get_with(
        "/outgoing",
        &[
            ("sentry-trace", &format!("{TRACE}-{PARENT}-1")),
            ("baggage", "sentry-trace_id=4bf92f3577b34da6a3ce929d0e0e4736,sentry-public_key=upstream,sentry-sample_rate=0.25"),
        ],
    )
    .expect("GET");
    assert!(headers.contains("sentry-public_key=upstream"), "{headers}");
    assert!(headers.contains("sentry-sample_rate=0.25"), "{headers}");
    assert!(!headers.contains("layerkey"), "{headers}");
}

#[test]
fn a_server_span_keeps_the_query_but_not_its_credentials() {
    let (status, _) = get_with("/orders/81?page=2&access_token=layer-secret-5", &[]).expect("GET");
    assert_eq!(status, 200);
    let span = server_span("GET /orders/{id}", "/orders/81");
    assert_eq!(
        attr(&span, "url.query"),
        Some(Value::from("page=2&access_token=REDACTED".to_string()))
    );
}

/// The duration histogram's points now, as (attributes, count); cumulative, so every request
/// of this test binary so far.
fn duration_points() -> Vec<(std::collections::BTreeMap<String, String>, u64)> {
    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
    let (provider, exporter) = &setup().metrics;
    provider.force_flush().expect("collected");
    let collections = exporter.get_finished_metrics().expect("metrics");
    let Some(last) = collections.last() else {
        return Vec::new();
    };
    let mut points = Vec::new();
    for sm in last.scope_metrics() {
        for m in sm.metrics() {
            if m.name() != "http.server.request.duration" {
                continue;
            }
            assert_eq!(m.unit(), "s");
            let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() else {
                panic!("the duration is not an f64 histogram: {m:?}");
            };
            for p in h.data_points() {
                let attrs = p
                    .attributes()
                    .map(|kv| (kv.key.to_string(), kv.value.to_string()))
                    .collect();
                points.push((attrs, p.count()));
            }
        }
    }
    points
}

#[test]
fn request_metrics_carry_the_route_template_and_error_type_for_5xx_and_panics() {
    assert_eq!(get_with("/boom", &[]).expect("answered").0, 500);
    assert_eq!(
        get_with("/orders/6001/refund", &[]).expect("answered").0,
        502
    );
    assert_eq!(get_with("/lookup", &[]).expect("answered").0, 200);
    let points = duration_points();
    let find = |route: &str| {
        points
            .iter()
            .find(|(a, _)| a.get("http.route").map(String::as_str) == Some(route))
            .unwrap_or_else(|| panic!("no point for {route}: {points:?}"))
    };
    let (panicked, n) = find("/boom");
    assert!(*n >= 1);
    assert_eq!(panicked["error.type"], "panic");
    assert_eq!(panicked["http.response.status_code"], "500");
    assert_eq!(panicked["http.request.method"], "GET");
    assert_eq!(panicked["url.scheme"], "http");
    let (refused, _) = find("/orders/{id}/refund");
    assert_eq!(refused["error.type"], "502");
    let (ok, _) = find("/lookup");
    assert!(!ok.contains_key("error.type"), "{ok:?}");
    assert_eq!(ok["http.response.status_code"], "200");
    assert!(
        points
            .iter()
            .all(|(a, _)| a.get("http.route").is_none_or(|r| !r.contains("6001"))),
        "a raw path leaked into http.route: {points:?}"
    );
}
