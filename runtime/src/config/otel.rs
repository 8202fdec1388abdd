//! The OpenTelemetry base: resource, sampler, exporter and batching, resolved from code,
//! `OTEL_*` variables, `post_fork` arguments and the profile, in that order of precedence.

use crate::config::batch::BatchSettings;
use crate::config::env::Env;
use crate::config::exporter::ExporterConfig;
use crate::config::hook_args::OtelArgs;
use crate::config::otlp_signal;
use crate::config::overrides::Telemetry;
use crate::config::profile::Profile;
use crate::error::{Error, Result};
use std::time::Duration;

/// The resolved OTel configuration of every worker.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OtelConfig {
    /// `false` when `OTEL_SDK_DISABLED=true`: no provider is installed.
    pub enabled: bool,
    /// `service.name`.
    pub service_name: String,
    /// `service.version`.
    pub service_version: String,
    /// `deployment.environment.name`.
    pub environment: String,
    /// Other resource attributes from `OTEL_RESOURCE_ATTRIBUTES`.
    pub extra_resource: Vec<(String, String)>,
    /// The sampler.
    pub sampler: SamplerConfig,
    /// Where spans go.
    pub exporter: ExporterConfig,
    /// Batching of the span processor.
    pub batch: BatchSettings,
}

/// A sampler by its `OTEL_TRACES_SAMPLER` name.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum SamplerConfig {
    /// `always_on`
    AlwaysOn,
    /// `always_off`
    AlwaysOff,
    /// `traceidratio`
    TraceIdRatio(f64),
    /// `parentbased_always_on`
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`
    ParentBasedTraceIdRatio(f64),
}

const SAMPLER_NAMES: &str = "always_on, always_off, traceidratio, parentbased_always_on, \
                             parentbased_always_off, parentbased_traceidratio";

impl SamplerConfig {
    /// From a name and an optional ratio (ratio samplers default to 1.0, as the spec says).
    pub fn from_name(name: &str, ratio: Option<f64>) -> Option<Self> {
        let r = ratio.unwrap_or(1.0);
        Some(match name {
            "always_on" => Self::AlwaysOn,
            "always_off" => Self::AlwaysOff,
            "traceidratio" => Self::TraceIdRatio(r),
            "parentbased_always_on" => Self::ParentBasedAlwaysOn,
            "parentbased_always_off" => Self::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => Self::ParentBasedTraceIdRatio(r),
            _ => return None,
        })
    }

    fn takes_ratio(name: &str) -> bool {
        name.ends_with("traceidratio")
    }
}

impl OtelConfig {
    pub(crate) fn resolve(
        env: &Env,
        args: &OtelArgs,
        code: &Telemetry,
        profile: Profile,
        user_crate: Option<(&str, &str)>,
    ) -> Result<Self> {
        let enabled = !env.bool("OTEL_SDK_DISABLED")?.unwrap_or(false);
        let mut resource = env.key_values("OTEL_RESOURCE_ATTRIBUTES")?;
        let mut take = |key: &str| {
            let found = resource.iter().position(|(k, _)| k == key);
            found.map(|i| resource.remove(i).1)
        };
        let attr_service_name = take("service.name");
        let attr_service_version = take("service.version");
        let attr_environment =
            take("deployment.environment.name").or(take("deployment.environment"));

        let service_name = code
            .service_name
            .clone()
            .or_else(|| env.get("OTEL_SERVICE_NAME").map(str::to_string))
            .or(attr_service_name)
            .or_else(|| args.service_name.map(str::to_string))
            .or_else(|| user_crate.map(|(name, _)| name.to_string()))
            .unwrap_or_else(|| "unknown_service".to_string());
        let service_version = code
            .service_version
            .clone()
            .or(attr_service_version)
            .or_else(|| args.service_version.map(str::to_string))
            .or_else(|| user_crate.map(|(_, version)| version.to_string()))
            .unwrap_or_default();
        let environment = code
            .environment
            .clone()
            .or(attr_environment)
            .or_else(|| args.environment.map(str::to_string))
            .or_else(|| env.get("SENTRY_ENVIRONMENT").map(str::to_string))
            .unwrap_or_else(|| profile.name().to_string());

        Ok(Self {
            enabled,
            service_name,
            service_version,
            environment,
            extra_resource: resource,
            sampler: sampler(env, args, code, profile)?,
            exporter: exporter(env, args, code)?,
            batch: BatchSettings::resolve(env, "OTEL_BSP", Duration::from_secs(5), None)?,
        })
    }
}

fn sampler(
    env: &Env,
    args: &OtelArgs,
    code: &Telemetry,
    profile: Profile,
) -> Result<SamplerConfig> {
    if let Some((name, ratio)) = &code.sampler {
        if let Some(r) = ratio {
            if !(0.0..=1.0).contains(r) {
                return Err(Error::config(
                    "Telemetry::sampler",
                    "the ratio must be between 0 and 1",
                ));
            }
        }
        return SamplerConfig::from_name(name, *ratio).ok_or_else(|| {
            Error::config(
                "Telemetry::sampler",
                format!("unknown sampler {name:?}; known: {SAMPLER_NAMES}"),
            )
        });
    }
    if let Some(name) = env.get("OTEL_TRACES_SAMPLER") {
        let ratio = if SamplerConfig::takes_ratio(name) {
            env.probability("OTEL_TRACES_SAMPLER_ARG")?
        } else {
            None // The spec says the argument is ignored by samplers that take none.
        };
        return SamplerConfig::from_name(name, ratio).ok_or_else(|| {
            env.invalid(
                "OTEL_TRACES_SAMPLER",
                &format!(
                    "expected one of {SAMPLER_NAMES} (forkline does not support remote samplers)"
                ),
            )
        });
    }
    if let Some(name) = args.sampler {
        let ratio = args.ratio;
        return SamplerConfig::from_name(name, ratio).ok_or_else(|| {
            Error::config("#[post_fork(sampler)]", format!("unknown sampler {name:?}"))
        });
    }
    if let Some(ratio) = args.ratio {
        return Ok(SamplerConfig::ParentBasedTraceIdRatio(ratio));
    }
    let (name, ratio) = profile.default_sampler();
    Ok(SamplerConfig::from_name(name, Some(ratio)).unwrap_or(SamplerConfig::ParentBasedAlwaysOn))
}

fn exporter(env: &Env, args: &OtelArgs, code: &Telemetry) -> Result<ExporterConfig> {
    otlp_signal::resolve(
        env,
        args,
        code,
        otlp_signal::TRACES,
        code.exporter.as_deref(),
        args.exporter,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::endpoint::redact_url;
    #[cfg(feature = "grpc")]
    use crate::config::endpoint::OtlpProtocol;

    fn resolve(pairs: &[(&str, &str)]) -> Result<OtelConfig> {
        OtelConfig::resolve(
            &Env::from_pairs(pairs.iter().copied()),
            &OtelArgs::default(),
            &Telemetry::default(),
            Profile::Development,
            Some(("demo", "1.2.3")),
        )
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        crate::error::message_of(resolve(pairs))
    }

    #[test]
    fn defaults_come_from_the_user_crate_and_profile() -> Result<()> {
        let c = resolve(&[])?;
        assert_eq!(c.service_name, "demo");
        assert_eq!(c.service_version, "1.2.3");
        assert_eq!(c.environment, "development");
        assert_eq!(c.exporter, ExporterConfig::Embedded);
        assert_eq!(c.sampler, SamplerConfig::ParentBasedAlwaysOn);
        Ok(())
    }

    #[test]
    fn env_overrides_macro_args_and_code_overrides_env() -> Result<()> {
        let env = Env::from_pairs([("OTEL_SERVICE_NAME", "from-env")]);
        let args = OtelArgs {
            service_name: Some("from-macro"),
            ..OtelArgs::default()
        };
        let c = OtelConfig::resolve(
            &env,
            &args,
            &Telemetry::default(),
            Profile::Development,
            None,
        )?;
        assert_eq!(c.service_name, "from-env");
        let code = Telemetry::new().service_name("from-code");
        let c = OtelConfig::resolve(&env, &args, &code, Profile::Development, None)?;
        assert_eq!(c.service_name, "from-code");
        let c = OtelConfig::resolve(
            &Env::default(),
            &args,
            &Telemetry::default(),
            Profile::Development,
            None,
        )?;
        assert_eq!(c.service_name, "from-macro");
        Ok(())
    }

    #[test]
    fn endpoint_selects_otlp_and_gets_the_traces_path() -> Result<()> {
        let c = resolve(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")])?;
        match c.exporter {
            ExporterConfig::Otlp(o) => {
                assert_eq!(o.url, "http://127.0.0.1:4318/v1/traces")
            }
            other => panic!("expected OTLP, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert!(error_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")])
            .contains("OTEL_EXPORTER_OTLP_ENDPOINT"));
        assert!(error_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x")]).contains("http://"));
        assert!(
            error_of(&[("OTEL_BSP_MAX_QUEUE_SIZE", "lots")]).contains("OTEL_BSP_MAX_QUEUE_SIZE")
        );
        assert!(error_of(&[("OTEL_BSP_SCHEDULE_DELAY", "-5")]).contains("OTEL_BSP_SCHEDULE_DELAY"));
        assert!(error_of(&[("OTEL_TRACES_SAMPLER", "sometimes")]).contains("OTEL_TRACES_SAMPLER"));
        assert!(error_of(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2")
        ])
        .contains("OTEL_TRACES_SAMPLER_ARG"));
        assert!(error_of(&[("OTEL_SDK_DISABLED", "maybe")]).contains("OTEL_SDK_DISABLED"));
        assert!(error_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")])
            .contains("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if !cfg!(feature = "grpc") {
            assert!(error_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).contains("`grpc` feature"));
        }
        assert!(error_of(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20")
        ])
        .contains("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"));
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_takes_the_base_endpoint_as_it_is_and_refuses_tls() {
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
        ])
        .expect("valid");
        assert!(matches!(
            c.exporter,
            ExporterConfig::Otlp(ref o)
                if o.url == "http://collector:4317" && o.protocol == OtlpProtocol::Grpc
        ));
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ])
        .expect("valid");
        assert!(matches!(
            c.exporter,
            ExporterConfig::Otlp(ref o) if o.url == "http://localhost:4317"
        ));
        assert!(error_of(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317")
        ])
        .contains("plaintext"));
    }

    #[test]
    fn credentials_in_urls_and_headers_are_never_shown() {
        let err = error_of(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://user:hunter2@host")]);
        assert!(!err.contains("hunter2"), "{err}");
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:hunter2@h:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20hunter2",
            ),
        ]);
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn redacting_a_url_keeps_an_at_sign_in_its_path_and_query() {
        assert_eq!(
            redact_url("https://user:hunter2@collector:4318/v1/traces?to=a@b"),
            "https://redacted@collector:4318/v1/traces?to=a@b"
        );
        assert_eq!(
            redact_url("https://collector:4318/users/a@b/v1/traces"),
            "https://collector:4318/users/a@b/v1/traces"
        );
        assert_eq!(redact_url("http://h:4318"), "http://h:4318/");
        assert!(!redact_url("http://u:hunter2@[::1").contains("hunter2"));
    }

    #[test]
    fn ratio_arg_applies_only_to_ratio_samplers() -> Result<()> {
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])?;
        assert_eq!(c.sampler, SamplerConfig::ParentBasedTraceIdRatio(0.25));
        let c = resolve(&[
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_TRACES_SAMPLER_ARG", "junk"),
        ])?;
        assert_eq!(c.sampler, SamplerConfig::AlwaysOn);
        Ok(())
    }
}
