//! The OpenTelemetry base: resource, sampler, exporter and batching, resolved from code,
//! `OTEL_*` variables, `post_fork` arguments and the profile, in that order of precedence.

use crate::config::env::Env;
use crate::config::hook_args::OtelArgs;
use crate::config::overrides::Telemetry;
use crate::config::profile::Profile;
use crate::error::{Error, Result};
use std::fmt;
use std::time::Duration;

/// The resolved OTel configuration of every worker.
#[derive(Debug, Clone)]
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

/// Where spans are exported.
#[derive(Clone, PartialEq)]
pub enum ExporterConfig {
    /// OTLP over HTTP (protobuf), or gRPC with the `grpc` feature.
    Otlp {
        /// The full traces URL (`.../v1/traces`) for HTTP; the collector's base URL for gRPC.
        traces_url: String,
        /// Extra request headers or gRPC metadata (often credentials: never logged).
        headers: Vec<(String, String)>,
        /// How spans travel.
        protocol: OtlpProtocol,
    },
    /// OTLP JSON files in the run folder.
    Embedded,
    /// Spans are not exported.
    None,
}

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// `http/protobuf`: the default, and the safe choice with a thread-based export loop.
    #[default]
    HttpProtobuf,
    /// `grpc` (needs forkline's `grpc` feature).
    Grpc,
}

impl fmt::Debug for ExporterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Otlp {
                traces_url,
                headers,
                protocol,
            } => f
                .debug_struct("Otlp")
                .field("traces_url", &redact_url(traces_url))
                .field("protocol", protocol)
                .field(
                    "headers",
                    &headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                )
                .finish(),
            Self::Embedded => f.write_str("Embedded"),
            Self::None => f.write_str("None"),
        }
    }
}

/// Batch span processor settings (`OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// `OTEL_BSP_MAX_QUEUE_SIZE`
    pub max_queue_size: usize,
    /// `OTEL_BSP_SCHEDULE_DELAY`
    pub scheduled_delay: Duration,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`
    pub max_export_batch_size: usize,
    /// `OTEL_BSP_EXPORT_TIMEOUT`
    pub export_timeout: Duration,
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
            batch: batch(env)?,
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

const DEFAULT_OTLP_BASE: &str = "http://localhost:4318";
const DEFAULT_OTLP_GRPC_BASE: &str = "http://localhost:4317";

fn exporter(env: &Env, args: &OtelArgs, code: &Telemetry) -> Result<ExporterConfig> {
    // Checked whatever the exporter, so a typo is caught before it matters.
    let protocol = protocol(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")?;
    let to_url = |base: &str| otlp_url(base, protocol, "v1/traces");
    // The endpoint, already as a full traces URL, and who set it.
    let endpoint: Option<(String, &str)> = if let Some(base) = &code.otlp_endpoint {
        Some((to_url(base), "Telemetry::otlp_endpoint"))
    } else if let Some(url) = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        Some((url.to_string(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    } else if let Some(base) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some((to_url(base), "OTEL_EXPORTER_OTLP_ENDPOINT"))
    } else {
        args.endpoint
            .map(|base| (to_url(base), "#[post_fork(endpoint)]"))
    };

    let mut headers = env.key_values("OTEL_EXPORTER_OTLP_HEADERS")?;
    headers.extend(env.key_values("OTEL_EXPORTER_OTLP_TRACES_HEADERS")?);
    check_headers(&headers, protocol, "OTEL_EXPORTER_OTLP_HEADERS")?;
    let choice = match (
        &code.exporter,
        env.get("OTEL_TRACES_EXPORTER"),
        args.exporter,
    ) {
        (Some(c), _, _) => Some((c.as_str(), "Telemetry::exporter")),
        (None, Some(e), _) => Some((e, "OTEL_TRACES_EXPORTER")),
        (None, None, Some(a)) => Some((a, "#[post_fork(exporter)]")),
        (None, None, None) => None,
    };
    let kind = match choice {
        Some(("otlp", _)) => "otlp",
        Some(("embedded", _)) => "embedded",
        Some(("none", _)) => "none",
        Some((other, source)) => {
            return Err(Error::config(
                source,
                format!("unknown traces exporter {other:?}; expected otlp, embedded or none"),
            ))
        }
        // No choice made: an endpoint means OTLP, nothing means the embedded local sink.
        None if endpoint.is_some() => "otlp",
        None => "embedded",
    };
    match kind {
        "embedded" => return Ok(ExporterConfig::Embedded),
        "none" => return Ok(ExporterConfig::None),
        _ => {}
    }

    let (traces_url, source) =
        endpoint.unwrap_or_else(|| (to_url(default_base(protocol)), "the default endpoint"));
    check_endpoint(&traces_url, source, protocol)?;
    Ok(ExporterConfig::Otlp {
        traces_url,
        headers,
        protocol,
    })
}

/// A signal's OTLP protocol: `specific` (`OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`), else
/// `OTEL_EXPORTER_OTLP_PROTOCOL`, else http/protobuf. gRPC needs the `grpc` feature.
pub(crate) fn protocol(env: &Env, specific: &str) -> Result<OtlpProtocol> {
    for name in [specific, "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        match env.get(name) {
            None => continue,
            Some("http/protobuf") => return Ok(OtlpProtocol::HttpProtobuf),
            Some("grpc") if cfg!(feature = "grpc") => return Ok(OtlpProtocol::Grpc),
            Some("grpc") => {
                return Err(env.invalid(
                    name,
                    "grpc needs forkline's `grpc` feature (features = [\"grpc\"] in Cargo.toml); \
                     without it, use http/protobuf",
                ))
            }
            Some(_) => {
                return Err(env.invalid(
                    name,
                    "expected http/protobuf or grpc (http/json is not supported)",
                ))
            }
        }
    }
    Ok(OtlpProtocol::HttpProtobuf)
}

/// The collector's address when no endpoint is set.
pub(crate) fn default_base(protocol: OtlpProtocol) -> &'static str {
    match protocol {
        OtlpProtocol::HttpProtobuf => DEFAULT_OTLP_BASE,
        OtlpProtocol::Grpc => DEFAULT_OTLP_GRPC_BASE,
    }
}

/// A base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` and the like) as a signal's address: over
/// HTTP the signal's path (`v1/traces`) appended; over gRPC, which has no path to append, the
/// collector's address as it is.
pub(crate) fn otlp_url(base: &str, protocol: OtlpProtocol, path: &str) -> String {
    match protocol {
        OtlpProtocol::Grpc => base.to_string(),
        OtlpProtocol::HttpProtobuf if base.ends_with('/') => format!("{base}{path}"),
        OtlpProtocol::HttpProtobuf => format!("{base}/{path}"),
    }
}

