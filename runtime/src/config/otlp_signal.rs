//! Where one OTel signal other than traces goes (metrics, logs): `OTEL_<SIGNAL>S_EXPORTER`
//! (`otlp`, `embedded`, `none`), the signal's protocol (`OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`,
//! else `OTEL_EXPORTER_OTLP_PROTOCOL`: http/protobuf, or grpc with the `grpc` feature), the
//! signal's own endpoint (`OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`, used as it is) or the base
//! endpoint (with the signal's path appended over HTTP, as it is over gRPC), and the base headers
//! followed by the signal's own (gRPC metadata over gRPC). One reading for every signal, and the
//! traces' rules (`otel`), so their variables behave alike.

use crate::config::env::Env;
use crate::config::hook_args::OtelArgs;
use crate::config::otel::{check_endpoint, check_headers, default_base, otlp_url, protocol};
use crate::config::overrides::Telemetry;
use crate::config::OtlpProtocol;
use crate::error::Result;

/// Which OTLP signal, and so which service a transport speaks to over gRPC (over HTTP the URL
/// says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtlpSignal {
    Traces,
    Metrics,
    Logs,
}

/// The names one signal's variables are made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signal {
    /// `METRICS`, `LOGS`: in `OTEL_EXPORTER_OTLP_<X>_ENDPOINT` and friends.
    pub(crate) upper: &'static str,
    /// `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`.
    pub(crate) exporter_variable: &'static str,
    /// `v1/metrics`, `v1/logs`.
    pub(crate) path: &'static str,
}

