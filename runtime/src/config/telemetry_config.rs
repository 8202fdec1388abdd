//! `TelemetryConfig`: everything a worker needs to set up its telemetry, resolved once in the
//! master from the environment, the hooks' arguments and code, and what follows from it (where
//! the embedded sink is used, and the warning when a production service only writes files).

use crate::config::embedded;
use crate::config::env::Env;
use crate::config::exporter::ExporterConfig;
use crate::config::guard;
use crate::config::guard_config::GuardConfig;
use crate::config::hook_args::HookArgs;
use crate::config::logs::LogsConfig;
use crate::config::metrics::MetricsConfig;
use crate::config::otel::{self, OtelConfig};
use crate::config::overrides::Telemetry;
use crate::config::prepared::Prepared;
use crate::config::profile::Profile;
use crate::config::propagators::{self, PropagatorKind};
use crate::config::sentry::{self, SentryConfig};
use crate::error::Result;
use std::path::PathBuf;
use std::time::Duration;

/// Everything a worker needs to set up its telemetry, resolved in the master.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TelemetryConfig {
    /// The profile in force.
    pub profile: Profile,
    /// The OTel base.
    pub otel: OtelConfig,
    /// OTel metrics (their exporter, interval, temporality and guard).
    pub metrics: MetricsConfig,
    /// OTel logs (their exporter, batching, `tracing` filter and guard).
    pub logs: LogsConfig,
    /// Sentry.
    pub sentry: SentryConfig,
    /// The propagators installed in `worker_init`.
    pub propagators: Vec<PropagatorKind>,
    /// The guard of the OTLP span path.
    pub otlp_guard: GuardConfig,
    /// The guard of the Sentry transport.
    pub sentry_guard: GuardConfig,
    /// One total deadline for a worker's telemetry flush and shutdown.
    pub worker_exit_deadline: Duration,
    /// Where telemetry files and worker reports go.
    pub run_dir: PathBuf,
    /// The most a worker's embedded sink files hold together; past it the oldest are discarded.
    pub embedded_budget_bytes: u64,
    /// The most the run folder's span and Sentry files hold together before the master deletes
    /// those of workers that have exited, oldest first. Live workers' files are never deleted.
    pub embedded_total_budget_bytes: u64,
    /// Built once in the master before forking (see `config::prepared`).
    pub(crate) prepared: Prepared,
}

impl TelemetryConfig {
    /// Resolves the configuration of this binary's hooks against `env` and `code`.
    pub(crate) fn resolve(env: &Env, hooks: &HookArgs, code: &Telemetry) -> Result<Self> {
        let profile = match code.profile {
            Some(p) => p,
            None => Profile::from_env(env)?,
        };
        let user_crate = hooks.user_crate;
        let (otel_args, sentry_args) = (hooks.otel, hooks.sentry);
        let otel = otel::OtelConfig::resolve(env, &otel_args, code, profile, user_crate)?;
        let sentry = sentry::SentryConfig::resolve(
            env,
            &sentry_args,
            code,
            profile,
            &otel.environment,
            user_crate,
        )?;
        let otlp_guard = guard::resolve_otlp(env, &otel_args.guard, &code.otlp_guard, profile)?;
        let metrics = MetricsConfig::resolve(env, &otel_args, code, otlp_guard)?;
        let logs = LogsConfig::resolve(env, &otel_args, code, otlp_guard)?;
        let sentry_guard = guard::resolve_sentry(&sentry_args.guard, &code.sentry_guard, profile)?;
        let propagators = propagators::resolve(env, hooks.propagators)?;
        let worker_exit_deadline = code
            .worker_exit_deadline
            .or(hooks.worker_exit_deadline_ms.map(Duration::from_millis))
            .unwrap_or(profile.default_worker_exit_deadline());
        let run_dir = match (&code.run_dir, env.get("FORKLINE_DIR")) {
            (Some(dir), _) => dir.clone(),
            (None, Some(dir)) => PathBuf::from(dir),
            (None, None) => default_run_dir(),
        };
        let embedded_budget_bytes = embedded::resolve_budget(env, code)?;
        let embedded_total_budget_bytes =
            embedded::resolve_total_budget(env, code, embedded_budget_bytes)?;
        Ok(Self {
            profile,
            otel,
            metrics,
            logs,
            sentry,
            propagators,
            otlp_guard,
            sentry_guard,
            worker_exit_deadline,
            run_dir,
            embedded_budget_bytes,
            embedded_total_budget_bytes,
            prepared: Default::default(),
        })
    }

