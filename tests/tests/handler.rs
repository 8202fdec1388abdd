//! `#[forkline::handler]` and `#[derive(SpanAttributes)]`, against the real global OTel provider
//! (in-memory exporter: a unit-level check) and a real Sentry client whose transport keeps the
//! envelopes: span names, kinds, attributes, parent/child links across `.await` and spawned
//! tasks, and errors / panics captured with the Sentry event's trace and span ids equal to the
//! OTel span's.

use forkline::opentelemetry::trace::{
    FutureExt as _, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags,
    TraceId, TraceState, Tracer,
};
use forkline::opentelemetry::{global, Context, KeyValue, Value};
use forkline_tests::sentry_capture::{trace_context, KeptEnvelopes};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sentry::integrations::opentelemetry::SentrySpanProcessor;
use std::sync::{Arc, OnceLock};

struct Backends {
    spans: InMemorySpanExporter,
    sentry: Arc<KeptEnvelopes>,
}

/// Once per test binary, before any test touches OTel or Sentry: Sentry first, then its span
/// processor, then the provider — the order forkline's hooks generate.
fn backends() -> &'static Backends {
    static BACKENDS: OnceLock<Backends> = OnceLock::new();
    BACKENDS.get_or_init(|| {
        let sentry = Arc::new(KeptEnvelopes::default());
        let transport = sentry.clone();
        let guard = sentry::init(
            sentry::ClientOptions::new()
                .dsn("https://public@sentry.invalid/1")
                .transport(transport),
        );
        std::mem::forget(guard);
        let spans = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SentrySpanProcessor::new())
            .with_simple_exporter(spans.clone())
            .build();
        global::set_tracer_provider(provider);
        Backends { spans, sentry }
    })
}

