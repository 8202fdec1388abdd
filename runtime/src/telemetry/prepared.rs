//! Builds what the master prepares once, before forking, for every worker (see
//! `config::prepared`): the HTTP clients of the guarded paths.

use crate::config::prepared::Prepared;
use crate::config::{
    ExporterConfig, LogsExporterConfig, MetricsExporterConfig, OtlpProtocol, TelemetryConfig,
};
use crate::error::{Error, Result};

impl TelemetryConfig {
    /// Builds, once, what every worker will share through fork (the guarded paths' HTTP clients,
    /// with their TLS trust store). Thread-free: call it in the master, before forking.
    /// `Server::serve` does; code that forks by itself may.
    pub fn prepare(&mut self) -> Result<()> {
        self.prepared = Prepared::build(self)?;
        Ok(())
    }
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
                    crate::export::http_client::build(&settings.policy, &settings.headers)
                        .map_err(|e| Error::io("preparing the OTLP HTTP client", e))?,
                )
            }
            _ => None,
        };
        let otlp_metrics_http = match &config.metrics.exporter {
            MetricsExporterConfig::Otlp {
                headers,
                protocol: OtlpProtocol::HttpProtobuf,
                ..
            } if config.otel.enabled => Some(
                crate::export::http_client::build(&config.metrics.guard, headers)
                    .map_err(|e| Error::io("preparing the OTLP metrics HTTP client", e))?,
            ),
            _ => None,
        };
        let otlp_logs_http = match &config.logs.exporter {
            LogsExporterConfig::Otlp {
                headers,
                protocol: OtlpProtocol::HttpProtobuf,
                ..
            } if config.otel.enabled => Some(
                crate::export::http_client::build(&config.logs.guard, headers)
                    .map_err(|e| Error::io("preparing the OTLP logs HTTP client", e))?,
            ),
            _ => None,
        };
        let sentry_http = match &config.sentry.dsn {
            Some(_) if config.sentry.enabled => Some(
                crate::export::http_client::build(&config.sentry_guard, &[])
                    .map_err(|e| Error::io("preparing the Sentry HTTP client", e))?,
            ),
            _ => None,
        };
        Ok(Self {
            otlp_http,
            otlp_metrics_http,
            otlp_logs_http,
            sentry_http,
        })
    }
}
