//! Where one OTel signal goes (traces, metrics, logs): `OTEL_<SIGNAL>S_EXPORTER` (`otlp`,
//! `embedded`, `none`), the signal's protocol (`OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, else
//! `OTEL_EXPORTER_OTLP_PROTOCOL`: http/protobuf, or grpc with the `grpc` feature), the signal's
//! own endpoint (`OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`, used as it is) or the base endpoint
//! (with the signal's path appended over HTTP, as it is over gRPC), the base headers followed by
//! the signal's own (gRPC metadata over gRPC), and the trust roots of an https endpoint
//! (`OTEL_EXPORTER_OTLP_<SIGNAL>_CERTIFICATE`, else `OTEL_EXPORTER_OTLP_CERTIFICATE`). One reading
//! for every signal, so their variables behave alike.

use crate::config::endpoint::{check_endpoint, check_headers, default_base, otlp_url, protocol};
use crate::config::env::Env;
use crate::config::exporter::{ExporterConfig, OtlpExporter};
use crate::config::hook_args::OtelArgs;
use crate::config::overrides::Telemetry;
use crate::error::{Error, Result};
use std::path::PathBuf;

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
    /// `TRACES`, `METRICS`, `LOGS`: in `OTEL_EXPORTER_OTLP_<X>_ENDPOINT` and friends.
    pub(crate) upper: &'static str,
    /// `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER`.
    pub(crate) exporter_variable: &'static str,
    /// `v1/traces`, `v1/metrics`, `v1/logs`.
    pub(crate) path: &'static str,
}

/// The traces signal's variables.
pub(crate) const TRACES: Signal = Signal {
    upper: "TRACES",
    exporter_variable: "OTEL_TRACES_EXPORTER",
    path: "v1/traces",
};

/// The metrics signal's variables.
pub(crate) const METRICS: Signal = Signal {
    upper: "METRICS",
    exporter_variable: "OTEL_METRICS_EXPORTER",
    path: "v1/metrics",
};

/// The logs signal's variables.
pub(crate) const LOGS: Signal = Signal {
    upper: "LOGS",
    exporter_variable: "OTEL_LOGS_EXPORTER",
    path: "v1/logs",
};

