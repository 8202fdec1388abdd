//! The OpenTelemetry metrics pipeline's configuration: where metrics go (`OTEL_METRICS_EXPORTER`,
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` or the base endpoint + `/v1/metrics`, headers as for
//! traces), how often they are collected (`OTEL_METRIC_EXPORT_INTERVAL`), how long an export may
//! take (`OTEL_METRIC_EXPORT_TIMEOUT`) and the temporality asked of the SDK
//! (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`). Plain data, resolved in the master.
//!
//! Metrics travel over OTLP/HTTP (protobuf) or, with the `grpc` feature, OTLP/gRPC
//! (`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`; over gRPC the
//! base endpoint is the collector's address as it is, `http://localhost:4317` by default).

use crate::config::env::Env;
use crate::config::exporter::ExporterConfig;
use crate::config::guard_config::GuardConfig;
use crate::config::hook_args::OtelArgs;
use crate::config::otlp_signal;
use crate::config::overrides::Telemetry;
pub use crate::config::temporality::MetricsTemporality;
use crate::error::Result;
use std::time::Duration;

/// The resolved metrics configuration of every worker.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsConfig {
    /// Where metrics go.
    pub exporter: ExporterConfig,
    /// `OTEL_METRIC_EXPORT_INTERVAL`: time between two collections (60 s by default).
    pub interval: Duration,
    /// `OTEL_METRIC_EXPORT_TIMEOUT`: the most one export attempt may take (30 s by default; the
    /// OTLP guard's attempt timeout, when shorter, wins).
    pub export_timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
    pub temporality: MetricsTemporality,
    /// The guard of the OTLP metrics path (the OTLP span guard, its attempt bounded by
    /// `export_timeout`, a queue of a few collections).
    pub guard: GuardConfig,
}

/// Collections waiting for delivery at most (one collection is one request).
const METRICS_QUEUE: usize = 16;

impl MetricsConfig {
    pub(crate) fn resolve(
        env: &Env,
        args: &OtelArgs,
        code: &Telemetry,
        otlp_guard: GuardConfig,
    ) -> Result<Self> {
        // The variables win over `post_fork(metrics(...))`, checked at compile time.
        let hook = &args.metrics;
        let interval = code
            .metrics_interval
            .map(Ok)
            .or_else(|| env.millis("OTEL_METRIC_EXPORT_INTERVAL").transpose())
            .transpose()?
            .or(hook.interval_ms.map(Duration::from_millis))
            .unwrap_or(Duration::from_millis(60_000));
        let export_timeout = env
            .millis("OTEL_METRIC_EXPORT_TIMEOUT")?
            .or(hook.timeout_ms.map(Duration::from_millis))
            .unwrap_or(Duration::from_millis(30_000));
        let parse = |v: &str| match v.to_ascii_lowercase().as_str() {
            "cumulative" => Some(MetricsTemporality::Cumulative),
            "delta" => Some(MetricsTemporality::Delta),
            "lowmemory" => Some(MetricsTemporality::LowMemory),
            _ => None,
        };
        let from_env = match env.get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            None => None,
            Some(v) => Some(parse(v).ok_or_else(|| {
                env.invalid(
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    "expected cumulative, delta or lowmemory",
                )
            })?),
        };
        let temporality = code
            .metrics_temporality
            .or(from_env)
            .or_else(|| hook.temporality.and_then(parse))
            .unwrap_or_default();
        let mut guard = otlp_guard;
        if let Some(t) = env.millis("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT")? {
            guard.attempt_timeout = t;
        }
        guard.attempt_timeout = guard.attempt_timeout.min(export_timeout);
        guard.connect_timeout = guard.connect_timeout.min(guard.attempt_timeout);
        guard.queue_capacity = METRICS_QUEUE;
        Ok(Self {
            exporter: exporter(env, args, code)?,
            interval,
            export_timeout,
            temporality,
            guard,
        })
    }
}

