//! The embedded sink's byte budgets, per worker (`FORKLINE_EMBEDDED_BUDGET_BYTES`,
//! `Telemetry::embedded_budget_bytes`) and for the whole run folder
//! (`FORKLINE_EMBEDDED_TOTAL_BUDGET_BYTES`, `Telemetry::embedded_total_budget_bytes`), and the
//! start-up warning for a production service whose telemetry only reaches local files. A service
//! that reaches production with its endpoint and DSN missing must neither fill the disk, even
//! when its workers crash in a loop, nor do so quietly.

use crate::config::env::Env;
use crate::config::overrides::Telemetry;
use crate::error::{Error, Result};

/// 64 MiB per worker: hours of a busy worker's spans, and a bound a small disk survives.
pub const DEFAULT_EMBEDDED_BUDGET_BYTES: u64 = 64 * 1024 * 1024;

/// Below this, one file's share would not hold a single Sentry event with a backtrace.
pub const MIN_EMBEDDED_BUDGET_BYTES: u64 = 16 * 1024;

/// The default total budget, in per-worker budgets (1 GiB with the 64 MiB default). The total
/// only ever prunes the files of workers that have exited, so it never cuts a live worker short;
/// sixteen budgets keep the last files of a dozen or more crashed workers next to those of a
/// typical server's live ones, for a post-mortem, and scale with the per-worker budget so
/// raising that alone does not leave exited workers' files pruned as soon as they are reaped.
pub const DEFAULT_EMBEDDED_TOTAL_BUDGET_WORKERS: u64 = 16;

const VARIABLE: &str = "FORKLINE_EMBEDDED_BUDGET_BYTES";
const TOTAL_VARIABLE: &str = "FORKLINE_EMBEDDED_TOTAL_BUDGET_BYTES";

pub(crate) fn resolve_budget(env: &Env, code: &Telemetry) -> Result<u64> {
    bytes_at_least(
        env,
        (
            code.embedded_budget_bytes,
            "Telemetry::embedded_budget_bytes",
        ),
        VARIABLE,
        (
            MIN_EMBEDDED_BUDGET_BYTES,
            &format!("{MIN_EMBEDDED_BUDGET_BYTES} bytes"),
        ),
        DEFAULT_EMBEDDED_BUDGET_BYTES,
    )
}

/// The total budget of the run folder's telemetry files, given the resolved per-worker `budget`.
pub(crate) fn resolve_total_budget(env: &Env, code: &Telemetry, budget: u64) -> Result<u64> {
    bytes_at_least(
        env,
        (
            code.embedded_total_budget_bytes,
            "Telemetry::embedded_total_budget_bytes",
        ),
        TOTAL_VARIABLE,
        (budget, &format!("the per-worker budget ({budget} bytes)")),
        budget.saturating_mul(DEFAULT_EMBEDDED_TOTAL_BUDGET_WORKERS),
    )
}