/// The finished spans of one trace.
fn spans_of(trace: TraceId) -> Vec<SpanData> {
    backends()
        .spans
        .get_finished_spans()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect()
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {spans:#?}"))
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// Sentry events whose message or exception mentions `needle`.
fn sentry_events(needle: &str) -> Vec<sentry::protocol::Event<'static>> {
    backends().sentry.events_mentioning(needle)
}

/// Runs `f` under a fresh root span so each test finds its own trace.
fn in_root<R>(f: impl FnOnce() -> R) -> (TraceId, R) {
    backends();
    let tracer = global::tracer("test");
    let root = tracer.start("root");
    let trace = root.span_context().trace_id();
    let cx = Context::current_with_span(root);
    let result = {
        let _active = cx.clone().attach();
        f()
    };
    cx.span().end();
    (trace, result)
}

#[derive(forkline::SpanAttributes)]
struct Customer {
    id: u64,
    #[span(redact)]
    #[allow(dead_code)]
    email: String,
}

#[derive(forkline::SpanAttributes)]
#[span(prefix = "order")]
struct Order {
    id: u64,
    #[span(name = "total_cents")]
    total: i64,
    #[span(skip)]
    #[allow(dead_code)]
    card_number: String,
    coupon: Option<String>,
    customer: Customer,
    #[span(flatten)]
    meta: Meta,
}

#[derive(forkline::SpanAttributes)]
struct Meta {
    #[span(name = "http.request.method")]
    method: &'static str,
}

#[forkline::handler(skip(secret), fields(tenant = "acme", http.route = "/orders/{id}"))]
fn place_order(order: &Order, attempt: u32, secret: &str) -> usize {
    let _ = secret;
    attempt as usize + 1
}

#[test]
fn a_sync_handler_records_its_arguments_fields_and_derived_structs() {
    let order = Order {
        id: 42,
        total: 1999,
        card_number: "4111111111111111".into(),
        coupon: None,
        customer: Customer {
            id: 7,
            email: "someone@example.com".into(),
        },
        meta: Meta { method: "POST" },
    };
    let (trace, out) = in_root(|| place_order(&order, 2, "hunter2"));
    assert_eq!(out, 3, "the return value is untouched");
    let spans = spans_of(trace);
    let span = named(&spans, "place_order");
    assert_eq!(
        span.span_kind,
        SpanKind::Internal,
        "no `kind` under a span of this process"
    );
    assert_eq!(
        span.parent_span_id,
        named(&spans, "root").span_context.span_id()
    );
    assert_eq!(attr(span, "order.id"), Some(Value::I64(42)));
    assert_eq!(attr(span, "order.total_cents"), Some(Value::I64(1999)));
    assert_eq!(attr(span, "order.customer.id"), Some(Value::I64(7)));
    assert_eq!(
        attr(span, "order.customer.email"),
        Some(Value::from("[redacted]"))
    );
    assert_eq!(attr(span, "http.request.method"), Some(Value::from("POST")));
    assert_eq!(attr(span, "attempt"), Some(Value::I64(2)));
    assert_eq!(attr(span, "tenant"), Some(Value::from("acme")));
    assert_eq!(attr(span, "http.route"), Some(Value::from("/orders/{id}")));
    assert_eq!(
        attr(span, "order.coupon"),
        None,
        "an empty option records nothing"
    );
    let all = format!("{:?}", span.attributes);
    assert!(!all.contains("hunter2"), "skipped argument recorded: {all}");
    assert!(!all.contains("4111"), "skipped field recorded: {all}");
    assert!(!all.contains("someone@"), "redacted field recorded: {all}");
}

#[forkline::handler(skip_all)]
fn inner_step() -> SpanContext {
    Context::current().span().span_context().clone()
}

#[forkline::handler(skip_all)]
fn entry_point() -> (SpanContext, SpanContext) {
    (
        Context::current().span().span_context().clone(),
        inner_step(),
    )
}

/// The finished span whose id is `id`.
fn span_with_id(cx: &SpanContext) -> SpanData {
    spans_of(cx.trace_id())
        .into_iter()
        .find(|s| s.span_context.span_id() == cx.span_id())
        .unwrap_or_else(|| panic!("no span {:?}", cx.span_id()))
}

#[test]
fn a_handler_at_the_head_of_a_trace_is_server_and_a_nested_one_internal() {
    backends();
    // No active span at all: this handler starts the trace.
    let (outer, inner) = {
        let _active = Context::new().attach();
        entry_point()
    };
    let outer = span_with_id(&outer);
    let inner = span_with_id(&inner);
    assert_eq!(outer.name, "entry_point");
    assert_eq!(outer.span_kind, SpanKind::Server);
    assert_eq!(outer.parent_span_id, SpanId::INVALID);
    assert_eq!(inner.span_kind, SpanKind::Internal);
    assert_eq!(inner.parent_span_id, outer.span_context.span_id());
}

#[test]
fn a_handler_under_a_parent_from_another_process_is_server() {
    backends();
    let remote = SpanContext::new(
        TraceId::from_hex("5d3c1a2b4e6f48a09b8c7d6e5f4a3b2c").expect("id"),
        SpanId::from_hex("c8be7c827a314442").expect("id"),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let cx = Context::new().with_remote_span_context(remote);
    let (outer, _) = {
        let _active = cx.attach();
        entry_point()
    };
    let outer = span_with_id(&outer);
    assert_eq!(outer.span_kind, SpanKind::Server);
    assert_eq!(
        outer.parent_span_id,
        SpanId::from_hex("c8be7c827a314442").expect("id")
    );
}

#[forkline::handler(name = "GET /orders/{id}", kind = "client", skip_all)]
async fn fetch(id: u64) -> u64 {
    tokio::task::yield_now().await;
    let tracer = global::tracer("test");
    tracer.in_span("after await", |_| {});
    // A task spawned with the current context stays in the trace.
    let child = tokio::spawn(
        async {
            tokio::task::yield_now().await;
            global::tracer("test").in_span("spawned", |_| {});
        }
        .with_current_context(),
    );
    child.await.ok();
    id * 2
}

#[test]
fn an_async_handler_stays_the_parent_across_await_and_spawned_tasks() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (trace, out) = in_root(|| rt.block_on(fetch(21).with_current_context()));
    assert_eq!(out, 42);
    let spans = spans_of(trace);
    let handler = named(&spans, "GET /orders/{id}");
    assert_eq!(handler.span_kind, SpanKind::Client);
    assert!(
        handler.attributes.is_empty(),
        "skip_all: {:?}",
        handler.attributes
    );
    let id = handler.span_context.span_id();
    assert_eq!(named(&spans, "after await").parent_span_id, id);
    assert_eq!(named(&spans, "spawned").parent_span_id, id);
}

#[derive(Debug)]
struct OutOfStock(u64);

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "item {} is out of stock", self.0)
    }
}

