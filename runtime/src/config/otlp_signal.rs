//! Where one OTel signal other than traces goes (metrics, logs): `OTEL_<SIGNAL>S_EXPORTER`
//! (`otlp`, `embedded`, `none`), the signal's own endpoint (`OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`,
//! used as it is) or the base endpoint with the signal's path appended, and the base headers
//! followed by the signal's own. One reading for every signal, so their variables behave alike.
//!
//! These signals travel over OTLP/HTTP (protobuf) only: with `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`
//! and no signal-specific protocol and endpoint, the signal is off with a reason (the base
//! endpoint is then a gRPC address), unless it was asked for by name, which is an error.

use crate::config::env::Env;
use crate::config::hook_args::OtelArgs;
use crate::config::otel::{validate_url, DEFAULT_OTLP_BASE};
use crate::config::overrides::Telemetry;
use crate::error::{Error, Result};

/// The names one signal's variables are made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signal {
    /// `METRICS`, `LOGS`: in `OTEL_EXPORTER_OTLP_<X>_ENDPOINT` and friends.
    pub(crate) upper: &'static str,
    /// `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`.
    pub(crate) exporter_variable: &'static str,
    /// `v1/metrics`, `v1/logs`.
    pub(crate) path: &'static str,
    /// What the worker says once when a gRPC collector turns the signal off.
    pub(crate) off_with_grpc: &'static str,
}

/// Where the signal goes.
#[derive(Clone, PartialEq)]
pub(crate) enum Destination {
    /// OTLP/HTTP to this URL with these headers.
    Otlp {
        url: String,
        headers: Vec<(String, String)>,
    },
    Embedded,
    None,
}

pub(crate) fn resolve(
    env: &Env,
    args: &OtelArgs,
    code: &Telemetry,
    signal: Signal,
    hook_exporter: Option<&'static str>,
) -> Result<(Destination, Option<&'static str>)> {
    let upper = signal.upper;
    let lower = upper.to_ascii_lowercase();
    let protocol_variable = format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL");
    let endpoint_variable = format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT");
    let grpc_inherited = match env.get(&protocol_variable) {
        None | Some("") => env.get("OTEL_EXPORTER_OTLP_PROTOCOL") == Some("grpc"),
        Some("http/protobuf") => false,
        Some("grpc") => {
            return Err(env.invalid(
                &protocol_variable,
                &format!(
                    "forkline exports {lower} over http/protobuf only (gRPC {lower} are not \
                     supported yet); set it to http/protobuf, or {}=none",
                    signal.exporter_variable
                ),
            ))
        }
        Some(_) => {
            return Err(env.invalid(
                &protocol_variable,
                "expected http/protobuf (http/json is not supported)",
            ))
        }
    };
    let specific = env.get(&endpoint_variable);
    let with_path = |base: &str| signal_url(base, signal.path);
    let endpoint: Option<(String, String)> = if let Some(base) = &code.otlp_endpoint {
        Some((with_path(base), "Telemetry::otlp_endpoint".into()))
    } else if let Some(url) = specific {
        Some((url.to_string(), endpoint_variable.clone()))
    } else if let Some(base) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some((with_path(base), "OTEL_EXPORTER_OTLP_ENDPOINT".into()))
    } else {
        args.endpoint
            .map(|base| (with_path(base), "#[post_fork(endpoint)]".into()))
    };
    // The variable wins over the hook's `exporter` (checked at compile time).
    let choice = env.get(signal.exporter_variable).or(hook_exporter);
    let otlp = match choice {
        Some("otlp") => true,
        Some("embedded") => return Ok((Destination::Embedded, None)),
        Some("none") => return Ok((Destination::None, None)),
        Some(_) => {
            return Err(env.invalid(
                signal.exporter_variable,
                &format!(
                    "expected otlp, embedded or none (forkline has no other {lower} exporter)"
                ),
            ))
        }
        None => endpoint.is_some(),
    };
    if !otlp {
        return Ok((Destination::Embedded, None));
    }
    // The base endpoint of a gRPC collector is no OTLP/HTTP address.
    if grpc_inherited && specific.is_none() && code.otlp_endpoint.is_none() {
        if choice == Some("otlp") {
            return Err(env.invalid(
                signal.exporter_variable,
                &format!(
                    "OTLP {lower} go over http/protobuf only, and OTEL_EXPORTER_OTLP_PROTOCOL is \
                     grpc; set {protocol_variable}=http/protobuf and {endpoint_variable}"
                ),
            ));
        }
        return Ok((Destination::None, Some(signal.off_with_grpc)));
    }
    let (url, source) =
        endpoint.unwrap_or_else(|| (with_path(DEFAULT_OTLP_BASE), "the default endpoint".into()));
    validate_url(&url, &source)?;
    let headers_variable = format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS");
    let mut headers = env.key_values("OTEL_EXPORTER_OTLP_HEADERS")?;
    headers.extend(env.key_values(&headers_variable)?);
    for (name, value) in &headers {
        let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && reqwest::header::HeaderValue::from_str(value).is_ok();
        if !valid {
            return Err(Error::config(
                headers_variable,
                format!("header {name:?} has an invalid name or value (the value is not shown)"),
            ));
        }
    }
    Ok((Destination::Otlp { url, headers }, None))
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` is a base URL; the signal's path is appended to it.
fn signal_url(base: &str, path: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}