/// A signal's endpoint: a valid http(s) URL, plaintext for gRPC.
pub(crate) fn check_endpoint(url: &str, source: &str, protocol: OtlpProtocol) -> Result<()> {
    validate_url(url, source)?;
    if protocol == OtlpProtocol::Grpc && url.starts_with("https://") {
        return Err(Error::config(
            source,
            "forkline's gRPC exporter speaks plaintext gRPC only; for TLS use http/protobuf \
             (OTEL_EXPORTER_OTLP_PROTOCOL or the signal's own) with an https:// endpoint",
        ));
    }
    Ok(())
}

/// A signal's headers: valid HTTP headers, or gRPC metadata. An error names `variable` and the
/// header, never its value.
pub(crate) fn check_headers(
    headers: &[(String, String)],
    protocol: OtlpProtocol,
    variable: &str,
) -> Result<()> {
    #[cfg(feature = "grpc")]
    if protocol == OtlpProtocol::Grpc {
        return grpc_metadata(headers)
            .map(drop)
            .map_err(|e| Error::config(variable, e));
    }
    let _ = protocol;
    for (name, value) in headers {
        let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && reqwest::header::HeaderValue::from_str(value).is_ok();
        if !valid {
            return Err(Error::config(
                variable,
                format!("header {name:?} has an invalid name or value (the value is not shown)"),
            ));
        }
    }
    Ok(())
}

/// `headers` as gRPC metadata (what the gRPC sender sends): keys lower case, values ASCII. An
/// error names the header, never its value (credentials more often than not).
#[cfg(feature = "grpc")]
pub(crate) fn grpc_metadata(
    headers: &[(String, String)],
) -> std::result::Result<tonic::metadata::MetadataMap, String> {
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
    let mut metadata = MetadataMap::new();
    for (name, value) in headers {
        let invalid =
            || format!("header {name:?} is no valid gRPC metadata (the value is not shown)");
        let key =
            MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| invalid())?;
        let value = MetadataValue::try_from(value.as_str()).map_err(|_| invalid())?;
        metadata.insert(key, value);
    }
    Ok(metadata)
}

pub(crate) fn validate_url(raw: &str, source: &str) -> Result<()> {
    let shown = redact_url(raw);
    let url = url::Url::parse(raw)
        .map_err(|e| Error::config(source, format!("{shown:?} is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::config(
            source,
            format!(
                "{shown:?} must use http:// or https://, not {}://",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::config(source, format!("{shown:?} has no host")));
    }
    Ok(())
}

/// A URL fit for logs: its user and password, if any, are replaced by `redacted`. A string that
/// does not parse as a URL is shown only if it has no `@` (it may hold credentials otherwise).
pub(crate) fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if !url.username().is_empty() || url.password().is_some() {
                // Fails only for URLs that cannot have credentials (no host), which have none.
                let _ = url.set_password(None);
                let _ = url.set_username("redacted");
            }
            url.to_string()
        }
        Err(_) if raw.contains('@') => {
            "(a malformed URL, not shown: it may hold credentials)".into()
        }
        Err(_) => raw.to_string(),
    }
}

fn batch(env: &Env) -> Result<BatchSettings> {
    let max_queue_size = env
        .positive_usize("OTEL_BSP_MAX_QUEUE_SIZE")?
        .unwrap_or(2048);
    let max_export_batch_size = env
        .positive_usize("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")?
        .unwrap_or(512);
    if max_export_batch_size > max_queue_size {
        return Err(env.invalid(
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            &format!("must not exceed OTEL_BSP_MAX_QUEUE_SIZE ({max_queue_size})"),
        ));
    }
    Ok(BatchSettings {
        max_queue_size,
        scheduled_delay: env
            .millis("OTEL_BSP_SCHEDULE_DELAY")?
            .unwrap_or(Duration::from_millis(5000)),
        max_export_batch_size,
        export_timeout: env
            .millis("OTEL_BSP_EXPORT_TIMEOUT")?
            .unwrap_or(Duration::from_millis(30_000)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        resolve(pairs)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
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
            ExporterConfig::Otlp { traces_url, .. } => {
                assert_eq!(traces_url, "http://127.0.0.1:4318/v1/traces")
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
            ExporterConfig::Otlp { ref traces_url, protocol: OtlpProtocol::Grpc, .. }
                if traces_url == "http://collector:4317"
        ));
        let c = resolve(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
            ("OTEL_TRACES_EXPORTER", "otlp"),
        ])
        .expect("valid");
        assert!(matches!(
            c.exporter,
            ExporterConfig::Otlp { ref traces_url, .. } if traces_url == "http://localhost:4317"
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