impl std::error::Error for OutOfStock {}

#[forkline::handler(err)]
fn reserve(item: u64) -> Result<(), OutOfStock> {
    if item > 0 {
        return Err(OutOfStock(item));
    }
    Ok(())
}

#[forkline::handler(err)]
async fn charge(amount: i64) -> Result<i64, String> {
    let checked: i64 = amount.checked_neg().ok_or("amount overflow")?;
    if amount > 100 {
        Err(format!("card declined for {amount}"))?;
    }
    Ok(checked)
}

#[test]
fn errors_mark_the_span_and_reach_sentry_linked_to_it() {
    let (trace, result) = in_root(|| reserve(913));
    assert!(result.is_err());
    let spans = spans_of(trace);
    let span = named(&spans, "reserve");
    assert!(matches!(&span.status, Status::Error { description } if description.contains("913")));
    let event = span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .expect("exception event");
    assert!(event
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == "exception.type" && kv.value.as_str().contains("OutOfStock")));
    let captured = sentry_events("item 913 is out of stock");
    assert_eq!(captured.len(), 1, "one Sentry error event");
    assert!(
        !captured[0].exception.values.is_empty(),
        "an exception, not a message"
    );
    assert_eq!(
        trace_context(&captured[0]),
        (
            span.span_context.trace_id().to_string(),
            span.span_context.span_id().to_string()
        ),
        "the Sentry event carries the OTel span's ids"
    );

    // A `Display`-only error, from an async handler using `?`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (trace, result) = in_root(|| rt.block_on(charge(250).with_current_context()));
    assert_eq!(result, Err("card declined for 250".to_string()));
    let spans = spans_of(trace);
    let span = named(&spans, "charge");
    let captured = sentry_events("card declined for 250");
    assert_eq!(captured.len(), 1);
    assert_eq!(captured[0].level, sentry::Level::Error);
    assert_eq!(
        trace_context(&captured[0]).1,
        span.span_context.span_id().to_string()
    );
    assert_eq!(
        rt.block_on(charge(5)),
        Ok(-5),
        "Ok passes through untouched"
    );
}

mod inventory {
    /// An enum error: Sentry alone would name it after the variant (`NotFound`).
    #[derive(Debug)]
    pub enum InventoryError {
        NotFound(u64),
    }

    impl std::fmt::Display for InventoryError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Self::NotFound(sku) => write!(f, "sku {sku} not in the inventory"),
            }
        }
    }

    impl std::error::Error for InventoryError {}
}

#[forkline::handler(err)]
fn find_sku(sku: u64) -> Result<(), inventory::InventoryError> {
    Err(inventory::InventoryError::NotFound(sku))
}

