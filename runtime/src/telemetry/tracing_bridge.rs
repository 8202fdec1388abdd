//! The `tracing` bridge (feature `tracing`): code instrumented with `tracing` (its spans,
//! `#[tracing::instrument]`, and libraries such as hyper, tower-http, sqlx, reqwest) flows into
//! the same provider as forkline's own spans, children of whatever OTel span is active; and its
//! events reach Sentry as sentry-python's logging integration does: `ERROR` events (by default)
//! become Sentry error events, linked to the active span by the Sentry span processor, and
//! `INFO`/`WARN` events become breadcrumbs of the next event. With feature `sentry-logs` they are
//! also sent as Sentry structured logs. The levels come from [`SentryConfig`]
//! (`FORKLINE_SENTRY_EVENT_LEVEL`, `FORKLINE_SENTRY_BREADCRUMB_LEVEL`, `FORKLINE_SENTRY_LOG_LEVEL`).
//! `tracing` spans are not turned into Sentry spans here: they reach Sentry through OTel.
//!
//! `tracing` events also become OTel log records through the worker's logger provider
//! (`logs_pipeline`), filtered by target and level as `RUST_LOG` says (`info` by default), by
//! opentelemetry-appender-tracing's layer ([`logs_layer`]). A record carries the trace and span
//! ids of the OTel span active at the event: the SDK's logger reads them from the current OTel
//! context, which holds forkline's request and handler spans while a request is served, and
//! the `tracing` span's own OTel span inside a `tracing` span (the OTel layer activates it on
//! entry).
//!
//! With feature `log`, records of the `log` crate are made `tracing` events too (tracing-log's
//! `LogTracer`, installed as the worker's `log` logger with the subscriber, at the most verbose
//! level `RUST_LOG` lets through), so they take the same paths; their OTel log records have the
//! target `log`, the record's own target in the attribute `log.target`.
//!
//! `worker_init` installs it as the global `tracing` subscriber, after `sentry::init` and the
//! propagators — in each worker, never in the master. A process that already has a subscriber
//! keeps it (forkline logs that it did not install its own); add [`layer`], [`logs_layer`] and
//! [`sentry_layer`] to that subscriber instead.

use crate::config::{LogFilter, LogLevel, SentryConfig, TelemetryConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
use tracing_subscriber::filter::FilterExt as _;
use tracing_subscriber::filter::{FilterFn, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};

/// The OpenTelemetry layer for `tracing`, exporting through `provider`; compose it into your own
/// subscriber (`registry().with(forkline::manual::tracing_layer(&provider))`).
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("forkline-tracing"))
        .with_error_records_to_exceptions(true)
}

/// The OTel logs layer for `tracing`: events that pass `filter` become log records of
/// `provider` (forkline's is [`logger_provider`](crate::telemetry::logs_pipeline::logger_provider));
/// compose it into your own subscriber when you have one.
pub fn logs_layer<S>(
    provider: &SdkLoggerProvider,
    filter: &LogFilter,
) -> impl Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    OpenTelemetryTracingBridge::new(provider).with_filter(targets(filter))
}

fn targets(filter: &LogFilter) -> Targets {
    let level = |l: LogLevel| match l {
        LogLevel::Off => tracing_subscriber::filter::LevelFilter::OFF,
        LogLevel::Error => tracing_subscriber::filter::LevelFilter::ERROR,
        LogLevel::Warn => tracing_subscriber::filter::LevelFilter::WARN,
        LogLevel::Info => tracing_subscriber::filter::LevelFilter::INFO,
        LogLevel::Debug => tracing_subscriber::filter::LevelFilter::DEBUG,
        LogLevel::Trace => tracing_subscriber::filter::LevelFilter::TRACE,
    };
    Targets::new()
        .with_default(level(filter.default))
        .with_targets(filter.targets.iter().map(|(t, l)| (t.clone(), level(*l))))
}

