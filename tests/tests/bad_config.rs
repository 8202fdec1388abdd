//! Bad configuration stops the server at start-up with an error naming the variable, before any
//! worker exists, and nothing panics. Secrets are never echoed.

use forkline_tests::harness::Fixture;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");

fn start_up_error(var: &str, value: &str) -> String {
    let mut fx = Fixture::start(BIN, &[(var, value)]);
    let status = fx
        .wait_exit(Duration::from_secs(20))
        .expect("exits promptly");
    let stderr = fx.stderr();
    assert!(
        !status.success(),
        "{var}={value:?} must be refused\n{stderr}"
    );
    assert!(stderr.contains(var), "the error names {var}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        fx.hooks().iter().all(|h| h.phase != "pre_fork"),
        "refused before any fork"
    );
    stderr
}

#[test]
fn an_invalid_endpoint_url_is_refused() {
    start_up_error("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url");
    start_up_error("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector:4318");
}

#[test]
fn an_invalid_dsn_is_refused_without_showing_it() {
    let stderr = start_up_error("SENTRY_DSN", "ftp://verysecretkey@sentry.example/1");
    assert!(!stderr.contains("verysecretkey"), "{stderr}");
    start_up_error("SENTRY_DSN", "definitely not a dsn");
}

#[test]
fn non_numeric_batch_settings_are_refused() {
    start_up_error("OTEL_BSP_MAX_QUEUE_SIZE", "lots");
    start_up_error("OTEL_BSP_SCHEDULE_DELAY", "-5");
    start_up_error("OTEL_BSP_EXPORT_TIMEOUT", "0");
    start_up_error("OTEL_EXPORTER_OTLP_TIMEOUT", "soon");
}

#[test]
fn bad_logs_settings_are_refused() {
    start_up_error("OTEL_LOGS_EXPORTER", "console");
    start_up_error("OTEL_BLRP_MAX_QUEUE_SIZE", "0");
    start_up_error("OTEL_BLRP_SCHEDULE_DELAY", "soon");
    start_up_error("OTEL_BLRP_EXPORT_TIMEOUT", "-1");
    start_up_error("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "not a url");
    #[cfg(feature = "tracing")]
    start_up_error("RUST_LOG", "info,[span]=debug");
}

#[test]
fn a_bad_sampler_or_propagator_is_refused() {
    start_up_error("OTEL_TRACES_SAMPLER", "sometimes");
    start_up_error("OTEL_PROPAGATORS", "tracecontext,b3");
    start_up_error("SENTRY_TRACES_SAMPLE_RATE", "1.5");
}

#[test]
fn bad_server_settings_are_refused() {
    start_up_error("FORKLINE_WORKERS", "many");
    start_up_error("FORKLINE_WORKER_THREADS", "0");
    start_up_error("FORKLINE_BALANCED_ACCEPT", "sometimes");
    start_up_error("FORKLINE_MAX_REQUESTS_PER_CONNECTION", "-1");
    start_up_error("FORKLINE_ALLOW_THREADS_AT_FORK", "maybe");
    start_up_error("FORKLINE_PROFILE", "staging");
    start_up_error("FORKLINE_EMBEDDED_BUDGET_BYTES", "64MiB");
    start_up_error("FORKLINE_EMBEDDED_BUDGET_BYTES", "100");
}
