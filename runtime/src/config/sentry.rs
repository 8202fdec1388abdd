//! Sentry options resolved from code, `SENTRY_*` variables, `worker_init(sentry(...))` and the
//! profile. The DSN is parsed here, in the master, so a bad one stops start-up with a clear error.

use crate::config::env::Env;
use crate::config::hook_args::{DsnArg, SentryArgs};
use crate::config::log_level::LogLevel;
use crate::config::overrides::Telemetry;
use crate::config::profile::Profile;
use crate::error::{Error, Result};
use sentry::types::Dsn;
use std::str::FromStr;

/// The resolved Sentry configuration of every worker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SentryConfig {
    /// Whether `worker_init` initialises Sentry at all.
    pub enabled: bool,
    /// The DSN; `None` sends events to the embedded local sink.
    pub dsn: Option<Dsn>,
    /// Sentry's environment.
    pub environment: String,
    /// Sentry's release (`<crate>@<version>` by default).
    pub release: Option<String>,
    /// Share of transactions sent.
    pub traces_sample_rate: f32,
    /// Share of error events sent.
    pub sample_rate: f32,
    /// Sentry's own debug output.
    pub debug: bool,
    /// Sentry's `send_default_pii`: whether the request of an error event keeps cookies,
    /// credential headers and query values (`SENTRY_SEND_DEFAULT_PII`, off by default).
    pub send_default_pii: bool,
    /// Crates whose stack frames Sentry marks in-app (Sentry's `in_app_include`): the crate that
    /// defines the hooks, so that events whose stack forkline cannot attribute itself (the HTTP
    /// layer's, panics) still point at the application's frames rather than every frame.
    pub in_app_include: Vec<String>,
    /// `tracing` events sent as Sentry error events, linked to the active span
    /// (`FORKLINE_SENTRY_EVENT_LEVEL`, default `error`; feature `tracing`).
    pub event_level: LogLevel,
    /// Less severe `tracing` events kept as breadcrumbs of the next event
    /// (`FORKLINE_SENTRY_BREADCRUMB_LEVEL`, default `info`; feature `tracing`).
    pub breadcrumb_level: LogLevel,
    /// `tracing` events sent as Sentry structured logs (`FORKLINE_SENTRY_LOG_LEVEL`, default
    /// `info`; only with feature `sentry-logs`).
    pub log_level: LogLevel,
}