fn exporter(env: &Env, args: &OtelArgs, code: &Telemetry) -> Result<ExporterConfig> {
    if code.metrics_enabled == Some(false) {
        return Ok(ExporterConfig::None);
    }
    otlp_signal::resolve(
        env,
        args,
        code,
        otlp_signal::METRICS,
        None,
        args.metrics.exporter,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::profile::Profile;

    #[test]
    fn the_variables_win_over_the_hook_arguments() -> Result<()> {
        let args = OtelArgs {
            metrics: crate::config::hook_args::MetricsArgs {
                exporter: Some("none"),
                interval_ms: Some(10_000),
                timeout_ms: Some(5_000),
                temporality: Some("delta"),
            },
            ..OtelArgs::default()
        };
        let with = |pairs: &[(&str, &str)]| {
            MetricsConfig::resolve(
                &Env::from_pairs(pairs.iter().copied()),
                &args,
                &Telemetry::default(),
                GuardConfig::for_profile(Profile::Development),
            )
        };
        let hook = with(&[])?;
        assert_eq!(hook.interval, Duration::from_secs(10));
        assert_eq!(hook.export_timeout, Duration::from_secs(5));
        assert_eq!(hook.temporality, MetricsTemporality::Delta);
        assert!(matches!(hook.exporter, ExporterConfig::None));
        let env = with(&[
            ("OTEL_METRIC_EXPORT_INTERVAL", "2000"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "cumulative",
            ),
            ("OTEL_METRICS_EXPORTER", "embedded"),
        ])?;
        assert_eq!(env.interval, Duration::from_secs(2));
        assert_eq!(env.temporality, MetricsTemporality::Cumulative);
        assert!(matches!(env.exporter, ExporterConfig::Embedded));
        // Code wins over both; a bad variable is still an error.
        let code = Telemetry::new()
            .metrics_interval(Duration::from_millis(750))
            .metrics_temporality(MetricsTemporality::LowMemory)
            .metrics(false);
        let pairs = Env::from_pairs([
            ("OTEL_METRIC_EXPORT_INTERVAL", "2000"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        ]);
        let policy = GuardConfig::for_profile(Profile::Development);
        let coded = MetricsConfig::resolve(&pairs, &args, &code, policy)?;
        assert_eq!(coded.interval, Duration::from_millis(750));
        assert_eq!(coded.temporality, MetricsTemporality::LowMemory);
        assert!(matches!(coded.exporter, ExporterConfig::None));
        let bad = Env::from_pairs([("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "daily")]);
        assert!(MetricsConfig::resolve(&bad, &args, &code, policy).is_err());
        Ok(())
    }

    fn resolve(pairs: &[(&str, &str)]) -> Result<MetricsConfig> {
        MetricsConfig::resolve(
            &Env::from_pairs(pairs.iter().copied()),
            &OtelArgs::default(),
            &Telemetry::default(),
            GuardConfig::for_profile(Profile::Development),
        )
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        crate::error::message_of(resolve(pairs))
    }

    #[test]
    fn defaults_are_the_specified_ones_and_the_embedded_sink() -> Result<()> {
        let c = resolve(&[])?;
        assert_eq!(c.exporter, ExporterConfig::Embedded);
        assert_eq!(c.interval, Duration::from_millis(60_000));
        assert_eq!(c.export_timeout, Duration::from_millis(30_000));
        assert_eq!(c.temporality, MetricsTemporality::Cumulative);
        assert_eq!(c.guard.queue_capacity, METRICS_QUEUE);
        Ok(())
    }

    #[test]
    fn interval_timeout_and_temporality_are_read_and_the_timeout_bounds_an_attempt() -> Result<()> {
        let c = resolve(&[
            ("OTEL_METRIC_EXPORT_INTERVAL", "250"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "700"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
        ])?;
        assert_eq!(c.interval, Duration::from_millis(250));
        assert_eq!(c.export_timeout, Duration::from_millis(700));
        assert_eq!(c.guard.attempt_timeout, Duration::from_millis(700));
        assert!(c.guard.connect_timeout <= c.guard.attempt_timeout);
        assert_eq!(c.temporality, MetricsTemporality::Delta);
        let c = resolve(&[(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "lowmemory",
        )])?;
        assert_eq!(c.temporality, MetricsTemporality::LowMemory);
        Ok(())
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "0"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "-1"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "sometimes",
            ),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "ftp://x"),
        ] {
            let err = error_of(&[(name, value)]);
            let expected = if value == "ftp://x" { "http://" } else { name };
            assert!(err.contains(expected), "{name}={value}: {err:?}");
        }
    }
}
