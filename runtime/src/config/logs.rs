//! The OpenTelemetry logs pipeline's configuration: where log records go (`OTEL_LOGS_EXPORTER`,
//! `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` or the base endpoint + `/v1/logs`, headers as for
//! traces; over OTLP/HTTP, or OTLP/gRPC with the `grpc` feature and
//! `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL` set to `grpc`, the base
//! endpoint then used as it is; see `otlp_signal`), how they are batched (`OTEL_BLRP_*`, the specification's
//! defaults) and, with feature `tracing`, which `tracing` events become log records (`RUST_LOG`,
//! `info` by default). Plain data, resolved in the master.

use crate::config::batch::BatchSettings;
use crate::config::env::Env;
use crate::config::exporter::ExporterConfig;
use crate::config::guard_config::GuardConfig;
use crate::config::hook_args::OtelArgs;
use crate::config::log_level::LogFilter;
#[cfg(test)]
use crate::config::log_level::LogLevel;
use crate::config::otlp_signal;
use crate::config::overrides::Telemetry;
use crate::error::Result;
use std::time::Duration;

/// The resolved logs configuration of every worker.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogsConfig {
    /// Where log records go.
    pub exporter: ExporterConfig,
    /// How records are batched (`OTEL_BLRP_*`).
    pub batch: BatchSettings,
    /// Which `tracing` events become log records (feature `tracing`; `RUST_LOG`).
    pub filter: LogFilter,
    /// The guard of the OTLP logs path (the OTLP span guard, its queue
    /// `OTEL_BLRP_MAX_QUEUE_SIZE`, its attempt bounded by `OTEL_BLRP_EXPORT_TIMEOUT`).
    pub guard: GuardConfig,
}

impl LogsConfig {
    pub(crate) fn resolve(
        env: &Env,
        args: &OtelArgs,
        code: &Telemetry,
        otlp_guard: GuardConfig,
    ) -> Result<Self> {
        let hook_delay = args.logs.schedule_delay_ms.map(Duration::from_millis);
        let batch = BatchSettings::resolve(env, "OTEL_BLRP", Duration::from_secs(1), hook_delay)?;
        let mut guard = otlp_guard;
        if let Some(t) = env.millis("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT")? {
            guard.attempt_timeout = t;
        }
        guard.attempt_timeout = guard.attempt_timeout.min(batch.export_timeout);
        guard.connect_timeout = guard.connect_timeout.min(guard.attempt_timeout);
        guard.queue_capacity = batch.max_queue_size;
        let exporter = if code.logs_enabled == Some(false) {
            ExporterConfig::None
        } else {
            otlp_signal::resolve(env, args, code, otlp_signal::LOGS, None, args.logs.exporter)?
        };
        Ok(Self {
            exporter,
            batch,
            filter: match (&code.logs_filter, filter(env, args)?) {
                // Read (and checked) either way; code wins.
                (Some(code), _) => code.clone(),
                (None, read) => read,
            },
            guard,
        })
    }
}

