//! The embedded default: with no OTLP endpoint and no DSN, telemetry goes to files in the run
//! folder, within a byte budget per worker, and every worker leaves a report there when it exits.

pub(crate) mod prune;
pub(crate) mod report;
pub(crate) mod rotating;
pub(crate) mod sentry_file;
pub(crate) mod span_file;