    /// Resolves with no hooks, for code that does not use the lifecycle macros.
    pub fn from_env(env: &Env, code: &Telemetry) -> Result<Self> {
        Self::resolve(env, &HookArgs::NONE, code)
    }

    /// Whether spans, metrics, logs or events go to local files.
    pub fn uses_embedded_sink(&self) -> bool {
        self.embedded_spans()
            || self.embedded_metrics()
            || self.embedded_logs()
            || self.embedded_sentry()
    }
}

fn default_run_dir() -> PathBuf {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::env::temp_dir().join(run_folder_name(std::process::id(), started))
}

/// The default run folder's name, in the temporary directory, for a master `pid` started at
/// `secs` since the epoch (the master keeps the newest finished ones: `sink::old_runs`).
pub(crate) fn run_folder_name(pid: u32, secs: u64) -> String {
    format!("forkline-{pid}-{secs}")
}

impl TelemetryConfig {
    /// Whether spans go to `spans-<pid>.jsonl`.
    pub fn embedded_spans(&self) -> bool {
        self.otel.enabled && self.otel.exporter == ExporterConfig::Embedded
    }

    /// Whether metrics go to `metrics-<pid>.jsonl`.
    pub fn embedded_metrics(&self) -> bool {
        self.otel.enabled && self.metrics.exporter == ExporterConfig::Embedded
    }

    /// Whether log records go to `logs-<pid>.jsonl`.
    pub fn embedded_logs(&self) -> bool {
        self.otel.enabled && self.logs.exporter == ExporterConfig::Embedded
    }

    /// Whether Sentry events go to `sentry-<pid>.jsonl`.
    pub fn embedded_sentry(&self) -> bool {
        self.sentry.enabled && self.sentry.dsn.is_none()
    }

    /// The most one embedded file may hold: each sink in use gets an equal share of the worker's
    /// budget, split between its current file and the one rotated file kept behind it, so a
    /// worker's files never add up to more than its budget.
    pub(crate) fn embedded_file_limit(&self) -> u64 {
        let sinks = u64::from(self.embedded_spans())
            + u64::from(self.embedded_metrics())
            + u64::from(self.embedded_logs())
            + u64::from(self.embedded_sentry());
        self.embedded_budget_bytes / (2 * sinks.max(1))
    }

    /// The warning the master logs at start when the production profile sends telemetry to local
    /// files: in production that is almost always a missing variable, not a choice.
    pub(crate) fn production_local_files_warning(&self) -> Option<String> {
        if self.profile != Profile::Production || !self.uses_embedded_sink() {
            return None;
        }
        let what = match (
            self.embedded_spans() || self.embedded_metrics() || self.embedded_logs(),
            self.embedded_sentry(),
        ) {
            (true, true) => {
                "with no OTLP endpoint and no Sentry DSN: telemetry is going to local files only"
            }
            (true, false) => {
                "with no OTLP endpoint: spans, metrics and logs are going to local files only"
            }
            _ => "with no Sentry DSN: Sentry events are going to local files only",
        };
        Some(format!(
            "*** production profile {what} ({}, at most {} bytes per worker, the oldest \
             discarded first). Set OTEL_EXPORTER_OTLP_ENDPOINT and SENTRY_DSN, or turn the files \
             off with OTEL_TRACES_EXPORTER=none, OTEL_METRICS_EXPORTER=none, \
             OTEL_LOGS_EXPORTER=none and SENTRY_DSN=\"\" ***",
            self.run_dir.display(),
            self.embedded_budget_bytes
        ))
    }
}
