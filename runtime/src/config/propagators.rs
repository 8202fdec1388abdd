//! Which context propagators a worker installs (`OTEL_PROPAGATORS`, which the OTel Rust SDK
//! itself does not read).

use crate::config::env::Env;
use crate::error::{Error, Result};

/// One propagator by its `OTEL_PROPAGATORS` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropagatorKind {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// Sentry's `sentry-trace`.
    Sentry,
}

const DEFAULT: &str = "tracecontext,baggage,sentry";

pub(crate) fn resolve(env: &Env, macro_arg: Option<&str>) -> Result<Vec<PropagatorKind>> {
    let (list, source) = match env.get("OTEL_PROPAGATORS") {
        Some(list) => (list, "OTEL_PROPAGATORS"),
        None => (macro_arg.unwrap_or(DEFAULT), "#[worker_init(propagators)]"),
    };
    let mut kinds = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = match name {
            "tracecontext" => PropagatorKind::TraceContext,
            "baggage" => PropagatorKind::Baggage,
            "sentry" => PropagatorKind::Sentry,
            "none" => return Ok(Vec::new()),
            other => {
                return Err(Error::config(
                    source,
                    format!(
                        "propagator {other:?} is not supported; use a comma-separated list of \
                         tracecontext, baggage, sentry (or none)"
                    ),
                ))
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_standard_variable_first() -> Result<()> {
        let env = Env::from_pairs([("OTEL_PROPAGATORS", "baggage, tracecontext")]);
        assert_eq!(
            resolve(&env, Some("sentry"))?,
            vec![PropagatorKind::Baggage, PropagatorKind::TraceContext]
        );
        assert_eq!(resolve(&Env::default(), None)?.len(), 3);
        assert!(resolve(&Env::from_pairs([("OTEL_PROPAGATORS", "none")]), None)?.is_empty());
        let err = resolve(&Env::from_pairs([("OTEL_PROPAGATORS", "b3")]), None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("OTEL_PROPAGATORS") && err.contains("b3"),
            "{err}"
        );
        Ok(())
    }
}