/// `RUST_LOG`, read only with feature `tracing` (without it no `tracing` event is bridged, and a
/// `RUST_LOG` meant for another logger must not stop start-up).
fn filter(env: &Env, args: &OtelArgs) -> Result<LogFilter> {
    if !cfg!(feature = "tracing") {
        return Ok(LogFilter::default());
    }
    match env.get("RUST_LOG") {
        // `post_fork(logs(level = ...))`, checked at compile time with the same grammar.
        None => Ok(args
            .logs
            .level
            .and_then(LogFilter::parse)
            .unwrap_or_default()),
        Some(text) => LogFilter::parse(text).ok_or_else(|| {
            env.invalid(
                "RUST_LOG",
                "expected comma-separated `level`, `target=level` or `target` directives \
                 (levels: off, error, warn, info, debug, trace; span and field filters are not \
                 supported)",
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::profile::Profile;

    #[test]
    fn code_turns_logs_off_and_sets_the_filter_over_the_variable() -> Result<()> {
        let env = Env::from_pairs([("RUST_LOG", "debug"), ("OTEL_LOGS_EXPORTER", "embedded")]);
        let policy = GuardConfig::for_profile(crate::config::profile::Profile::Development);
        let filter = LogFilter::parse("warn,shop=trace").expect("a filter");
        let code = Telemetry::new().logs(false).logs_filter(filter.clone());
        let c = LogsConfig::resolve(&env, &OtelArgs::default(), &code, policy)?;
        assert!(matches!(c.exporter, ExporterConfig::None));
        if cfg!(feature = "tracing") {
            assert_eq!(c.filter, filter);
        }
        let bad = Env::from_pairs([("RUST_LOG", "[span]=debug")]);
        if cfg!(feature = "tracing") {
            assert!(LogsConfig::resolve(&bad, &OtelArgs::default(), &code, policy).is_err());
        }
        Ok(())
    }

    fn resolve(pairs: &[(&str, &str)]) -> Result<LogsConfig> {
        LogsConfig::resolve(
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
        assert_eq!(
            (
                c.batch.max_queue_size,
                c.batch.scheduled_delay,
                c.batch.max_export_batch_size,
                c.batch.export_timeout
            ),
            (
                2048,
                Duration::from_millis(1000),
                512,
                Duration::from_millis(30_000)
            )
        );
        assert_eq!(c.guard.queue_capacity, 2048);
        assert_eq!(c.filter, LogFilter::default());
        assert_eq!(c.filter.default, LogLevel::Info);
        Ok(())
    }

    #[test]
    fn batching_is_read_and_the_export_timeout_bounds_an_attempt() -> Result<()> {
        let c = resolve(&[
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "10"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "250"),
            ("OTEL_BLRP_EXPORT_TIMEOUT", "700"),
        ])?;
        assert_eq!(c.batch.max_queue_size, 100);
        assert_eq!(c.guard.queue_capacity, 100);
        assert_eq!(c.batch.max_export_batch_size, 10);
        assert_eq!(c.batch.scheduled_delay, Duration::from_millis(250));
        assert_eq!(c.guard.attempt_timeout, Duration::from_millis(700));
        assert!(c.guard.connect_timeout <= c.guard.attempt_timeout);
        Ok(())
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("OTEL_BLRP_SCHEDULE_DELAY", "soon"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "-1"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "lots"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "many"),
            ("OTEL_BLRP_EXPORT_TIMEOUT", "1.5s"),
            ("OTEL_LOGS_EXPORTER", "console"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "ftp://x"),
        ] {
            let err = error_of(&[(name, value)]);
            let expected = if value == "ftp://x" { "http://" } else { name };
            assert!(err.contains(expected), "{name}={value}: {err:?}");
        }
        let err = error_of(&[
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "10"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "20"),
        ]);
        assert!(
            err.contains("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE") && err.contains("(10)"),
            "{err}"
        );
    }

    #[test]
    fn rust_log_directives_are_read_and_unsupported_ones_refused() {
        assert_eq!(LogFilter::parse(""), Some(LogFilter::default()));
        assert_eq!(
            LogFilter::parse("warn, checkout=debug ,hyper=off,my_crate"),
            Some(LogFilter {
                default: LogLevel::Warn,
                targets: vec![
                    ("checkout".into(), LogLevel::Debug),
                    ("hyper".into(), LogLevel::Off),
                    ("my_crate".into(), LogLevel::Trace),
                ],
            })
        );
        for bad in [
            "info,h=loud",
            "[span]=debug",
            "h[{x}]=info",
            "info/foo",
            "=info",
        ] {
            assert_eq!(LogFilter::parse(bad), None, "{bad}");
        }
    }

    #[cfg(feature = "tracing")]
    #[test]
    fn a_bad_rust_log_names_the_variable() -> Result<()> {
        assert!(error_of(&[("RUST_LOG", "info,[span]=debug")]).contains("RUST_LOG"));
        assert_eq!(
            resolve(&[("RUST_LOG", "error")])?.filter.default,
            LogLevel::Error
        );
        Ok(())
    }
}
