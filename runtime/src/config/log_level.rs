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