/// Whether a `tracing` level passes a threshold.
fn passes(level: &tracing::Level, threshold: LogLevel) -> bool {
    let rank = match *level {
        tracing::Level::ERROR => LogLevel::Error,
        tracing::Level::WARN => LogLevel::Warn,
        tracing::Level::INFO => LogLevel::Info,
        tracing::Level::DEBUG => LogLevel::Debug,
        tracing::Level::TRACE => LogLevel::Trace,
    };
    threshold != LogLevel::Off && rank <= threshold
}

/// Which `tracing` spans become OTel spans: those at the levels `RUST_LOG` passes (as for
/// events: a library's debug and trace spans are not exported by default), and none made
/// while telemetry is suppressed. Forkline's export threads run suppressed; without the second
/// rule the OTLP/gRPC client's own spans (h2's `try_reclaim_frame`, `hpack::encode`, ... at
/// `RUST_LOG=trace`) would be exported, each export making more.
fn span_filter<S>(filter: &LogFilter) -> impl tracing_subscriber::layer::Filter<S> + Send + Sync
where
    S: tracing::Subscriber,
{
    let unsuppressed = tracing_subscriber::filter::filter_fn(|_: &tracing::Metadata<'_>| {
        !opentelemetry::Context::is_current_telemetry_suppressed()
    });
    targets(filter).and(unsuppressed)
}

type LevelFilter = FilterFn<Box<dyn Fn(&tracing::Metadata<'_>) -> bool + Send + Sync>>;

fn level_filter(keep: impl Fn(&tracing::Level) -> bool + Send + Sync + 'static) -> LevelFilter {
    let keep: Box<dyn Fn(&tracing::Metadata<'_>) -> bool + Send + Sync> =
        Box::new(move |metadata: &tracing::Metadata<'_>| {
            metadata.is_event() && keep(metadata.level())
        });
    tracing_subscriber::filter::filter_fn(keep)
}

/// Sentry's layer for `tracing` events at `config`'s levels: error events, breadcrumbs (events
/// less severe than an error event) and, with feature `sentry-logs`, structured logs. It reports
/// through the current Sentry hub, so build it after `sentry::init`; compose it into your own
/// subscriber when you have one (`registry().with(sentry_layer(&config.sentry))`).
pub fn sentry_layer<S>(config: &SentryConfig) -> impl Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let (event, crumb) = (config.event_level, config.breadcrumb_level);
    let layer = ErrorLayer::new()
        .with_filter(level_filter(move |l| passes(l, event)))
        .and_then(
            BreadcrumbLayer::new()
                .with_filter(level_filter(move |l| passes(l, crumb) && !passes(l, event))),
        );
    #[cfg(feature = "sentry-logs")]
    let layer = {
        let log = config.log_level;
        layer.and_then(
            sentry::integrations::tracing::LogLayer::new()
                .with_filter(level_filter(move |l| passes(l, log))),
        )
    };
    layer
}

/// Installs the bridge as the global `tracing` subscriber: the OTel span layer for this
/// process's tracer provider, the OTel logs layer for its logger provider, and Sentry's layers
/// when a Sentry client is bound. Returns whether it was installed (`false`: none of them, or a
/// subscriber was already set).
pub fn install(config: &TelemetryConfig) -> bool {
    let provider = crate::telemetry::otel_pipeline::current_provider();
    let logger_provider = crate::telemetry::logs_pipeline::logger_provider();
    let sentry_bound = sentry::Hub::main().client().is_some();
    if provider.is_none() && logger_provider.is_none() && !sentry_bound {
        return false;
    }
    let subscriber = tracing_subscriber::registry()
        .with(
            provider
                .as_ref()
                .map(|p| layer(p).with_filter(span_filter(&config.logs.filter))),
        )
        .with(
            logger_provider
                .as_ref()
                .map(|p| logs_layer(p, &config.logs.filter)),
        )
        .with(sentry_bound.then(|| sentry_layer(&config.sentry)));
    match tracing::subscriber::set_global_default(subscriber) {
        Ok(()) => {
            #[cfg(feature = "log")]
            install_log_bridge(&config.logs.filter);
            true
        }
        Err(_) => {
            crate::diag::log_info!(
                "a tracing subscriber is already set: forkline's tracing bridge was not installed; \
                 add forkline::manual::tracing_layer, tracing_logs_layer and tracing_sentry_layer to it"
            );
            false
        }
    }
}

