//! Where one OTel signal goes, the same type for spans, metrics and logs: so a signal option
//! (an endpoint form, a header rule, a trust root) is added once and every signal has it.

use crate::config::endpoint::{redact_url, OtlpProtocol};
use std::fmt;
use std::path::PathBuf;

/// Where one signal (spans, metrics or logs) is exported.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ExporterConfig {
    /// OTLP over HTTP (protobuf), or gRPC with the `grpc` feature.
    Otlp(OtlpExporter),
    /// OTLP JSON in the run folder (`spans-<pid>.jsonl`, `metrics-<pid>.jsonl`,
    /// `logs-<pid>.jsonl`).
    Embedded,
    /// Not exported: no provider is installed for the signal.
    None,
}

/// One signal's OTLP destination. Its `Debug` hides credentials: the URL's user and password,
/// and every header's value.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct OtlpExporter {
    /// The full signal URL (`.../v1/traces`) over HTTP; the collector's address over gRPC.
    pub url: String,
    /// Extra request headers or gRPC metadata (often credentials: never logged).
    pub headers: Vec<(String, String)>,
    /// How the signal travels.
    pub protocol: OtlpProtocol,
    /// A PEM file of certificates trusted for an `https://` endpoint besides the system's
    /// (`OTEL_EXPORTER_OTLP_CERTIFICATE`, or the signal's own `..._<SIGNAL>_CERTIFICATE`).
    pub certificate: Option<PathBuf>,
}

impl ExporterConfig {
    /// The OTLP destination, when the signal goes to OTLP.
    pub fn otlp(&self) -> Option<&OtlpExporter> {
        match self {
            Self::Otlp(otlp) => Some(otlp),
            Self::Embedded | Self::None => None,
        }
    }
}

impl OtlpExporter {
    /// To `url` (the full signal URL over HTTP, the collector's address over gRPC), with no
    /// extra header and the system's trust roots.
    pub fn new(url: impl Into<String>, protocol: OtlpProtocol) -> Self {
        Self {
            url: url.into(),
            headers: Vec::new(),
            protocol,
            certificate: None,
        }
    }
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("url", &redact_url(&self.url))
            .field("protocol", &self.protocol)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("certificate", &self.certificate)
            .finish()
    }
}
