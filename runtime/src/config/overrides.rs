//! Explicit configuration in code: it wins over environment variables and macro arguments.

use crate::config::guard::GuardSettings;
use crate::config::log_level::{LogFilter, LogLevel};
use crate::config::profile::Profile;
use crate::config::temporality::MetricsTemporality;
use std::path::PathBuf;
use std::time::Duration;

/// Telemetry settings given in code, for `Server::telemetry`. Unset fields fall back to the
/// environment, then to the hooks' arguments, then to the profile.
#[derive(Debug, Clone, Default)]
pub struct Telemetry {
    pub(crate) profile: Option<Profile>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) sampler: Option<(String, Option<f64>)>,
    pub(crate) exporter: Option<String>,
    pub(crate) otlp_endpoint: Option<String>,
    pub(crate) sentry_enabled: Option<bool>,
    pub(crate) sentry_dsn: Option<String>,
    pub(crate) send_default_pii: Option<bool>,
    pub(crate) sentry_event_level: Option<LogLevel>,
    pub(crate) sentry_breadcrumb_level: Option<LogLevel>,
    pub(crate) sentry_log_level: Option<LogLevel>,
    pub(crate) traces_sample_rate: Option<f64>,
    pub(crate) worker_exit_deadline: Option<Duration>,
    pub(crate) run_dir: Option<PathBuf>,
    pub(crate) embedded_budget_bytes: Option<u64>,
    pub(crate) embedded_total_budget_bytes: Option<u64>,
    pub(crate) otlp_guard: GuardSettings,
    pub(crate) sentry_guard: GuardSettings,
    pub(crate) metrics_enabled: Option<bool>,
    pub(crate) metrics_interval: Option<Duration>,
    pub(crate) metrics_temporality: Option<MetricsTemporality>,
    pub(crate) logs_enabled: Option<bool>,
    pub(crate) logs_filter: Option<LogFilter>,
}

impl Telemetry {
    /// Nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The profile whose defaults apply.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// `service.name`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// The deployment environment, for OTel and Sentry alike.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// A sampler by its `OTEL_TRACES_SAMPLER` name, with a ratio for the ratio samplers.
    pub fn sampler(mut self, name: impl Into<String>, ratio: Option<f64>) -> Self {
        self.sampler = Some((name.into(), ratio));
        self
    }

    /// Export spans over OTLP to this base URL, and metrics and logs when they go to OTLP (over
    /// HTTP the signal's path, `/v1/traces`, is appended; over gRPC it is used as it is).
    pub fn otlp_endpoint(mut self, base_url: impl Into<String>) -> Self {
        self.exporter = Some("otlp".into());
        self.otlp_endpoint = Some(base_url.into());
        self
    }

    /// Write spans and Sentry events to files in the run folder, whatever the environment says.
    pub fn embedded(mut self) -> Self {
        self.exporter = Some("embedded".into());
        self.sentry_dsn = None;
        self
    }

    /// Send Sentry events to this DSN.
    pub fn sentry_dsn(mut self, dsn: impl Into<String>) -> Self {
        self.sentry_dsn = Some(dsn.into());
        self
    }

    /// Turn Sentry on or off.
    pub fn sentry_enabled(mut self, enabled: bool) -> Self {
        self.sentry_enabled = Some(enabled);
        self
    }

    /// Sentry's `send_default_pii`: when on, the request of an error event keeps its cookies,
    /// credential headers (`Authorization`, `X-Api-Key`...) and query values. Off by default
    /// (`SENTRY_SEND_DEFAULT_PII`).
    pub fn send_default_pii(mut self, on: bool) -> Self {
        self.send_default_pii = Some(on);
        self
    }

    /// `tracing` events at this level or more severe become Sentry error events, linked to the
    /// active span (feature `tracing`; `FORKLINE_SENTRY_EVENT_LEVEL`, default `Error`).
    pub fn sentry_event_level(mut self, level: LogLevel) -> Self {
        self.sentry_event_level = Some(level);
        self
    }

