//! Development and production profiles: the defaults under every other source.

use crate::config::env::Env;
use crate::error::Result;
use std::time::Duration;

/// Which set of defaults applies (`FORKLINE_PROFILE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Sample everything, talk about what happens, write telemetry locally by default.
    Development,
    /// Sample a tenth of new traces, log only state changes and problems.
    Production,
}

impl Profile {
    pub(crate) fn from_env(env: &Env) -> Result<Self> {
        match env
            .get("FORKLINE_PROFILE")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("development" | "dev") => Ok(Self::Development),
            Some("production" | "prod") => Ok(Self::Production),
            Some(_) => Err(env.invalid("FORKLINE_PROFILE", "expected development or production")),
        }
    }

    /// The name used as the default deployment environment.
    pub fn name(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Production => "production",
        }
    }

    pub(crate) fn default_sampler(self) -> (&'static str, f64) {
        match self {
            Self::Development => ("parentbased_always_on", 1.0),
            Self::Production => ("parentbased_traceidratio", 0.1),
        }
    }

    pub(crate) fn default_traces_sample_rate(self) -> f64 {
        match self {
            Self::Development => 1.0,
            Self::Production => 0.1,
        }
    }

    pub(crate) fn default_worker_exit_deadline(self) -> Duration {
        match self {
            Self::Development => Duration::from_millis(2000),
            Self::Production => Duration::from_millis(5000),
        }
    }

    /// Whether to print the per-worker lifecycle lines.
    pub(crate) fn verbose(self) -> bool {
        self == Self::Development
    }
}
