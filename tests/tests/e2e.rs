//! End to end against real backends started by `./scripts/test`: otelite (an OTLP receiver with
//! storage) and Bugsink (a Sentry-compatible server), real pre-fork servers, real network, and a
//! Python client using the official SDKs. These tests fail, never skip, when a backend is missing.
#![cfg(feature = "e2e")]

//! The outage test lives in `e2e_outage.rs`: it stops the shared backends, so it must not run
//! beside these (cargo runs test binaries one after another).

use forkline_tests::harness::http_get;
use forkline_tests::peers::{attr, eventually, start_against, stop, unique, Peers, ARRIVAL, BOOT};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");

#[test]
fn spans_and_errors_from_every_worker_reach_otelite_and_bugsink_linked() {
    let peers = Peers::from_env();
    let (fx, service) = start_against(BIN, &peers, "e2e-linked", "3", &[]);
    let addr = fx.addr(BOOT);
    let workers = fx.wait_for_workers(3, BOOT);
    for i in 0..40 {
        let path = if i % 10 == 9 { "/fail" } else { "/work" };
        assert!(http_get(addr, path).is_ok());
    }
    assert!(http_get(addr, "/panic").is_err());
    let reports = stop(fx);
    let exported: u64 = reports.iter().map(|r| r.stats.spans_exported).sum();
    let dropped: u64 = reports
        .iter()
        .map(|r| r.stats.spans_export_failed + r.stats.spans_dropped_unexported)
        .sum();
    assert_eq!(dropped, 0, "a healthy receiver loses nothing");
    // Bugsink takes error events and refuses transactions (its rate limits): the Sentry figures
    // say which kind was dropped, and no error event is among the drops.
    for report in &reports {
        let sentry = report.sentry.as_ref().expect("a Sentry pipeline");
        let by_kind = sentry.rate_limited_by_kind;
        assert_eq!(by_kind.event, 0, "no error event refused: {sentry:#?}");
        assert!(
            by_kind.transaction > 0,
            "transactions refused, counted: {sentry:#?}"
        );
        assert_eq!(
            sentry.dropped_total, sentry.dropped.rate_limited,
            "nothing else dropped: {sentry:#?}"
        );
    }

    let spans = eventually(ARRIVAL, || {
        let spans = peers.spans_of(&service);
        (spans.len() as u64 >= exported).then_some(spans)
    })
    .unwrap_or_else(|| panic!("otelite did not receive all {exported} spans of {service}"));
    assert_eq!(
        spans.len() as u64,
        exported,
        "every exported span arrived exactly once"
    );

    let mut instances = BTreeSet::new();
    for pid in &workers {
        let mine: Vec<&Value> = spans
            .iter()
            .filter(|s| attr(s, "process.pid") == pid.to_string().as_str())
            .collect();
        assert!(!mine.is_empty(), "worker {pid} delivered spans");
        for span in &mine {
            assert_eq!(attr(span, "service.version"), env!("CARGO_PKG_VERSION"));
            instances.insert(
                attr(span, "service.instance.id")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        assert!(mine.iter().any(|s| s["name"] == "worker.boot"));
    }
    assert_eq!(instances.len(), 3, "one service.instance.id per worker");

    // Parent/child: every "load order" span is the child of a "GET /work" span of its trace.
    let by_id: BTreeMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["span_id"].as_str().unwrap_or(""), s))
        .collect();
    let children: Vec<&Value> = spans.iter().filter(|s| s["name"] == "load order").collect();
    assert_eq!(children.len(), 36);
    for child in children {
        let parent = by_id
            .get(child["parent_span_id"].as_str().unwrap_or(""))
            .expect("the parent arrived");
        assert_eq!(parent["name"], "GET /work");
        assert_eq!(parent["trace_id"], child["trace_id"]);
    }

    // Bugsink: release, environment and the trace context of the span that was active.
    let events = eventually(ARRIVAL, || {
        let events = peers.events_in(&service);
        // 3 boots + 4 failures + 1 panic
        (events.len() >= 8).then_some(events)
    })
    .unwrap_or_else(|| panic!("Bugsink did not receive the events of {service}"));
    let release = format!("forkline-tests@{}", env!("CARGO_PKG_VERSION"));
    let mut kinds = BTreeMap::new();
    for event in &events {
        assert_eq!(event["release"], release.as_str());
        let trace = &event["contexts"]["trace"];
        let span = by_id
            .get(trace["span_id"].as_str().unwrap_or(""))
            .unwrap_or_else(|| panic!("no span for the event's trace context {trace}"));
        assert_eq!(span["trace_id"], trace["trace_id"]);
        let name = span["name"].as_str().unwrap_or("").to_string();
        if name == "worker.boot" {
            let pid = attr(span, "process.pid")
                .as_str()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            assert!(workers.contains(&pid), "boot event of a worker");
        }
        *kinds.entry(name).or_insert(0) += 1;
    }
    assert_eq!(kinds.get("worker.boot"), Some(&3), "{kinds:?}");
    assert_eq!(kinds.get("GET /fail"), Some(&4), "{kinds:?}");
    assert_eq!(kinds.get("GET /panic"), Some(&1), "{kinds:?}");
}

