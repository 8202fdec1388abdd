//! The `tracing` level thresholds of what the `tracing` bridge hands to Sentry and to OTel logs:
//! plain data, resolved from code over a variable (`FORKLINE_SENTRY_*_LEVEL`, `RUST_LOG`) over a
//! default.

use crate::config::env::Env;
use crate::error::Result;

/// A `tracing` level threshold for what the `tracing` bridge hands on (feature `tracing`):
/// events at this level or more severe. `Off` hands over nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// `ERROR` only.
    Error,
    /// `WARN` and more severe.
    Warn,
    /// `INFO` and more severe.
    Info,
    /// `DEBUG` and more severe.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// Reads `off`, `error`, `warn`, `info`, `debug` or `trace` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => Self::Off,
            "error" => Self::Error,
            "warn" | "warning" => Self::Warn,
            "info" => Self::Info,
            "debug" => Self::Debug,
            "trace" => Self::Trace,
            _ => return None,
        })
    }

    pub(crate) fn resolve(
        env: &Env,
        name: &str,
        code: Option<Self>,
        default: Self,
    ) -> Result<Self> {
        if let Some(level) = code {
            return Ok(level);
        }
        match env.get(name) {
            None => Ok(default),
            Some(text) => Self::parse(text).ok_or_else(|| {
                env.invalid(name, "expected off, error, warn, info, debug or trace")
            }),
        }
    }
}

/// Which `tracing` events become log records, by target, as `RUST_LOG` says: a default level
/// and `target=level` directives, the longest matching target prefix winning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogFilter {
    /// The level for targets no directive names (`info` by default).
    pub default: LogLevel,
    /// `(target prefix, level)` directives, in the order given.
    pub targets: Vec<(String, LogLevel)>,
}

impl Default for LogFilter {
    fn default() -> Self {
        Self {
            default: LogLevel::Info,
            targets: Vec::new(),
        }
    }
}

impl LogFilter {
    /// Reads `RUST_LOG`'s plain form: comma-separated `level`, `target=level` or `target` (all
    /// levels of that target). Span and field filters (`[...]`, `{...}`) and regular
    /// expressions (`/...`) are not supported: `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut filter = Self::default();
        for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            if directive.contains(['[', ']', '{', '}', '/', ' ']) {
                return None;
            }
            match directive.split_once('=') {
                Some((target, level)) => {
                    let level = LogLevel::parse(level)?;
                    if target.is_empty() {
                        return None;
                    }
                    filter.targets.push((target.to_string(), level));
                }
                None => match LogLevel::parse(directive) {
                    Some(level) => filter.default = level,
                    None => filter
                        .targets
                        .push((directive.to_string(), LogLevel::Trace)),
                },
            }
        }
        Some(filter)
    }
}