#[test]
fn the_exception_type_is_the_errors_type_on_the_span_and_in_sentry_alike() {
    let (trace, result) = in_root(|| find_sku(4242));
    assert!(result.is_err());
    let spans = spans_of(trace);
    let span = named(&spans, "find_sku");
    let on_span = span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .and_then(|e| {
            e.attributes
                .iter()
                .find(|kv| kv.key.as_str() == "exception.type")
                .map(|kv| kv.value.as_str().to_string())
        })
        .expect("exception.type on the span");
    assert_eq!(on_span, "handler::inventory::InventoryError");
    let captured = sentry_events("sku 4242 not in the inventory");
    assert_eq!(captured.len(), 1);
    let exception = captured[0].exception.values.last().expect("an exception");
    assert_eq!(exception.ty, "InventoryError", "the type, not the variant");
    assert_eq!(exception.module.as_deref(), Some("handler::inventory"));
    assert_eq!(
        format!(
            "{}::{}",
            exception.module.as_deref().unwrap_or(""),
            exception.ty
        ),
        on_span,
        "Sentry's module::type is the span's exception.type"
    );
}

#[forkline::handler]
fn explode(code: u32) -> u32 {
    if code == 7 {
        panic!("handler exploded with {code}");
    }
    code
}

#[test]
fn a_panic_is_recorded_on_the_span_captured_by_sentry_and_resumed() {
    let (trace, caught) = in_root(|| std::panic::catch_unwind(|| explode(7)));
    assert!(caught.is_err(), "the panic is resumed");
    let spans = spans_of(trace);
    let span = named(&spans, "explode");
    assert!(
        matches!(&span.status, Status::Error { description } if description.contains("handler exploded with 7"))
    );
    assert!(span.events.iter().any(|e| e.name == "exception"));
    let captured = sentry_events("handler exploded with 7");
    assert_eq!(captured.len(), 1, "Sentry's panic handler captured it once");
    let panic = &captured[0].exception.values[0];
    let mechanism = panic.mechanism.as_ref().expect("a mechanism");
    assert_eq!(
        (mechanism.ty.as_str(), mechanism.handled),
        ("panic", Some(false)),
        "a panic is unhandled"
    );
    assert!(panic.stacktrace.is_some(), "the panic integration's stack");
    assert_eq!(
        trace_context(&captured[0]).1,
        span.span_context.span_id().to_string()
    );
}

#[test]
fn an_unsampled_parent_makes_the_handler_record_nothing() {
    backends();
    let unsampled = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("id"),
        SpanId::from_hex("b7ad6b7169203331").expect("id"),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    let cx = Context::new().with_remote_span_context(unsampled.clone());
    // Through the SDK (a non-recording span), then through forkline's shortcut for a
    // parent-based sampler (no span at all): nothing is recorded either way, the body runs,
    // and an error still reaches Sentry.
    for parent_decides in [false, true] {
        forkline::manual::provider_installed(parent_decides);
        let _active = cx.clone().attach();
        assert_eq!(explode(3), 3, "the body ran");
        assert!(reserve(4400 + u64::from(parent_decides)).is_err());
    }
    assert!(spans_of(unsampled.trace_id()).is_empty());
    assert_eq!(sentry_events("item 4400 is out of stock").len(), 1);
    assert_eq!(sentry_events("item 4401 is out of stock").len(), 1);
}

#[test]
fn hostile_argument_values_are_bounded() {
    #[forkline::handler]
    fn echo(body: &str) -> usize {
        body.len()
    }
    let huge = "x".repeat(1 << 20);
    let (trace, n) = in_root(|| echo(&huge));
    assert_eq!(n, 1 << 20);
    let spans = spans_of(trace);
    let recorded = attr(named(&spans, "echo"), "body").expect("recorded");
    assert_eq!(recorded.as_str().len(), forkline::handler::MAX_VALUE_BYTES);
    assert!(forkline::stats().attribute_values_truncated >= 1);
    let _ = KeyValue::new("unused", 0);
}

/// What an error event's outermost exception says about where its stack came from.
fn stack_source(event: &sentry::protocol::Event<'static>) -> String {
    let outermost = event.exception.values.last().expect("an exception");
    let mechanism = outermost.mechanism.as_ref().expect("a mechanism");
    assert_eq!(
        event.tags.get(forkline::handler::STACKTRACE_TAG),
        mechanism
            .data
            .get(forkline::handler::STACKTRACE_TAG)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .as_ref(),
        "the tag and the mechanism say the same"
    );
    event.tags[forkline::handler::STACKTRACE_TAG].clone()
}

