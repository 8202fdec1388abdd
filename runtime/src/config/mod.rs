//! Configuration: standard `OTEL_*` / `SENTRY_*` variables, hook arguments as defaults, explicit
//! code over both, and development / production profiles underneath. Resolved once, in the
//! master, before any fork: a bad value stops start-up with an error naming its source.

pub(crate) mod embedded;
pub(crate) mod env;
pub(crate) mod guard;
pub(crate) mod otel;
pub(crate) mod overrides;
pub(crate) mod profile;
pub(crate) mod propagators;
pub(crate) mod sentry;

use crate::error::Result;
use crate::lifecycle::hooks::SentryArgs;
use crate::lifecycle::plan::Plan;
use std::path::PathBuf;
use std::time::Duration;

pub use embedded::{
    DEFAULT_EMBEDDED_BUDGET_BYTES, DEFAULT_EMBEDDED_TOTAL_BUDGET_WORKERS, MIN_EMBEDDED_BUDGET_BYTES,
};
pub use env::Env;
pub use guard::GuardSettings;
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
    /// Built once in the master before forking (see `telemetry::prepared`).
    pub(crate) prepared: crate::telemetry::prepared::Prepared,
}

impl TelemetryConfig {
    /// Resolves the configuration of this binary's hooks against `env` and `code`.
    pub(crate) fn resolve(env: &Env, plan: &Plan, code: &Telemetry) -> Result<Self> {
        let profile = match code.profile {
            Some(p) => p,
            None => Profile::from_env(env)?,
        };
        let user_crate = plan.user_crate();
        let otel_args = plan.post_fork.map(|h| h.otel).unwrap_or_default();
        let sentry_args = plan
            .worker_init
            .map(|h| h.sentry)
            .unwrap_or(SentryArgs::DEFAULT);
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
        let propagators = propagators::resolve(env, plan.worker_init.and_then(|h| h.propagators))?;
        let worker_exit_deadline = code
            .worker_exit_deadline
            .or(plan
                .worker_exit
                .and_then(|h| h.deadline_ms)
                .map(Duration::from_millis))
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
        Self::resolve(env, &Plan::empty(), code)
    }

    /// Builds, once, what every worker will share through fork (the guarded paths' HTTP clients,
    /// with their TLS trust store). Thread-free: call it in the master, before forking.
    /// `Server::serve` does; code that forks by itself may.
    pub fn prepare(&mut self) -> Result<()> {
        self.prepared = crate::telemetry::prepared::Prepared::build(self)?;
        Ok(())
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