/// Makes `log` records `tracing` events, up to the most verbose level `filter` passes.
#[cfg(feature = "log")]
fn install_log_bridge(filter: &LogFilter) {
    use tracing_log::log::LevelFilter;
    let most = filter
        .targets
        .iter()
        .map(|(_, l)| *l)
        .chain([filter.default])
        .max()
        .unwrap_or(LogLevel::Off);
    let max = match most {
        LogLevel::Off => LevelFilter::Off,
        LogLevel::Error => LevelFilter::Error,
        LogLevel::Warn => LevelFilter::Warn,
        LogLevel::Info => LevelFilter::Info,
        LogLevel::Debug => LevelFilter::Debug,
        LogLevel::Trace => LevelFilter::Trace,
    };
    if tracing_log::LogTracer::builder()
        .with_max_level(max)
        .init()
        .is_err()
    {
        crate::diag::log_info!(
            "a `log` logger is already set: records of the `log` crate do not reach forkline's \
             tracing bridge"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::logs::AnyValue;
    use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
    use opentelemetry::Context;
    use opentelemetry_sdk::logs::InMemoryLogExporter;

    #[test]
    fn events_become_log_records_by_target_and_level_with_the_active_otel_span() {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let filter = LogFilter::parse("warn,checkout=debug").expect("directives");
        let subscriber = tracing_subscriber::registry().with(logs_layer(&provider, &filter));
        let tracer = SdkTracerProvider::builder().build().tracer("test");
        let span = tracer.start("request");
        let expected = span.span_context().clone();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "other", "info is below warn");
            tracing::warn!(target: "other", "warn passes the default");
            tracing::debug!(target: "checkout::db", "debug passes for checkout");
            tracing::trace!(target: "checkout", "trace is below debug");
            let _active = Context::current_with_span(span).attach();
            tracing::warn!(target: "other", n = 7, "inside a request");
        });
        let logs = exporter.get_emitted_logs().expect("logs");
        let bodies: Vec<String> = logs
            .iter()
            .filter_map(|l| match l.record.body() {
                Some(AnyValue::String(s)) => Some(s.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            bodies,
            [
                "warn passes the default",
                "debug passes for checkout",
                "inside a request"
            ]
        );
        assert!(
            logs[0].record.trace_context().is_none(),
            "no span was active"
        );
        let inside = &logs[2].record;
        let cx = inside.trace_context().expect("the active span's ids");
        assert_eq!(
            (cx.trace_id, cx.span_id),
            (expected.trace_id(), expected.span_id())
        );
        assert_eq!(inside.target().map(|t| t.as_ref()), Some("other"));
        assert!(inside
            .attributes_iter()
            .any(|(k, v)| k.as_str() == "n" && *v == AnyValue::Int(7)));
    }

    #[test]
    fn spans_are_made_at_the_levels_rust_log_passes_and_never_while_suppressed() {
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let filter = LogFilter::parse("info,checkout=debug").expect("directives");
        let subscriber =
            tracing_subscriber::registry().with(layer(&provider).with_filter(span_filter(&filter)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!(target: "other", "info_passes").in_scope(|| {});
            tracing::debug_span!(target: "other", "debug_is_below_info").in_scope(|| {});
            tracing::debug_span!(target: "checkout::db", "debug_passes_for_checkout")
                .in_scope(|| {});
            // As on forkline's export threads: every level passes, and still no span. An
            // explicit root's OTel parent is a new context, which does not carry the current
            // one's suppression to the SDK: only the filter stops it.
            let _quiet = Context::enter_telemetry_suppressed_scope();
            tracing::error_span!(target: "other", parent: None, "made_while_suppressed")
                .in_scope(|| {});
        });
        let names: Vec<String> = exporter
            .get_finished_spans()
            .expect("spans")
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(names, ["info_passes", "debug_passes_for_checkout"]);
    }
}
