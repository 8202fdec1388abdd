//! Where each signal goes, in the master's start line: one place an operator reads to see that
//! spans reach the collector and Sentry its host, or which signal fell back to files because a
//! variable is missing. Credentials are never part of it (a URL's user and password, a DSN's key,
//! header values).

use crate::config::endpoint::redact_url;
use crate::config::endpoint::OtlpProtocol;
use crate::config::exporter::ExporterConfig;
use crate::config::telemetry_config::TelemetryConfig;

impl TelemetryConfig {
    /// `spans → …; metrics → …; logs → …; Sentry → …`, each an OTLP URL with its protocol, the
    /// run folder's files, or `none`.
    pub(crate) fn destinations(&self) -> String {
        let otel = |exporter: &ExporterConfig| -> String {
            if !self.otel.enabled {
                return "none (OTEL_SDK_DISABLED)".into();
            }
            match exporter {
                ExporterConfig::Otlp(otlp) => {
                    let protocol = match otlp.protocol {
                        OtlpProtocol::HttpProtobuf => "http/protobuf",
                        OtlpProtocol::Grpc => "grpc",
                    };
                    let tls = if otlp.url.starts_with("https://") {
                        format!(", {}", crate::config::tls::IMPLEMENTATION)
                    } else {
                        String::new()
                    };
                    format!("{} ({protocol}{tls})", redact_url(&otlp.url))
                }
                ExporterConfig::Embedded => "files".into(),
                ExporterConfig::None => "none".into(),
            }
        };
        let sentry = match &self.sentry.dsn {
            _ if !self.sentry.enabled => "none".to_string(),
            // The DSN without its public key, which is a credential.
            Some(dsn) => format!(
                "{}://{}:{}/{}",
                dsn.scheme(),
                dsn.host(),
                dsn.port(),
                dsn.project_id()
            ),
            None => "files".into(),
        };
        let mut line = format!(
            "spans → {}; metrics → {}; logs → {}; Sentry → {sentry}",
            otel(&self.otel.exporter),
            otel(&self.metrics.exporter),
            otel(&self.logs.exporter),
        );
        if self.uses_embedded_sink() {
            line.push_str(&format!("; files in {}", self.run_dir.display()));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use crate::config::env::Env;
    use crate::config::hook_args::HookArgs;
    use crate::config::overrides::Telemetry;
    use crate::config::telemetry_config::TelemetryConfig;
    use crate::error::Result;

    fn line(pairs: &[(&str, &str)]) -> Result<String> {
        let env = Env::from_pairs(pairs.iter().copied());
        Ok(TelemetryConfig::resolve(&env, &HookArgs::NONE, &Telemetry::default())?.destinations())
    }

    #[test]
    fn each_signal_is_named_with_its_destination_and_no_secret() -> Result<()> {
        let shown = line(&[
            ("SENTRY_DSN", "https://hunter2key@sentry.example:9443/42"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://u:hunter2@c:4318/v1/traces",
            ),
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=hunter2"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])?;
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.starts_with("spans → http://redacted@c:4318/v1/traces (http/protobuf); ")
                && shown.contains("metrics → files;")
                && shown.contains("logs → none;")
                && shown.contains("Sentry → https://sentry.example:9443/42;")
                && shown.contains("; files in "),
            "{shown}"
        );
        Ok(())
    }

    #[test]
    fn a_dsn_is_not_reported_as_missing_when_only_otel_falls_back_to_files() -> Result<()> {
        let shown = line(&[("SENTRY_DSN", "https://key@sentry.example/7")])?;
        assert!(
            shown.starts_with("spans → files; metrics → files; logs → files; Sentry → https://sentry.example:443/7; files in "),
            "{shown}"
        );
        let shown = line(&[("OTEL_SDK_DISABLED", "true"), ("SENTRY_DSN", "")])?;
        assert_eq!(
            shown,
            "spans → none (OTEL_SDK_DISABLED); metrics → none (OTEL_SDK_DISABLED); logs → none \
             (OTEL_SDK_DISABLED); Sentry → none"
        );
        Ok(())
    }
}
