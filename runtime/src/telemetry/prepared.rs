//! What the master prepares once, before forking, for every worker: thread-free and immutable,
//! so it is safe to inherit. Today that is the HTTP clients of the guarded paths, whose TLS
//! trust store would otherwise be loaded again by every worker at boot.

use crate::config::{ExporterConfig, OtlpProtocol, TelemetryConfig};
use crate::error::{Error, Result};

/// Prepared in the master, inherited by every worker.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub(crate) otlp_http: Option<reqwest::Client>,
    pub(crate) sentry_http: Option<reqwest::Client>,
}

impl Prepared {
    /// Builds what `config` will need in the workers.
    pub(crate) fn build(config: &TelemetryConfig) -> Result<Self> {
        let otlp_http = match &config.otel.exporter {
            ExporterConfig::Otlp {
                protocol: OtlpProtocol::HttpProtobuf,
                ..
            } if config.otel.enabled => {
                let settings = crate::telemetry::otel_pipeline::otlp_settings(config)
                    .ok_or_else(|| Error::Telemetry("no OTLP settings".into()))?;
                Some(
                    crate::guard::http_client(&settings.policy, &settings.headers)
                        .map_err(|e| Error::io("preparing the OTLP HTTP client", e))?,
                )
            }
            _ => None,
        };
        let sentry_http = match &config.sentry.dsn {
            Some(_) if config.sentry.enabled => Some(
                crate::guard::http_client(&config.sentry_guard, &[])
                    .map_err(|e| Error::io("preparing the Sentry HTTP client", e))?,
            ),
            _ => None,
        };
        Ok(Self {
            otlp_http,
            sentry_http,
        })
    }
}