/// The outermost exception's frames as (function, file, in_app), outermost first.
fn frames(event: &sentry::protocol::Event<'static>) -> Vec<(String, String, Option<bool>)> {
    let outermost = event.exception.values.last().expect("an exception");
    let stack = outermost.stacktrace.as_ref().expect("a stack trace");
    stack
        .frames
        .iter()
        .map(|f| {
            (
                f.function.clone().unwrap_or_default(),
                f.abs_path.clone().unwrap_or_default(),
                f.in_app,
            )
        })
        .collect()
}

/// The stack is the handler's own, trimmed: the handler by name and in-app, nothing of
/// forkline, Sentry or tokio left, and only this crate's frames in-app (named `handler::..`,
/// or — where line-tables-only debug info gives a short name — in this file).
fn assert_handlers_stack(event: &sentry::protocol::Event<'static>, handler: &str) {
    let frames = frames(event);
    assert!(
        frames
            .iter()
            .any(
                |(f, _, in_app)| (f.starts_with(&format!("{handler}::")) || f == handler)
                    && *in_app == Some(true)
            ),
        "{handler} is an in-app frame: {frames:#?}"
    );
    for (f, file, in_app) in &frames {
        assert!(
            !["forkline::", "sentry", "tokio::", "backtrace::", "std::"]
                .iter()
                .any(|p| f.starts_with(p))
                && !file.contains("/runtime/src/"),
            "trimmed: {f} {file}"
        );
        let mine = f.starts_with("handler::") || file.ends_with("tests/handler.rs");
        assert_eq!(*in_app == Some(true), mine, "{f} {file}");
    }
}

#[derive(Debug)]
struct Disk;

impl std::fmt::Display for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("disk 3 unreadable")
    }
}

impl std::error::Error for Disk {}

#[derive(Debug)]
struct QueryFailed(Disk);

impl std::fmt::Display for QueryFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("query 77 failed")
    }
}

impl std::error::Error for QueryFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[derive(Debug)]
struct LoadFailed(QueryFailed);

impl std::fmt::Display for LoadFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("order 77 could not be loaded")
    }
}

impl std::error::Error for LoadFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[forkline::handler(err)]
fn load_order(id: u64) -> Result<u64, LoadFailed> {
    if id == 77 {
        return Err(LoadFailed(QueryFailed(Disk)));
    }
    Ok(id)
}

#[test]
fn an_error_event_has_its_cause_chain_mechanism_level_and_the_handlers_stack() {
    let (_, result) = in_root(|| load_order(77));
    assert!(result.is_err());
    let captured = sentry_events("order 77 could not be loaded");
    assert_eq!(captured.len(), 1);
    let event = &captured[0];
    assert_eq!(event.level, sentry::Level::Error);
    let chain: Vec<(&str, Option<&str>)> = event
        .exception
        .values
        .iter()
        .map(|e| (e.ty.as_str(), e.value.as_deref()))
        .collect();
    assert_eq!(
        chain,
        [
            ("Disk", Some("disk 3 unreadable")),
            ("QueryFailed", Some("query 77 failed")),
            ("LoadFailed", Some("order 77 could not be loaded")),
        ],
        "each cause its own exception, oldest first"
    );
    let mechanism = event.exception.values[2]
        .mechanism
        .as_ref()
        .expect("a mechanism");
    assert_eq!(mechanism.ty, "forkline.handler");
    assert_eq!(mechanism.handled, Some(true), "a returned Err is handled");
    assert_eq!(stack_source(event), "capture_site");
    assert_handlers_stack(event, "handler::load_order");
}