impl SentryConfig {
    pub(crate) fn resolve(
        env: &Env,
        args: &SentryArgs,
        code: &Telemetry,
        profile: Profile,
        otel_environment: &str,
        user_crate: Option<(&str, &str)>,
    ) -> Result<Self> {
        // `SENTRY_DSN=""` is Sentry's own way of saying "off".
        let disabled_by_env = env.is_set("SENTRY_DSN") && env.get("SENTRY_DSN").is_none();
        let enabled = code
            .sentry_enabled
            .unwrap_or(args.enabled.unwrap_or(true) && !disabled_by_env);

        let dsn_text: Option<(String, String)> = if let Some(dsn) = &code.sentry_dsn {
            Some((dsn.clone(), "Telemetry::sentry_dsn".into()))
        } else if let Some(dsn) = env.get("SENTRY_DSN") {
            Some((dsn.to_string(), "SENTRY_DSN".into()))
        } else {
            match args.dsn {
                Some(DsnArg::Literal(dsn)) if !dsn.is_empty() => {
                    Some((dsn.to_string(), "#[worker_init(sentry(dsn))]".into()))
                }
                Some(DsnArg::Env(var)) => {
                    env.get(var).map(|dsn| (dsn.to_string(), var.to_string()))
                }
                _ => None,
            }
        };
        let dsn = match dsn_text {
            Some((text, source)) if enabled => {
                let dsn = Dsn::from_str(&text).map_err(|e| {
                    // The parse error never contains the DSN, whose key is a secret.
                    Error::config(
                        &source,
                        format!(
                            "not a valid Sentry DSN ({e}); expected \
                             https://PUBLIC_KEY@HOST/PROJECT_ID"
                        ),
                    )
                })?;
                if dsn.scheme() == sentry::types::Scheme::Https {
                    crate::config::tls::check_https("https://", &source)?;
                }
                Some(dsn)
            }
            _ => None,
        };

        let traces_sample_rate = match code.traces_sample_rate {
            Some(r) if (0.0..=1.0).contains(&r) => r,
            Some(_) => {
                return Err(Error::config(
                    "Telemetry::traces_sample_rate",
                    "must be between 0 and 1",
                ))
            }
            None => env
                .probability("SENTRY_TRACES_SAMPLE_RATE")?
                .or(args.traces_sample_rate)
                .unwrap_or(profile.default_traces_sample_rate()),
        };
        let sample_rate = env
            .probability("SENTRY_SAMPLE_RATE")?
            .or(args.sample_rate)
            .unwrap_or(1.0);

        let environment = code
            .environment
            .clone()
            .or_else(|| env.get("SENTRY_ENVIRONMENT").map(str::to_string))
            .or_else(|| args.environment.map(str::to_string))
            .unwrap_or_else(|| otel_environment.to_string());
        let release = env
            .get("SENTRY_RELEASE")
            .map(str::to_string)
            .or_else(|| args.release.map(str::to_string))
            .or_else(|| user_crate.map(|(name, version)| format!("{name}@{version}")));

        Ok(Self {
            enabled,
            dsn,
            environment,
            release,
            traces_sample_rate: traces_sample_rate as f32,
            sample_rate: sample_rate as f32,
            debug: env.bool("SENTRY_DEBUG")?.or(args.debug).unwrap_or(false),
            send_default_pii: match code.send_default_pii {
                Some(on) => on,
                None => env.bool("SENTRY_SEND_DEFAULT_PII")?.unwrap_or(false),
            },
            // Symbols name the crate with `_` where the package name may have `-`.
            in_app_include: user_crate
                .map(|(name, _)| vec![name.replace('-', "_")])
                .unwrap_or_default(),
            event_level: LogLevel::resolve(
                env,
                "FORKLINE_SENTRY_EVENT_LEVEL",
                code.sentry_event_level,
                LogLevel::Error,
            )?,
            breadcrumb_level: LogLevel::resolve(
                env,
                "FORKLINE_SENTRY_BREADCRUMB_LEVEL",
                code.sentry_breadcrumb_level,
                LogLevel::Info,
            )?,
            log_level: LogLevel::resolve(
                env,
                "FORKLINE_SENTRY_LOG_LEVEL",
                code.sentry_log_level,
                LogLevel::Info,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)], args: SentryArgs) -> Result<SentryConfig> {
        SentryConfig::resolve(
            &Env::from_pairs(pairs.iter().copied()),
            &args,
            &Telemetry::default(),
            Profile::Development,
            "development",
            Some(("shop", "2.0.0")),
        )
    }

    /// With `code` over one variable.
    fn resolve_with_code(code: &Telemetry, var: (&str, &str)) -> Result<SentryConfig> {
        SentryConfig::resolve(
            &Env::from_pairs([var]),
            &SentryArgs::DEFAULT,
            code,
            Profile::Development,
            "development",
            None,
        )
    }

    #[test]
    fn send_default_pii_is_off_unless_the_variable_or_code_says_so() -> Result<()> {
        assert!(!resolve(&[], SentryArgs::DEFAULT)?.send_default_pii);
        let on = resolve(&[("SENTRY_SEND_DEFAULT_PII", "true")], SentryArgs::DEFAULT)?;
        assert!(on.send_default_pii);
        let code = Telemetry::default().send_default_pii(false);
        let c = resolve_with_code(&code, ("SENTRY_SEND_DEFAULT_PII", "1"))?;
        assert!(!c.send_default_pii, "code wins");
        Ok(())
    }

    #[test]
    fn tracing_levels_default_to_error_events_and_info_breadcrumbs() -> Result<()> {
        let c = resolve(&[], SentryArgs::DEFAULT)?;
        assert_eq!(
            (c.event_level, c.breadcrumb_level, c.log_level),
            (LogLevel::Error, LogLevel::Info, LogLevel::Info)
        );
        let c = resolve(
            &[
                ("FORKLINE_SENTRY_EVENT_LEVEL", "WARN"),
                ("FORKLINE_SENTRY_BREADCRUMB_LEVEL", "debug"),
                ("FORKLINE_SENTRY_LOG_LEVEL", "off"),
            ],
            SentryArgs::DEFAULT,
        )?;
        assert_eq!(
            (c.event_level, c.breadcrumb_level, c.log_level),
            (LogLevel::Warn, LogLevel::Debug, LogLevel::Off)
        );
        let code = Telemetry::default().sentry_event_level(LogLevel::Off);
        let c = resolve_with_code(&code, ("FORKLINE_SENTRY_EVENT_LEVEL", "info"))?;
        assert_eq!(c.event_level, LogLevel::Off, "code wins");
        let bad = resolve(
            &[("FORKLINE_SENTRY_BREADCRUMB_LEVEL", "loud")],
            SentryArgs::DEFAULT,
        );
        let message = bad.expect_err("not a level").to_string();
        assert!(
            message.contains("FORKLINE_SENTRY_BREADCRUMB_LEVEL"),
            "{message}"
        );
        Ok(())
    }

    #[test]
    fn release_defaults_to_the_user_crate() -> Result<()> {
        let c = resolve(&[], SentryArgs::DEFAULT)?;
        assert_eq!(c.release.as_deref(), Some("shop@2.0.0"));
        assert!(
            c.enabled && c.dsn.is_none(),
            "no DSN means the embedded sink"
        );
        Ok(())
    }

    #[test]
    fn dsn_from_a_named_variable_and_standard_variable_wins() -> Result<()> {
        let args = SentryArgs {
            dsn: Some(DsnArg::Env("MY_DSN")),
            ..SentryArgs::DEFAULT
        };
        let c = resolve(&[("MY_DSN", "https://key@127.0.0.1:9/7")], args)?;
        assert_eq!(
            c.dsn.map(|d| d.project_id().to_string()),
            Some("7".to_string())
        );
        let c = resolve(
            &[
                ("MY_DSN", "https://key@127.0.0.1:9/7"),
                ("SENTRY_DSN", "https://k@h/8"),
            ],
            args,
        )?;
        assert_eq!(
            c.dsn.map(|d| d.project_id().to_string()),
            Some("8".to_string())
        );
        Ok(())
    }

    #[test]
    fn a_bad_dsn_is_a_clear_error_without_the_secret() {
        let err = resolve(
            &[("SENTRY_DSN", "ftp://topsecret@host/1")],
            SentryArgs::DEFAULT,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("SENTRY_DSN") && err.contains("DSN"), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
    }

    #[test]
    fn empty_sentry_dsn_disables() -> Result<()> {
        assert!(!resolve(&[("SENTRY_DSN", "")], SentryArgs::DEFAULT)?.enabled);
        Ok(())
    }

    #[test]
    fn bad_rates_name_the_variable() {
        let err = resolve(&[("SENTRY_TRACES_SAMPLE_RATE", "all")], SentryArgs::DEFAULT)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("SENTRY_TRACES_SAMPLE_RATE"), "{err}");
    }
}
