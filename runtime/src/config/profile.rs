//! Development and production profiles: the defaults under every other source.

use crate::config::env::Env;
use crate::error::Result;
use std::time::Duration;

/// Which set of defaults applies (`FORKLINE_PROFILE`; without it, the build decides:
/// development in a debug build, production in a release build, as sentry-rust chooses its
/// default environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Profile {
    /// Sample everything, talk about what happens, write telemetry locally by default.
    Development,
    /// Sample a tenth of new traces, log only state changes and problems.
    Production,
}

impl Profile {
    pub(crate) fn from_env(env: &Env) -> Result<Self> {
        Self::from_env_in_build(env, cfg!(debug_assertions))
    }

    /// `FORKLINE_PROFILE`, else the default of the build: `debug_assertions` on (a debug build)
    /// gives development, off (a release build) production.
    pub(crate) fn from_env_in_build(env: &Env, debug_assertions: bool) -> Result<Self> {
        match env
            .get("FORKLINE_PROFILE")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(Self::of_build(debug_assertions)),
            Some("development" | "dev") => Ok(Self::Development),
            Some("production" | "prod") => Ok(Self::Production),
            Some(_) => Err(env.invalid("FORKLINE_PROFILE", "expected development or production")),
        }
    }

    /// The profile of a build with or without `debug_assertions` (sentry-rust's rule for its
    /// default environment).
    pub fn of_build(debug_assertions: bool) -> Self {
        if debug_assertions {
            Self::Development
        } else {
            Self::Production
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_the_variable_the_build_decides() -> Result<()> {
        let none = Env::from_pairs([("UNRELATED", "1")]);
        assert_eq!(
            Profile::from_env_in_build(&none, true)?,
            Profile::Development
        );
        assert_eq!(
            Profile::from_env_in_build(&none, false)?,
            Profile::Production
        );
        // This test binary is a debug build.
        assert_eq!(
            Profile::from_env(&none)?,
            Profile::of_build(cfg!(debug_assertions))
        );
        Ok(())
    }

    #[test]
    fn the_variable_wins_over_the_build() -> Result<()> {
        let dev = Env::from_pairs([("FORKLINE_PROFILE", "Development")]);
        assert_eq!(
            Profile::from_env_in_build(&dev, false)?,
            Profile::Development
        );
        let prod = Env::from_pairs([("FORKLINE_PROFILE", "prod")]);
        assert_eq!(
            Profile::from_env_in_build(&prod, true)?,
            Profile::Production
        );
        let bad = Env::from_pairs([("FORKLINE_PROFILE", "staging")]);
        assert!(Profile::from_env_in_build(&bad, true).is_err());
        Ok(())
    }
}
