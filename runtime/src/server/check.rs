//! Gunicorn's `--check-config`: `Server::check` (or `FORKLINE_CHECK_CONFIG=1` at `serve`)
//! resolves everything a start would (the environment, the hooks' arguments, the telemetry
//! configuration, the address) without binding, forking or starting a thread, and describes the
//! result, secrets hidden: exporters show their URLs without credentials and their headers by
//! name only, the Sentry DSN its host and project without its key. CI pipelines run it.

use crate::config::TelemetryConfig;
use crate::server::settings::Settings;
use std::fmt::Write;

/// The resolved configuration, one setting a line.
pub(crate) fn describe(config: &TelemetryConfig, settings: &Settings) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: String| {
        let _ = writeln!(out, "{key:<28} {value}");
    };
    let binds = settings.binds();
    line(
        "bind",
        if binds.is_empty() {
            "(none: set FORKLINE_BIND or call bind)".into()
        } else {
            binds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    line(
        "unix_socket_mode",
        format!("{:o}", settings.unix_socket_mode),
    );
    line("workers", settings.workers.to_string());
    line(
        "worker_threads",
        settings
            .worker_threads
            .map_or("one per core".into(), |n| n.to_string()),
    );
    let ms = |d: Option<std::time::Duration>| {
        d.map_or("off".into(), |d| format!("{} ms", d.as_millis()))
    };
    line("timeout", ms(settings.timeout));
    line("harakiri", ms(settings.harakiri));
    line("graceful_timeout", ms(Some(settings.graceful_timeout)));
    line("drain_window", ms(Some(settings.drain_window)));
    line(
        "max_requests",
        settings.max_requests.map_or("off".into(), |n| {
            format!("{n} (+ up to {} jitter)", settings.max_requests_jitter)
        }),
    );
    let bytes = |limit: Option<usize>| limit.map_or("off".into(), |n| format!("{n} bytes"));
    line("limit_request_line", bytes(settings.limits.line));
    line(
        "limit_request_fields",
        settings.limits.parser_fields().to_string(),
    );
    line(
        "limit_request_field_size",
        bytes(settings.limits.field_size),
    );
    let mib = |b: Option<u64>| b.map_or("off".into(), |b| format!("{} MiB", b / (1024 * 1024)));
    line("reload_on_rss", mib(settings.reload_on_rss));
    line("evil_reload_on_rss", mib(settings.evil_reload_on_rss));
    line(
        "pidfile",
        settings
            .pidfile
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string()),
    );
    line("profile", config.profile.name().to_string());
    line("run folder", config.run_dir.display().to_string());
    line(
        "service",
        format!(
            "{} {} ({})",
            config.otel.service_name, config.otel.service_version, config.otel.environment
        ),
    );
    line(
        "traces",
        if config.otel.enabled {
            format!(
                "{:?}, sampler {:?}",
                config.otel.exporter, config.otel.sampler
            )
        } else {
            "off".into()
        },
    );
    line("metrics", format!("{:?}", config.metrics.exporter));
    line("logs", format!("{:?}", config.logs.exporter));
    line(
        "sentry",
        match (&config.sentry.enabled, &config.sentry.dsn) {
            (false, _) => "off".into(),
            (true, None) => "local files (no DSN)".into(),
            (true, Some(dsn)) => format!(
                "{}://{}{}/{} (key hidden), environment {}, traces sample rate {}",
                dsn.scheme(),
                dsn.host(),
                if dsn.port() == dsn.scheme().default_port() {
                    String::new()
                } else {
                    format!(":{}", dsn.port())
                },
                dsn.project_id(),
                config.sentry.environment,
                config.sentry.traces_sample_rate
            ),
        },
    );
    line("propagators", format!("{:?}", config.propagators));
    line(
        "worker_exit deadline",
        format!("{} ms", config.worker_exit_deadline.as_millis()),
    );
    out
}
