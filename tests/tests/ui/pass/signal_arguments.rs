// `metrics(...)` and `logs(...)` on post_fork: checked at compile time, read at start-up (the
// environment still wins; none of these variables is set here).
#[forkline::post_fork(
    service_name = "shop",
    metrics(interval_ms = 10000, timeout_ms = 5000, temporality = "delta", exporter = "embedded"),
    logs(level = "warn,shop=debug", exporter = "none", schedule_delay_ms = 500)
)]
fn otel() {}

fn main() {
    for key in [
        "OTEL_METRIC_EXPORT_INTERVAL",
        "OTEL_METRIC_EXPORT_TIMEOUT",
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
        "OTEL_BLRP_SCHEDULE_DELAY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "RUST_LOG",
    ] {
        assert!(std::env::var_os(key).is_none(), "{key} is set");
    }
    let config = forkline::Server::from_env()
        .expect("valid")
        .telemetry_config()
        .expect("resolves");
    assert_eq!(config.metrics.interval, std::time::Duration::from_secs(10));
    assert_eq!(
        config.metrics.temporality,
        forkline::config::MetricsTemporality::Delta
    );
    assert!(matches!(
        config.metrics.exporter,
        forkline::config::ExporterConfig::Embedded
    ));
    assert!(matches!(
        config.logs.exporter,
        forkline::config::ExporterConfig::None
    ));
    assert_eq!(
        config.logs.batch.scheduled_delay,
        std::time::Duration::from_millis(500)
    );
}
