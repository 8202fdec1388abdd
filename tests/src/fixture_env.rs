//! Fixture servers set up for measuring the server itself.

use crate::harness::Fixture;

/// A fixture server (the master-state one, `clean`, in the tests) with `workers` workers and no
/// telemetry files, plus `extra` variables: what is measured is serving, not writing spans.
pub fn quiet_server(binary: &str, workers: &str, extra: &[(&str, &str)]) -> Fixture {
    let mut env = vec![
        ("FORKLINE_WORKERS", workers),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("SENTRY_DSN", ""),
    ];
    env.extend_from_slice(extra);
    Fixture::start(binary, &env)
}