    /// `tracing` events at this level or more severe, and not events, become breadcrumbs
    /// (feature `tracing`; `FORKLINE_SENTRY_BREADCRUMB_LEVEL`, default `Info`).
    pub fn sentry_breadcrumb_level(mut self, level: LogLevel) -> Self {
        self.sentry_breadcrumb_level = Some(level);
        self
    }

    /// `tracing` events at this level or more severe become Sentry structured logs (feature
    /// `sentry-logs`; `FORKLINE_SENTRY_LOG_LEVEL`, default `Info`).
    pub fn sentry_log_level(mut self, level: LogLevel) -> Self {
        self.sentry_log_level = Some(level);
        self
    }

    /// Share of transactions sent to Sentry.
    pub fn traces_sample_rate(mut self, rate: f64) -> Self {
        self.traces_sample_rate = Some(rate);
        self
    }

    /// `false`: no metrics at all (as `OTEL_METRICS_EXPORTER=none`); `true` leaves where they go
    /// to the other sources.
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics_enabled = Some(enabled);
        self
    }

    /// How often metrics are collected and exported (`OTEL_METRIC_EXPORT_INTERVAL`,
    /// `post_fork(metrics(interval_ms))`; default 60 s).
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.metrics_interval = Some(interval).filter(|i| !i.is_zero());
        self
    }

    /// The metrics' aggregation temporality
    /// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`; default cumulative).
    pub fn metrics_temporality(mut self, temporality: MetricsTemporality) -> Self {
        self.metrics_temporality = Some(temporality);
        self
    }

    /// `false`: no log records at all (as `OTEL_LOGS_EXPORTER=none`).
    pub fn logs(mut self, enabled: bool) -> Self {
        self.logs_enabled = Some(enabled);
        self
    }

    /// Which `tracing` events become log records (`RUST_LOG`, `post_fork(logs(level))`; default
    /// `info`): `LogFilter::parse("warn,my_crate=debug")`.
    pub fn logs_filter(mut self, filter: LogFilter) -> Self {
        self.logs_filter = Some(filter);
        self
    }

    /// The one total deadline for flushing and shutting down a worker's telemetry.
    pub fn worker_exit_deadline(mut self, deadline: Duration) -> Self {
        self.worker_exit_deadline = Some(deadline);
        self
    }

    /// The OTLP span path's guard: what is set here wins over `OTEL_EXPORTER_OTLP_TIMEOUT`,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` and `#[post_fork(guard(...))]`.
    pub fn otlp_guard(mut self, guard: GuardSettings) -> Self {
        self.otlp_guard = guard;
        self
    }

    /// The Sentry transport's guard: what is set here wins over
    /// `#[worker_init(sentry(guard(...)))]`.
    pub fn sentry_guard(mut self, guard: GuardSettings) -> Self {
        self.sentry_guard = guard;
        self
    }

    /// The folder for telemetry files and worker reports.
    pub fn run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(dir.into());
        self
    }

    /// The most a worker's embedded sink files (spans and Sentry events) hold together; past it
    /// the oldest file is discarded and its records counted. Wins over
    /// `FORKLINE_EMBEDDED_BUDGET_BYTES`; default 64 MiB.
    pub fn embedded_budget_bytes(mut self, bytes: u64) -> Self {
        self.embedded_budget_bytes = Some(bytes);
        self
    }

    /// The most the run folder's embedded sink files hold together, all workers counted; past
    /// it the master deletes the files of workers that have exited (crashed and replaced, `HUP`,
    /// `TTOU`), oldest first, never a live worker's. At least the per-worker budget. Wins over
    /// `FORKLINE_EMBEDDED_TOTAL_BUDGET_BYTES`; default 16 per-worker budgets (1 GiB).
    pub fn embedded_total_budget_bytes(mut self, bytes: u64) -> Self {
        self.embedded_total_budget_bytes = Some(bytes);
        self
    }
}