#[test]
fn the_quickstart_works_unchanged_against_the_real_servers() {
    let peers = Peers::from_env();
    let service = unique("e2e-quickstart");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["run", "--quiet", "--example", "quickstart"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &peers.otlp_endpoint)
        .env("SENTRY_DSN", &peers.sentry_dsn)
        .env("OTEL_SERVICE_NAME", &service)
        .env("SENTRY_ENVIRONMENT", &service)
        .env_remove("FORKLINE_DIR")
        .output()
        .expect("run the quickstart");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !stdout.contains("spans-"),
        "no local span files when an endpoint is set:\n{stdout}"
    );
    let spans = eventually(ARRIVAL, || {
        let spans = peers.spans_of(&service);
        (spans.len() >= 199).then_some(spans)
    })
    .expect("the quickstart's spans reached otelite");
    assert!(spans
        .iter()
        .all(|s| attr(s, "service.name") == service.as_str()));
    let events = eventually(ARRIVAL, || {
        let events = peers.events_in(&service);
        (events.len() >= 10).then_some(events)
    })
    .expect("the quickstart's 9 errors and 1 panic reached Bugsink");
    assert_eq!(events.len(), 10);
}

fn python_client(peers: &Peers, args: &[&str]) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/client.py");
    let output = Command::new(&peers.python)
        .arg(script)
        .args(args)
        .output()
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client prints JSON")
}

