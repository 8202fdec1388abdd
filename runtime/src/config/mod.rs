//! Configuration: standard `OTEL_*` / `SENTRY_*` variables, hook arguments as defaults, explicit
//! code over both, and development / production profiles underneath. Resolved once, in the
//! master, before any fork: a bad value stops start-up with an error naming its source.

pub(crate) mod embedded;
pub(crate) mod env;
pub(crate) mod guard;
pub(crate) mod guard_policy;
pub(crate) mod hook_args;
pub(crate) mod otel;
pub(crate) mod overrides;
pub(crate) mod prepared;
pub(crate) mod profile;
pub(crate) mod propagators;
pub(crate) mod sentry;

use crate::error::Result;
use hook_args::HookArgs;
use std::path::PathBuf;
use std::time::Duration;

pub use embedded::{
    DEFAULT_EMBEDDED_BUDGET_BYTES, DEFAULT_EMBEDDED_TOTAL_BUDGET_WORKERS, MIN_EMBEDDED_BUDGET_BYTES,
};
pub use env::Env;
pub use guard::GuardSettings;
pub use guard_policy::GuardPolicy;
pub(crate) use otel::redact_url;
pub use otel::{BatchSettings, ExporterConfig, OtelConfig, OtlpProtocol, SamplerConfig};
pub use overrides::Telemetry;
pub use profile::Profile;
pub use propagators::PropagatorKind;
pub use sentry::SentryConfig;

/// Everything a worker needs to set up its telemetry, resolved in the master.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// The profile in force.
    pub profile: Profile,
    /// The OTel base.
    pub otel: OtelConfig,
    /// Sentry.
    pub sentry: SentryConfig,
    /// The propagators installed in `worker_init`.
    pub propagators: Vec<PropagatorKind>,
    /// The guard of the OTLP span path.
    pub otlp_guard: crate::GuardPolicy,
    /// The guard of the Sentry transport.
    pub sentry_guard: crate::GuardPolicy,
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
    pub(crate) prepared: prepared::Prepared,
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

    /// Whether spans or events go to local files.
    pub fn uses_embedded_sink(&self) -> bool {
        self.embedded_spans() || self.embedded_sentry()
    }
}

fn default_run_dir() -> PathBuf {
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::env::temp_dir().join(format!("forkline-{}-{started}", std::process::id()))
}
