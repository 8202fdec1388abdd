//! The `tracing` bridge across a real fork: `worker_init` installs it, and a function
//! instrumented only with `#[tracing::instrument]` shows up in the worker's spans as a child of
//! the OTel server span that was active, with its fields and events.
#![cfg(feature = "tracing")]

use forkline_tests::harness::{http_get, read_spans, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");
const BOOT: Duration = Duration::from_secs(30);

#[test]
fn tracing_spans_join_the_otel_trace_in_every_worker() {
    let mut fx = Fixture::start(BIN, &[("FORKLINE_WORKERS", "2")]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    for _ in 0..6 {
        assert_eq!(http_get(addr, "/traced").expect("GET"), (200, "42".into()));
    }
    fx.stop();
    let dir = fx.run_dir();
    let mut checked = 0;
    for pid in fx.booted_workers() {
        let spans = read_spans(&dir, pid);
        for step in spans.iter().filter(|s| s["name"] == "traced_step") {
            let parent = spans
                .iter()
                .find(|s| s["spanId"] == step["parentSpanId"])
                .unwrap_or_else(|| {
                    panic!("the tracing span's parent is in the same worker: {step}")
                });
            assert_eq!(parent["name"], "GET /traced");
            assert_eq!(parent["traceId"], step["traceId"]);
            let attributes = forkline_tests::harness::attributes(&step["attributes"]);
            assert_eq!(attributes["order.id"], "41", "{step}");
            let events = step["events"].as_array().cloned().unwrap_or_default();
            assert!(
                events.iter().any(|e| e["name"] == "inside the traced step"),
                "{step}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6, "every request's tracing span was exported");
}

/// The levels, in-process: a Sentry client with a transport that keeps what it is given, and
/// forkline's Sentry layer at the configured levels as the thread's subscriber.
fn captured_with(
    event_level: forkline::LogLevel,
    breadcrumb_level: forkline::LogLevel,
    emit: impl FnOnce(),
) -> Vec<sentry::protocol::Event<'static>> {
    use std::sync::Arc;
    use tracing_subscriber::layer::SubscriberExt;
    let kept = Arc::new(forkline_tests::sentry_capture::KeptEnvelopes::default());
    let client = sentry::Client::from(
        sentry::ClientOptions::new()
            .dsn("https://public@sentry.invalid/1")
            .transport(kept.clone()),
    );
    let hub = Arc::new(sentry::Hub::new(
        Some(Arc::new(client)),
        Arc::new(sentry::Scope::default()),
    ));
    let mut config = forkline::config::TelemetryConfig::from_env(
        &forkline::config::Env::from_pairs::<&str, &str>([]),
        &forkline::Telemetry::new(),
    )
    .expect("config")
    .sentry;
    config.event_level = event_level;
    config.breadcrumb_level = breadcrumb_level;
    let subscriber =
        tracing_subscriber::registry().with(forkline::manual::tracing_sentry_layer(&config));
    sentry::Hub::run(hub, || tracing::subscriber::with_default(subscriber, emit));
    kept.events_mentioning("")
}

#[test]
fn errors_become_events_with_the_earlier_info_and_warn_events_as_breadcrumbs() {
    use forkline::LogLevel;
    let events = captured_with(LogLevel::Error, LogLevel::Info, || {
        tracing::debug!("bridge debug detail");
        tracing::info!("bridge info step");
        tracing::warn!("bridge warn step");
        tracing::error!("bridge failure");
    });
    assert_eq!(events.len(), 1, "only the error is an event: {events:#?}");
    let crumbs: Vec<_> = events[0]
        .breadcrumbs
        .values
        .iter()
        .filter_map(|b| b.message.clone())
        .collect();
    assert_eq!(crumbs, ["bridge info step", "bridge warn step"]);
}

#[test]
fn the_levels_are_configurable() {
    use forkline::LogLevel;
    let events = captured_with(LogLevel::Warn, LogLevel::Off, || {
        tracing::info!("bridge quiet info");
        tracing::warn!("bridge loud warn");
    });
    assert_eq!(events.len(), 1, "{events:#?}");
    assert!(events[0].breadcrumbs.values.is_empty(), "breadcrumbs off");
    let events = captured_with(LogLevel::Off, LogLevel::Info, || {
        tracing::error!("bridge unreported error");
    });
    assert!(events.is_empty(), "events off: {events:#?}");
}