/// A byte count set in code (which wins), else by `variable`, else `default`; either way at
/// least `min`, which the errors describe as `floor`.
fn bytes_at_least(
    env: &Env,
    (code, code_name): (Option<u64>, &str),
    variable: &str,
    (min, floor): (u64, &str),
    default: u64,
) -> Result<u64> {
    if let Some(bytes) = code {
        if bytes < min {
            return Err(Error::config(
                code_name,
                format!("must be at least {floor}; got {bytes}"),
            ));
        }
        return Ok(bytes);
    }
    match env.get(variable) {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(bytes) if bytes >= min => Ok(bytes),
            _ => Err(env.invalid(
                variable,
                &format!("expected a whole number of bytes, at least {floor}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::hook_args::HookArgs;
    use crate::config::TelemetryConfig;

    fn config(pairs: &[(&str, &str)], code: &Telemetry) -> Result<TelemetryConfig> {
        TelemetryConfig::resolve(
            &Env::from_pairs(pairs.iter().copied()),
            &HookArgs::NONE,
            code,
        )
    }

    #[test]
    fn budget_defaults_reads_its_variable_and_code_wins() -> Result<()> {
        let c = config(&[], &Telemetry::new())?;
        assert_eq!(c.embedded_budget_bytes, DEFAULT_EMBEDDED_BUDGET_BYTES);
        // Spans, metrics, logs and Sentry all embedded: eight files, an eighth each.
        assert_eq!(c.embedded_file_limit(), DEFAULT_EMBEDDED_BUDGET_BYTES / 8);
        let c = config(&[(VARIABLE, "65536")], &Telemetry::new())?;
        assert_eq!(c.embedded_budget_bytes, 65536);
        let c = config(
            &[(VARIABLE, "65536")],
            &Telemetry::new().embedded_budget_bytes(1 << 20),
        )?;
        assert_eq!(c.embedded_budget_bytes, 1 << 20);
        // Sentry off: the span files get the whole budget.
        let c = config(
            &[
                (VARIABLE, "65536"),
                ("SENTRY_DSN", ""),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
            ],
            &Telemetry::new(),
        )?;
        assert_eq!(c.embedded_file_limit(), 32768);
        Ok(())
    }

    #[test]
    fn a_bad_budget_names_its_source() {
        for bad in ["lots", "-1", "1024", "0"] {
            let err = config(&[(VARIABLE, bad)], &Telemetry::new())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(VARIABLE), "{bad}: {err}");
        }
        let err = config(&[], &Telemetry::new().embedded_budget_bytes(10))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("Telemetry::embedded_budget_bytes"), "{err}");
    }

    #[test]
    fn total_budget_defaults_to_sixteen_workers_reads_its_variable_and_code_wins() -> Result<()> {
        let c = config(&[], &Telemetry::new())?;
        assert_eq!(c.embedded_total_budget_bytes, 1 << 30);
        // The default follows a per-worker budget given anywhere.
        let c = config(&[(VARIABLE, "65536")], &Telemetry::new())?;
        assert_eq!(c.embedded_total_budget_bytes, 16 * 65536);
        let c = config(
            &[(TOTAL_VARIABLE, "200000"), (VARIABLE, "65536")],
            &Telemetry::new(),
        )?;
        assert_eq!(c.embedded_total_budget_bytes, 200_000);
        let c = config(
            &[(TOTAL_VARIABLE, "200000"), (VARIABLE, "65536")],
            &Telemetry::new().embedded_total_budget_bytes(65536),
        )?;
        assert_eq!(c.embedded_total_budget_bytes, 65536);
        Ok(())
    }

    #[test]
    fn a_bad_total_budget_names_its_source() {
        // Below the per-worker budget, whether that is the default or set: one worker's files
        // alone would then be over the total.
        for (bad, budget) in [
            ("lots", "65536"),
            ("-1", "65536"),
            ("65535", "65536"),
            ("1048576", ""),
        ] {
            let mut pairs = vec![(TOTAL_VARIABLE, bad)];
            if !budget.is_empty() {
                pairs.push((VARIABLE, budget));
            }
            let err = config(&pairs, &Telemetry::new())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(TOTAL_VARIABLE), "{bad}: {err}");
        }
        let err = config(
            &[],
            &Telemetry::new()
                .embedded_budget_bytes(1 << 20)
                .embedded_total_budget_bytes((1 << 20) - 1),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("Telemetry::embedded_total_budget_bytes"),
            "{err}"
        );
    }

    #[test]
    fn production_warns_only_about_local_files() -> Result<()> {
        let prod = [("FORKLINE_PROFILE", "production")];
        let warning = config(&prod, &Telemetry::new())?.production_local_files_warning();
        assert!(
            warning
                .as_deref()
                .is_some_and(|w| w.contains("telemetry is going to local files only")),
            "{warning:?}"
        );
        assert!(config(&[], &Telemetry::new())?
            .production_local_files_warning()
            .is_none());
        let off = config(
            &[
                ("FORKLINE_PROFILE", "production"),
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_LOGS_EXPORTER", "none"),
                ("SENTRY_DSN", ""),
            ],
            &Telemetry::new(),
        )?;
        assert!(!off.uses_embedded_sink());
        assert!(off.production_local_files_warning().is_none());
        Ok(())
    }
}
