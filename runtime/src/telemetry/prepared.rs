//! Builds what the master prepares once, before forking, for every worker (see
//! `config::prepared`): the HTTP clients of the guarded paths.

use crate::config::prepared::Prepared;
use crate::config::{ExporterConfig, GuardConfig, OtlpProtocol, TelemetryConfig};
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
        let enabled = config.otel.enabled;
        let otlp = |exporter: &ExporterConfig, policy: &GuardConfig, what: &str| match exporter {
            ExporterConfig::Otlp(otlp)
                if enabled && otlp.protocol == OtlpProtocol::HttpProtobuf =>
            {
                crate::export::http_client::for_otlp(otlp, policy)
                    .map(Some)
                    .map_err(|e| Error::io(format!("preparing the OTLP {what} HTTP client"), e))
            }
            _ => Ok(None),
        };
        let sentry_http = match &config.sentry.dsn {
            Some(_) if config.sentry.enabled => Some(
                crate::export::http_client::build(&config.sentry_guard, &[], None)
                    .map_err(|e| Error::io("preparing the Sentry HTTP client", e))?,
            ),
            _ => None,
        };
        Ok(Self {
            otlp_http: otlp(&config.otel.exporter, &config.otlp_guard, "spans")?,
            otlp_metrics_http: otlp(&config.metrics.exporter, &config.metrics.guard, "metrics")?,
            otlp_logs_http: otlp(&config.logs.exporter, &config.logs.guard, "logs")?,
            sentry_http,
        })
    }
}
