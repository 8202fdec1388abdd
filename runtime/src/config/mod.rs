//! Configuration: standard `OTEL_*` / `SENTRY_*` variables, hook arguments as defaults, explicit
//! code over both, and development / production profiles underneath. Resolved once, in the
//! master, before any fork: a bad value stops start-up with an error naming its source.

pub(crate) mod batch;
pub(crate) mod destinations;
pub(crate) mod embedded;
pub(crate) mod endpoint;
pub(crate) mod env;
pub(crate) mod exporter;
pub(crate) mod guard;
pub(crate) mod guard_config;
pub(crate) mod hook_args;
pub(crate) mod log_level;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod otel;
pub(crate) mod otlp_signal;
pub(crate) mod overrides;
pub(crate) mod prepared;
pub(crate) mod profile;
pub(crate) mod propagators;
pub(crate) mod sentry;
pub(crate) mod telemetry_config;
pub(crate) mod temporality;
pub(crate) mod tls;

pub use batch::BatchSettings;
pub use embedded::{
    DEFAULT_EMBEDDED_BUDGET_BYTES, DEFAULT_EMBEDDED_TOTAL_BUDGET_WORKERS, MIN_EMBEDDED_BUDGET_BYTES,
};
pub use endpoint::OtlpProtocol;
pub use env::Env;
pub use exporter::{ExporterConfig, OtlpExporter};
pub use guard::GuardSettings;
pub use guard_config::GuardConfig;
pub use log_level::{LogFilter, LogLevel};
pub use logs::LogsConfig;
pub use metrics::{MetricsConfig, MetricsTemporality};
pub use otel::{OtelConfig, SamplerConfig};
pub use overrides::Telemetry;
pub use profile::Profile;
pub use propagators::PropagatorKind;
pub use sentry::SentryConfig;
pub use telemetry_config::TelemetryConfig;