#[test]
fn display_errors_and_boxed_errors_carry_the_same() {
    #[forkline::handler(err)]
    fn boxed(id: u64) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        Err(Box::new(QueryFailed(Disk)))?;
        Ok(id)
    }
    let (_, result) = in_root(|| boxed(1));
    assert!(result.is_err());
    // `load_order`'s event mentions it too, as a cause.
    let captured: Vec<_> = sentry_events("query 77 failed")
        .into_iter()
        .filter(|e| e.exception.values.len() == 2)
        .collect();
    assert_eq!(captured.len(), 1);
    let types: Vec<&str> = captured[0]
        .exception
        .values
        .iter()
        .map(|e| e.ty.as_str())
        .collect();
    assert_eq!(
        types,
        ["Disk", "QueryFailed"],
        "a boxed error keeps its chain"
    );
    assert_handlers_stack(
        &captured[0],
        "handler::display_errors_and_boxed_errors_carry_the_same::boxed",
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (_, result) = in_root(|| rt.block_on(charge(333).with_current_context()));
    assert!(result.is_err());
    let captured = sentry_events("card declined for 333");
    assert_eq!(captured.len(), 1);
    let event = &captured[0];
    assert_eq!(event.exception.values.len(), 1);
    assert_eq!(event.exception.values[0].ty, "String");
    let mechanism = event.exception.values[0]
        .mechanism
        .as_ref()
        .expect("mechanism");
    assert_eq!(
        (mechanism.ty.as_str(), mechanism.handled),
        ("forkline.handler", Some(true))
    );
    // The async handler's body is a closure frame of `charge`.
    assert_handlers_stack(event, "handler::charge");
}

#[forkline::handler(err)]
fn fetch_rate(currency: &str) -> anyhow::Result<u64> {
    let parsed: u64 = currency
        .parse()
        .map_err(|e: std::num::ParseIntError| anyhow::Error::new(e))
        .map_err(|e| e.context(format!("no rate for {currency}")))?;
    Ok(parsed)
}

/// Runs this test binary's `test` alone in a child process with `env`: for what is global to a
/// process (whether std captures backtraces, read once; `capture_stacks`).
fn in_child(test: &str, env: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("the test binary");
    let output = std::process::Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("FORKLINE_TEST_CHILD", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run the child");
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{test} {env:?}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_errors_own_backtrace_is_used_when_it_has_one() {
    const NAME: &str = "the_errors_own_backtrace_is_used_when_it_has_one";
    let Ok(case) = std::env::var("FORKLINE_CASE") else {
        in_child(
            NAME,
            &[("FORKLINE_CASE", "own"), ("RUST_LIB_BACKTRACE", "1")],
        );
        in_child(
            NAME,
            &[("FORKLINE_CASE", "site"), ("RUST_LIB_BACKTRACE", "0")],
        );
        in_child(
            NAME,
            &[("FORKLINE_CASE", "off"), ("RUST_LIB_BACKTRACE", "0")],
        );
        return;
    };
    if case == "off" {
        forkline::handler::capture_stacks(false);
    }
    let (_, result) = in_root(|| fetch_rate("abc"));
    assert!(result.is_err());
    let captured = sentry_events("no rate for abc");
    assert_eq!(captured.len(), 1);
    let event = &captured[0];
    let chain: Vec<&str> = event
        .exception
        .values
        .iter()
        .filter_map(|e| e.value.as_deref())
        .collect();
    assert_eq!(
        chain,
        ["invalid digit found in string", "no rate for abc"],
        "anyhow's context chain, oldest first"
    );
    match case.as_str() {
        // anyhow took its backtrace where the error was made, inside the handler.
        "own" => {
            assert_eq!(stack_source(event), "error");
            assert_handlers_stack(event, "handler::fetch_rate");
        }
        "site" => {
            assert_eq!(stack_source(event), "capture_site");
            assert_handlers_stack(event, "handler::fetch_rate");
        }
        _ => {
            assert_eq!(stack_source(event), "none");
            assert!(event
                .exception
                .values
                .iter()
                .all(|e| e.stacktrace.is_none()));
        }
    }
}