/// Where `signal` goes. The exporter is chosen by code (`code_exporter`, traces only), else the
/// signal's variable, else the hook's argument (checked at compile time), else an endpoint
/// anywhere means OTLP and nothing means the embedded files.
pub(crate) fn resolve(
    env: &Env,
    args: &OtelArgs,
    code: &Telemetry,
    signal: Signal,
    code_exporter: Option<&str>,
    hook_exporter: Option<&'static str>,
) -> Result<ExporterConfig> {
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
    let choice = match (
        code_exporter,
        env.get(signal.exporter_variable),
        hook_exporter,
    ) {
        (Some(c), _, _) => Some((c, "Telemetry::exporter")),
        (None, Some(e), _) => Some((e, signal.exporter_variable)),
        (None, None, Some(h)) => Some((h, "#[post_fork(exporter)]")),
        (None, None, None) => None,
    };
    let otlp = match choice {
        Some(("otlp", _)) => true,
        Some(("embedded", _)) => return Ok(ExporterConfig::Embedded),
        Some(("none", _)) => return Ok(ExporterConfig::None),
        Some((other, source)) => {
            return Err(Error::config(
                source,
                format!(
                    "{other:?}: expected otlp, embedded or none (forkline has no other \
                     {lower} exporter)"
                ),
            ))
        }
        None => endpoint.is_some(),
    };
    if !otlp {
        return Ok(ExporterConfig::Embedded);
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
    let certificate = certificate(env, upper, &url)?;
    Ok(ExporterConfig::Otlp(OtlpExporter {
        url,
        headers,
        protocol,
        certificate,
    }))
}

/// The signal's extra trust roots: `OTEL_EXPORTER_OTLP_<SIGNAL>_CERTIFICATE`, else
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`; a readable PEM file with at least one certificate, and only
/// for an `https://` endpoint, so a file that will never be used is not mistaken for one that is.
fn certificate(env: &Env, upper: &str, url: &str) -> Result<Option<PathBuf>> {
    let specific = format!("OTEL_EXPORTER_OTLP_{upper}_CERTIFICATE");
    let Some((variable, path)) = [specific.as_str(), "OTEL_EXPORTER_OTLP_CERTIFICATE"]
        .into_iter()
        .find_map(|name| env.get(name).map(|path| (name, path)))
    else {
        return Ok(None);
    };
    if !url.starts_with("https://") {
        return Err(env.invalid(
            variable,
            "a certificate is only used for an https:// endpoint; this signal's is not",
        ));
    }
    crate::config::tls::read_pem_roots(std::path::Path::new(path))
        .map_err(|reason| env.invalid(variable, &reason))?;
    Ok(Some(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::endpoint::OtlpProtocol;

    const METRICS: Signal = Signal {
        upper: "METRICS",
        exporter_variable: "OTEL_METRICS_EXPORTER",
        path: "v1/metrics",
    };

    fn resolve_with(pairs: &[(&str, &str)], code: &Telemetry) -> Result<ExporterConfig> {
        let env = Env::from_pairs(pairs.iter().copied());
        resolve(&env, &OtelArgs::default(), code, METRICS, None, None)
    }

    fn destination(pairs: &[(&str, &str)]) -> Result<ExporterConfig> {
        resolve_with(pairs, &Telemetry::default())
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        crate::error::message_of(destination(pairs))
    }

    /// The URL and protocol of an OTLP destination.
    fn otlp(d: Result<ExporterConfig>) -> (String, OtlpProtocol) {
        match d {
            Ok(ExporterConfig::Otlp(o)) => (o.url, o.protocol),
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
        assert!(matches!(destination(&[GRPC]), Ok(ExporterConfig::Embedded)));
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
            Ok(ExporterConfig::Otlp(ref o)) if o.headers.len() == 2
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

    #[test]
    fn a_certificate_must_be_a_pem_file_for_an_https_endpoint() {
        let https = ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318");
        let err = error_of(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/hostname"),
        ]);
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_CERTIFICATE") && err.contains("https://"),
            "{err}"
        );
        let err = error_of(&[
            https,
            ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", "/no/such/ca.pem"),
        ]);
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE") && err.contains("cannot read"),
            "{err}"
        );
        let not_pem = std::env::temp_dir().join(format!("forkline-not-pem-{}", std::process::id()));
        std::fs::write(&not_pem, "no certificate here\n").expect("write");
        let err = error_of(&[
            https,
            (
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                not_pem.to_str().expect("utf-8"),
            ),
        ]);
        let _ = std::fs::remove_file(&not_pem);
        let expected = if crate::config::tls::BUILT_IN {
            "holds no PEM certificate"
        } else {
            "this build has none"
        };
        assert!(err.contains(expected), "{err}");
    }

    /// Each signal with its variables' names and its URL path.
    fn each_signal() -> [(Signal, &'static str); 3] {
        [(TRACES, "traces"), (METRICS, "metrics"), (LOGS, "logs")]
    }

    fn of(signal: Signal, pairs: &[(&str, String)]) -> Result<ExporterConfig> {
        let env = Env::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        resolve(
            &env,
            &OtelArgs::default(),
            &Telemetry::default(),
            signal,
            None,
            None,
        )
    }

    #[test]
    fn every_signal_reads_its_endpoint_headers_and_exporter_alike() -> Result<()> {
        for (signal, path) in each_signal() {
            let upper = signal.upper;
            let base = (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:4318/".to_string(),
            );
            let o = of(signal, std::slice::from_ref(&base))?;
            assert_eq!(
                o.otlp().map(|o| o.url.as_str()),
                Some(format!("http://127.0.0.1:4318/v1/{path}").as_str())
            );
            let own_endpoint = format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT");
            let own_headers = format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS");
            let c = of(
                signal,
                &[
                    base.clone(),
                    (own_endpoint.as_str(), "http://own:9/in".into()),
                    ("OTEL_EXPORTER_OTLP_HEADERS", "a=1".into()),
                    (own_headers.as_str(), "b=2".into()),
                ],
            )?;
            let o = c.otlp().expect("OTLP");
            assert_eq!(
                (o.url.as_str(), o.protocol),
                ("http://own:9/in", OtlpProtocol::HttpProtobuf)
            );
            assert_eq!(
                o.headers,
                vec![("a".into(), "1".into()), ("b".into(), "2".into())]
            );
            for (choice, expected) in [
                ("none", ExporterConfig::None),
                ("embedded", ExporterConfig::Embedded),
            ] {
                let c = of(
                    signal,
                    &[base.clone(), (signal.exporter_variable, choice.into())],
                )?;
                assert_eq!(c, expected, "{upper} {choice}");
            }
            let err = of(signal, &[(signal.exporter_variable, "prometheus".into())])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(signal.exporter_variable), "{err}");
        }
        Ok(())
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn over_grpc_every_signal_takes_the_base_endpoint_as_it_is_and_no_tls() -> Result<()> {
        for (signal, _) in each_signal() {
            let upper = signal.upper;
            let own_protocol = format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL");
            let grpc = (own_protocol.as_str(), "grpc".to_string());
            let endpoint = (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://collector:4317".to_string(),
            );
            let c = of(
                signal,
                &[
                    grpc.clone(),
                    endpoint.clone(),
                    ("OTEL_EXPORTER_OTLP_HEADERS", "k=v".into()),
                ],
            )?;
            let o = c.otlp().expect("OTLP");
            assert_eq!(
                (o.url.as_str(), o.protocol),
                ("http://collector:4317", OtlpProtocol::Grpc)
            );
            assert_eq!(o.headers, vec![("k".into(), "v".into())]);
            let tls = (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://collector:4317".to_string(),
            );
            let err = of(signal, &[grpc, tls])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("plaintext"), "{upper}: {err}");
        }
        Ok(())
    }

    #[test]
    fn no_signal_shows_credentials() {
        for (signal, path) in each_signal() {
            let upper = signal.upper;
            let endpoint = format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT");
            let headers = format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS");
            let c = of(
                signal,
                &[
                    (
                        endpoint.as_str(),
                        format!("http://u:hunter2@h:4318/v1/{path}"),
                    ),
                    (headers.as_str(), "authorization=Bearer%20hunter2".into()),
                ],
            );
            let shown = format!("{c:?}");
            assert!(
                !shown.contains("hunter2") && shown.contains("authorization"),
                "{shown}"
            );
        }
    }
}
