//! An OTLP endpoint's rules, the same for every signal: its protocol, its default, the URL a base
//! endpoint gives, what makes a URL and headers valid, and how a URL is shown without its
//! credentials.

use crate::config::env::Env;
use crate::error::{Error, Result};

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `http/protobuf`: the default, and the safe choice with a thread-based export loop.
    #[default]
    HttpProtobuf,
    /// `grpc` (needs forkline's `grpc` feature).
    Grpc,
}

const DEFAULT_OTLP_BASE: &str = "http://localhost:4318";
const DEFAULT_OTLP_GRPC_BASE: &str = "http://localhost:4317";

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
    crate::config::tls::check_https(url, source)?;
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
