//! The embedded default: with no OTLP endpoint and no DSN, telemetry goes to files in the run
//! folder, within a byte budget per worker (rotated files), and the master keeps the folder within
//! a total budget by pruning the files of exited workers. Old default run folders in the
//! temporary directory are bounded in number too (`old_runs`).

pub(crate) mod log_file;
pub(crate) mod metric_file;
pub(crate) mod old_runs;
pub(crate) mod prune;
pub(crate) mod rotating;
pub(crate) mod sentry_file;
pub(crate) mod span_file;
