//! The telemetry arguments the lifecycle macros write into their hooks (`post_fork(...)`,
//! `worker_init(sentry(...), propagators = ...)`, `worker_exit(deadline_ms = ...)`), checked at
//! compile time: the middle source of every setting, between the environment and code.

use crate::config::guard::GuardSettings;

/// Every hook argument that configuration reads, gathered from the binary's hooks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HookArgs {
    pub(crate) otel: OtelArgs,
    pub(crate) sentry: SentryArgs,
    /// `worker_init(propagators = "...")`.
    pub(crate) propagators: Option<&'static str>,
    /// `worker_exit(deadline_ms = ...)`.
    pub(crate) worker_exit_deadline_ms: Option<u64>,
    /// The name and version of the crate that defined the hooks.
    pub(crate) user_crate: Option<(&'static str, &'static str)>,
}

impl HookArgs {
    /// No hooks at all.
    pub(crate) const NONE: Self = Self {
        otel: OtelArgs::NONE,
        sentry: SentryArgs::DEFAULT,
        propagators: None,
        worker_exit_deadline_ms: None,
        user_crate: None,
    };
}

/// `post_fork` arguments, checked at compile time.
#[derive(Debug, Clone, Copy, Default)]
pub struct OtelArgs {
    /// `service.name`.
    pub service_name: Option<&'static str>,
    /// `service.version`.
    pub service_version: Option<&'static str>,
    /// `deployment.environment.name`, and the profile's name.
    pub environment: Option<&'static str>,
    /// An `OTEL_TRACES_SAMPLER` name.
    pub sampler: Option<&'static str>,
    /// The ratio for ratio samplers.
    pub ratio: Option<f64>,
    /// `otlp`, `embedded` or `none`.
    pub exporter: Option<&'static str>,
    /// The OTLP base endpoint (each signal's path appended over HTTP, as it is over gRPC).
    pub endpoint: Option<&'static str>,
    /// The OTLP path's guard (`guard(...)`).
    pub guard: GuardSettings,
    /// `metrics(...)`.
    pub metrics: MetricsArgs,
    /// `logs(...)`.
    pub logs: LogsArgs,
}

/// `post_fork(metrics(...))` arguments, checked at compile time.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsArgs {
    /// `otlp`, `embedded` or `none` (`OTEL_METRICS_EXPORTER`).
    pub exporter: Option<&'static str>,
    /// The export interval (`OTEL_METRIC_EXPORT_INTERVAL`).
    pub interval_ms: Option<u64>,
    /// The export timeout (`OTEL_METRIC_EXPORT_TIMEOUT`).
    pub timeout_ms: Option<u64>,
    /// `cumulative`, `delta` or `lowmemory`.
    pub temporality: Option<&'static str>,
}

impl MetricsArgs {
    /// No options given.
    pub const NONE: Self = Self {
        exporter: None,
        interval_ms: None,
        timeout_ms: None,
        temporality: None,
    };
}

/// `post_fork(logs(...))` arguments, checked at compile time.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogsArgs {
    /// `otlp`, `embedded` or `none` (`OTEL_LOGS_EXPORTER`).
    pub exporter: Option<&'static str>,
    /// A RUST_LOG-style filter (`RUST_LOG`).
    pub level: Option<&'static str>,
    /// The batch delay (`OTEL_BLRP_SCHEDULE_DELAY`).
    pub schedule_delay_ms: Option<u64>,
}

impl LogsArgs {
    /// No options given.
    pub const NONE: Self = Self {
        exporter: None,
        level: None,
        schedule_delay_ms: None,
    };
}

/// Where the Sentry DSN comes from.
#[derive(Debug, Clone, Copy)]
pub enum DsnArg {
    /// Written in the source.
    Literal(&'static str),
    /// Read from this environment variable at start-up.
    Env(&'static str),
}

/// `worker_init(sentry(...))` arguments, checked at compile time.
#[derive(Debug, Clone, Copy)]
pub struct SentryArgs {
    /// `false` leaves Sentry off.
    pub enabled: Option<bool>,
    /// The DSN.
    pub dsn: Option<DsnArg>,
    /// Sentry's environment.
    pub environment: Option<&'static str>,
    /// Sentry's release.
    pub release: Option<&'static str>,
    /// Share of transactions sent to Sentry.
    pub traces_sample_rate: Option<f64>,
    /// Share of error events sent to Sentry.
    pub sample_rate: Option<f64>,
    /// Sentry's debug logging.
    pub debug: Option<bool>,
    /// The Sentry transport's guard (`guard(...)`).
    pub guard: GuardSettings,
}

impl OtelArgs {
    /// No options given.
    pub const NONE: Self = Self {
        service_name: None,
        service_version: None,
        environment: None,
        sampler: None,
        ratio: None,
        exporter: None,
        endpoint: None,
        guard: GuardSettings::NONE,
        metrics: MetricsArgs::NONE,
        logs: LogsArgs::NONE,
    };
}

impl SentryArgs {
    /// No options given.
    pub const DEFAULT: Self = Self {
        enabled: None,
        dsn: None,
        environment: None,
        release: None,
        traces_sample_rate: None,
        sample_rate: None,
        debug: None,
        guard: GuardSettings::NONE,
    };
}