#[test]
fn a_python_client_and_forkline_share_one_trace_over_w3c_and_sentry_headers() {
    let peers = Peers::from_env();
    let (fx, service) = start_against(BIN, &peers, "e2e-python", "2", &[]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let url = format!("http://{addr}/work");
    let client_service = format!("{service}-client");
    let w3c = python_client(
        &peers,
        &["w3c", &url, &peers.otlp_endpoint, &client_service],
    );
    let sentry = python_client(&peers, &["sentry", &url, &peers.sentry_dsn]);
    stop(fx);
    assert_eq!(w3c["status"], 200);
    assert_eq!(sentry["status"], 200);

    for (via, call) in [
        ("W3C traceparent", &w3c),
        ("sentry-trace + baggage", &sentry),
    ] {
        let trace_id = call["trace_id"].as_str().expect("trace id");
        let spans = eventually(ARRIVAL, || {
            let spans = peers.trace(trace_id);
            spans
                .iter()
                .any(|s| s["name"] == "GET /work")
                .then_some(spans)
        })
        .unwrap_or_else(|| {
            panic!("no forkline span in the Python client's trace {trace_id} ({via})")
        });
        let server = spans
            .iter()
            .find(|s| s["name"] == "GET /work")
            .expect("server span");
        assert_eq!(
            server["parent_span_id"], call["span_id"],
            "{via}: the parent is the Python client's span"
        );
        assert_eq!(attr(server, "service.name"), service.as_str());
    }
    // With W3C, the Python span itself is in otelite, in the same trace.
    let trace = peers.trace(w3c["trace_id"].as_str().unwrap_or(""));
    let client = trace
        .iter()
        .find(|s| s["name"] == "python.call")
        .expect("the Python span arrived");
    assert_eq!(attr(client, "service.name"), client_service.as_str());
}

/// The outermost exception of a stored event.
fn outermost(event: &Value) -> &Value {
    event["exception"]["values"]
        .as_array()
        .and_then(|v| v.last())
        .unwrap_or(&Value::Null)
}

#[test]
fn error_events_in_bugsink_have_the_handlers_stack_each_cause_and_the_mechanism() {
    let peers = Peers::from_env();
    let (fx, service) = start_against(BIN, &peers, "e2e-stacks", "1", &[]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    assert_eq!(http_get(addr, "/err").map(|(s, _)| s).ok(), Some(500));
    assert!(http_get(addr, "/panic").is_err());
    // Both events wait for their stacks; stopping sooner would race the resolution against the
    // stop's deadline (an event past it goes out without its stack, counted).
    forkline_tests::harness::stacks_settled(addr, 2);
    stop(fx);

    let events = eventually(ARRIVAL, || {
        let events = peers.events_in(&service);
        // 1 boot + 1 error + 1 panic
        (events.len() >= 3).then_some(events)
    })
    .unwrap_or_else(|| panic!("Bugsink did not receive the events of {service}"));

    let error = events
        .iter()
        .find(|e| outermost(e)["value"] == "order 77 lookup failed")
        .unwrap_or_else(|| panic!("no /err event in {events:#?}"));
    // Error is the protocol's default level, which the SDK leaves out of the JSON.
    assert!(
        error["level"].is_null() || error["level"] == "error",
        "{}",
        error["level"]
    );
    let chain: Vec<(&str, &str)> = error["exception"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or(""),
                e["value"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        chain,
        [
            ("DiskUnreadable", "disk 3 unreadable"),
            ("OrderLookupFailed", "order 77 lookup failed"),
        ],
        "each cause its own exception"
    );
    let top = outermost(error);
    assert_eq!(top["mechanism"]["type"], "forkline.handler");
    assert_eq!(top["mechanism"]["handled"], true);
    assert_eq!(
        top["mechanism"]["data"]["forkline.stacktrace"],
        "capture_site"
    );
    assert_eq!(error["tags"]["forkline.stacktrace"], "capture_site");
    let frames = frames_of(top);
    assert!(
        has_in_app_frame(&frames, "forkline_tests::fixture::lookup_order"),
        "the handler is an in-app frame: {frames:#?}"
    );
    assert!(
        frames.iter().all(|f| !f["function"]
            .as_str()
            .is_some_and(|n| n.starts_with("forkline::") || n.starts_with("tokio::"))),
        "forkline's and tokio's frames are trimmed: {frames:#?}"
    );

    let panic = events
        .iter()
        .find(|e| outermost(e)["value"] == "handler panicked on purpose")
        .unwrap_or_else(|| panic!("no panic event in {events:#?}"));
    let top = outermost(panic);
    assert_eq!(top["mechanism"]["type"], "panic");
    assert_eq!(top["mechanism"]["handled"], false);
    // worker_init's in_app_include: the application's frames are in-app, the rest not.
    let frames = frames_of(top);
    assert!(
        has_in_app_frame(&frames, "forkline_tests::fixture::boom"),
        "the panicking handler is an in-app frame: {frames:#?}"
    );
    assert!(
        frames.iter().all(|f| f["in_app"] != true
            || f["function"]
                .as_str()
                .is_some_and(|n| n.starts_with("forkline_tests::"))),
        "only the application's frames are in-app: {frames:#?}"
    );
    // The span link: the panic's trace context is the server span it happened in.
    let trace = &panic["contexts"]["trace"];
    let spans = eventually(ARRIVAL, || {
        let spans = peers.spans_of(&service);
        spans
            .iter()
            .any(|s| s["name"] == "GET /panic")
            .then_some(spans)
    })
    .expect("the /panic span reached otelite");
    let linked = spans
        .iter()
        .find(|s| s["span_id"] == trace["span_id"])
        .unwrap_or_else(|| panic!("no span for the panic's trace context {trace}"));
    assert_eq!(linked["name"], "GET /panic");
    assert_eq!(linked["trace_id"], trace["trace_id"]);
}

/// Credentials sent with the requests of the next test; none may reach Bugsink.
const SECRET_HEADERS: &[(&str, &str)] = &[
    ("Authorization", "Bearer e2e-secret-1"),
    ("Proxy-Authorization", "Basic e2e-secret-2"),
    ("Cookie", "session=e2e-secret-3"),
    ("X-Api-Key", "e2e-secret-4"),
    ("X-Request-Id", "e2e-req-9"),
];

#[test]
fn err_and_panic_events_in_bugsink_have_the_route_as_transaction_and_the_request_without_credentials(
) {
    let peers = Peers::from_env();
    let (fx, service) = start_against(BIN, &peers, "e2e-request", "1", &[]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    let get = |path: &str| forkline_examples::http_get_with(addr, path, SECRET_HEADERS);
    assert_eq!(
        get("/orders/88/refuse?card=4111-1111-1111")
            .map(|(s, _)| s)
            .ok(),
        Some(500)
    );
    assert_eq!(
        get("/orders/89/explode?card=4111-1111-1111")
            .map(|(s, _)| s)
            .ok(),
        Some(500)
    );
    stop(fx);

    let events = eventually(ARRIVAL, || {
        let events = peers.events_in(&service);
        // 1 boot + the handler's error (the layer sends no second event for its 500) + 1 panic
        (events.len() >= 3).then_some(events)
    })
    .unwrap_or_else(|| panic!("Bugsink did not receive the events of {service}"));
    for (value, route, path) in [
        (
            "order 88 refused",
            "/orders/{id}/refuse",
            "/orders/88/refuse",
        ),
        (
            "order exploded on purpose",
            "/orders/{id}/explode",
            "/orders/89/explode",
        ),
    ] {
        let event = events
            .iter()
            .find(|e| outermost(e)["value"] == value)
            .unwrap_or_else(|| panic!("no {value:?} event in {events:#?}"));
        assert_eq!(event["transaction"], route, "{value}: {event:#}");
        let request = &event["request"];
        assert_eq!(request["method"], "GET", "{value}: {request:#}");
        let url = request["url"].as_str().unwrap_or_default();
        assert!(url.contains(path), "{value}: {url}");
        assert_eq!(
            request["query_string"], "card=[Filtered]",
            "{value}: {request:#}"
        );
        let text = request.to_string().to_ascii_lowercase();
        assert!(
            text.contains("e2e-req-9"),
            "{value}: the plain headers: {request:#}"
        );
        // The card number has dashes so that no random port (44111) can look like it.
        assert!(
            !text.contains("4111-1111-1111"),
            "{value}: a query value: {request:#}"
        );
        let whole = event.to_string();
        assert!(
            !whole.contains("e2e-secret"),
            "{value}: a credential reached Bugsink: {whole}"
        );
    }
    assert_eq!(events.len(), 3, "one event per failure: {events:#?}");
}

#[cfg(feature = "tracing")]
#[test]
fn a_tracing_error_in_a_handler_reaches_bugsink_linked_to_the_request_with_its_breadcrumbs() {
    let peers = Peers::from_env();
    let (fx, service) = start_against(BIN, &peers, "e2e-tracing", "1", &[]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    let (status, trace_id) = forkline_examples::http_get_with(addr, "/orders/77/logged", &[])
        .expect("GET /orders/77/logged");
    assert_eq!(status, 200);
    assert_eq!(trace_id.len(), 32, "the request's trace id: {trace_id}");
    let reports = stop(fx);
    // The request behind the layer was a release-health session, sent (aggregated) by the flush
    // at worker exit: Bugsink answers it with 200 and no rate limit for sessions (it stores only
    // events), so nothing of it is dropped.
    let sentry = reports[0].sentry.as_ref().expect("a Sentry pipeline");
    assert_eq!(sentry.rate_limited_by_kind.session, 0, "{sentry:#?}");
    assert_eq!(
        sentry.dropped_total, sentry.dropped.rate_limited,
        "only refused transactions dropped: {sentry:#?}"
    );
    let delivered = sentry.delivered;

    let event = eventually(ARRIVAL, || {
        peers
            .events_in(&service)
            .into_iter()
            .find(|e| e.to_string().contains("order 77 could not be shipped"))
    })
    .unwrap_or_else(|| panic!("Bugsink did not receive the tracing error of {service}"));
    assert_eq!(
        event["contexts"]["trace"]["trace_id"], trace_id,
        "linked to the request's trace: {event:#}"
    );
    assert!(
        event["contexts"]["trace"]["span_id"]
            .as_str()
            .is_some_and(|s| s.len() == 16),
        "linked to a span: {event:#}"
    );
    let crumbs = event["breadcrumbs"]["values"]
        .as_array()
        .or_else(|| event["breadcrumbs"].as_array())
        .cloned()
        .unwrap_or_default();
    let messages: Vec<String> = crumbs
        .iter()
        .map(|c| c["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        messages.iter().any(|m| m == "looking order 77 up"),
        "the info event is a breadcrumb: {messages:?}"
    );
    assert!(
        messages.iter().any(|m| m == "order 77 is late"),
        "the warn event is a breadcrumb: {messages:?}"
    );
    assert!(
        !messages.iter().any(|m| m.contains("debug detail")),
        "debug is below the breadcrumb level: {messages:?}"
    );
    // Bugsink stored the boot event and this error; the worker had one more envelope
    // acknowledged: the session aggregate (its transactions were refused and counted).
    let stored = peers.events_in(&service).len() as u64;
    assert_eq!(stored, 2, "the boot event and the tracing error");
    assert!(
        delivered > stored,
        "the session aggregate was acknowledged too: {delivered} delivered, {stored} stored"
    );
}

/// The stack frames of one exception of an event.
fn frames_of(exception: &Value) -> Vec<Value> {
    exception["stacktrace"]["frames"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether a frame of `function_prefix` is there and marked in-app.
fn has_in_app_frame(frames: &[Value], function_prefix: &str) -> bool {
    frames.iter().any(|f| {
        f["function"]
            .as_str()
            .is_some_and(|n| n.starts_with(function_prefix))
            && f["in_app"] == true
    })
}