/// Where the signal goes.
#[derive(Clone, PartialEq)]
pub(crate) enum Destination {
    /// OTLP to this URL (the full signal URL over HTTP, the collector's address over gRPC) with
    /// these headers.
    Otlp {
        url: String,
        headers: Vec<(String, String)>,
        protocol: OtlpProtocol,
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
) -> Result<Destination> {
    let upper = signal.upper;
    let lower = upper.to_ascii_lowercase();
    // Checked whatever the exporter, so a typo is caught before it matters.
    let protocol = protocol(env, &format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL"))?;
    let endpoint_variable = format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT");
    let to_url = |base: &str| otlp_url(base, protocol, signal.path);
    let endpoint: Option<(String, String)> = if let Some(base) = &code.otlp_endpoint {
        Some((to_url(base), "Telemetry::otlp_endpoint".into()))
    } else if let Some(url) = env.get(&endpoint_variable) {
        Some((url.to_string(), endpoint_variable.clone()))
    } else if let Some(base) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Some((to_url(base), "OTEL_EXPORTER_OTLP_ENDPOINT".into()))
    } else {
        args.endpoint
            .map(|base| (to_url(base), "#[post_fork(endpoint)]".into()))
    };
    // The variable wins over the hook's `exporter` (checked at compile time).
    let choice = env.get(signal.exporter_variable).or(hook_exporter);
    let otlp = match choice {
        Some("otlp") => true,
        Some("embedded") => return Ok(Destination::Embedded),
        Some("none") => return Ok(Destination::None),
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
        return Ok(Destination::Embedded);
    }
    let (url, source) = endpoint.unwrap_or_else(|| {
        (
            to_url(default_base(protocol)),
            "the default endpoint".into(),
        )
    });
    check_endpoint(&url, &source, protocol)?;
    let headers_variable = format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS");
    let mut headers = env.key_values("OTEL_EXPORTER_OTLP_HEADERS")?;
    headers.extend(env.key_values(&headers_variable)?);
    check_headers(&headers, protocol, &headers_variable)?;
    Ok(Destination::Otlp {
        url,
        headers,
        protocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: Signal = Signal {
        upper: "METRICS",
        exporter_variable: "OTEL_METRICS_EXPORTER",
        path: "v1/metrics",
    };

    fn resolve_with(pairs: &[(&str, &str)], code: &Telemetry) -> Result<Destination> {
        let env = Env::from_pairs(pairs.iter().copied());
        resolve(&env, &OtelArgs::default(), code, METRICS, None)
    }

    fn destination(pairs: &[(&str, &str)]) -> Result<Destination> {
        resolve_with(pairs, &Telemetry::default())
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        destination(pairs)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    /// The URL and protocol of an OTLP destination.
    fn otlp(d: Result<Destination>) -> (String, OtlpProtocol) {
        match d {
            Ok(Destination::Otlp { url, protocol, .. }) => (url, protocol),
            other => panic!("expected OTLP, got {:?}", other.map(|_| "not OTLP")),
        }
    }

    const GRPC: (&str, &str) = ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    const HTTP: (&str, &str) = ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");

    #[test]
    fn over_http_the_base_endpoint_gets_the_signals_path() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(
            otlp(destination(&[base])),
            (
                "http://collector:4318/v1/metrics".into(),
                OtlpProtocol::HttpProtobuf
            )
        );
        assert_eq!(
            otlp(destination(&[HTTP, ("OTEL_METRICS_EXPORTER", "otlp")])).0,
            "http://localhost:4318/v1/metrics"
        );
        assert!(
            error_of(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json")])
                .contains("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
        );
    }

    #[cfg(not(feature = "grpc"))]
    #[test]
    fn grpc_without_the_feature_is_the_error_traces_give() {
        let err = error_of(&[GRPC]);
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && err.contains("`grpc` feature"),
            "{err}"
        );
        let err = error_of(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")]);
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") && err.contains("`grpc` feature"),
            "{err}"
        );
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn an_inherited_or_own_grpc_protocol_takes_the_base_endpoint_as_it_is() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        let grpc = |url: &str| (url.to_string(), OtlpProtocol::Grpc);
        // Inherited from the base protocol: no path appended.
        assert_eq!(
            otlp(destination(&[GRPC, base])),
            grpc("http://collector:4317")
        );
        // The signal's own, with the default gRPC endpoint.
        assert_eq!(
            otlp(destination(&[
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
                ("OTEL_METRICS_EXPORTER", "otlp"),
            ])),
            grpc("http://localhost:4317")
        );
        // The signal's own endpoint and code's base endpoint are used as they are, too.
        assert_eq!(
            otlp(destination(&[
                GRPC,
                base,
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:4317"),
            ])),
            grpc("http://metrics:4317")
        );
        let code = Telemetry::new().otlp_endpoint("http://code:4317");
        assert_eq!(otlp(resolve_with(&[GRPC], &code)), grpc("http://code:4317"));
        // No endpoint and no exporter chosen: still the embedded sink.
        assert!(matches!(destination(&[GRPC]), Ok(Destination::Embedded)));
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn a_signal_protocol_other_than_the_base_one_wins_both_ways() {
        // Traces over gRPC, metrics over HTTP to their own endpoint, or to the base one + path.
        assert_eq!(
            otlp(destination(&[
                GRPC,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                    "http://m:4318/v1/metrics"
                ),
            ])),
            (
                "http://m:4318/v1/metrics".into(),
                OtlpProtocol::HttpProtobuf
            )
        );
        assert_eq!(
            otlp(destination(&[
                GRPC,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"),
            ])),
            (
                "http://collector:4318/v1/metrics".into(),
                OtlpProtocol::HttpProtobuf
            )
        );
        // Traces over HTTP, metrics over gRPC: the base endpoint as it is.
        assert_eq!(
            otlp(destination(&[
                HTTP,
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
                ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
            ])),
            ("http://collector:4317".into(), OtlpProtocol::Grpc)
        );
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn over_grpc_tls_is_refused_and_headers_must_be_metadata_never_shown() {
        let err = error_of(&[
            GRPC,
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "https://metrics:4317",
            ),
        ]);
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") && err.contains("plaintext"),
            "{err}"
        );
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317");
        let d = destination(&[
            GRPC,
            base,
            ("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20a"),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-tenant=b"),
        ]);
        assert!(matches!(
            d,
            Ok(Destination::Otlp { ref headers, .. }) if headers.len() == 2
        ));
        // A `-bin` key is a fine HTTP header but no text metadata.
        let secret = ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-key-bin=hunter2");
        assert!(destination(&[base, secret]).is_ok());
        let err = error_of(&[GRPC, base, secret]);
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_METRICS_HEADERS")
                && err.contains("x-key-bin")
                && !err.contains("hunter2"),
            "{err}"
        );
    }
}
