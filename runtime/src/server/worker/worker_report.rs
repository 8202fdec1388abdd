//! The report each worker leaves in the run folder when it exits: what its telemetry did.

use crate::stats::Stats;
use crate::telemetry::teardown::TeardownReport;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One worker's account of its telemetry, written as `worker-<pid>.json` at exit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkerReport {
    /// The worker's slot.
    pub worker_id: usize,
    /// Its process id.
    pub pid: u32,
    /// Threads in the process when `post_fork` began (1 = single-threaded, as it must be).
    pub threads_at_post_fork: usize,
    /// Time spent in forkline's generated setup at boot.
    #[serde(default)]
    pub boot: BootTimes,
    /// Its counters at exit.
    pub stats: Stats,
    /// How its telemetry shut down.
    pub shutdown: TeardownReport,
    /// The guarded OTLP traces pipeline's figures at exit, in spans (`None` unless spans go to
    /// OTLP).
    #[serde(default, alias = "otlp")]
    pub traces: Option<crate::export::figures::PipelineHealth>,
    /// The guarded Sentry transport's figures at exit, in envelopes (`None` without a DSN).
    #[serde(default)]
    pub sentry: Option<crate::export::figures::PipelineHealth>,
    /// The guarded OTLP metrics pipeline's figures at exit, in collections (`None` unless
    /// metrics go to OTLP).
    #[serde(default)]
    pub metrics: Option<crate::export::figures::PipelineHealth>,
    /// The guarded OTLP logs pipeline's figures at exit, in log records (`None` unless logs go
    /// to OTLP).
    #[serde(default)]
    pub logs: Option<crate::export::figures::PipelineHealth>,
    /// Connections and requests this worker served.
    #[serde(default)]
    pub serving: crate::server::Serving,
    /// The `max_requests` limit this worker drew (`None`: no limit). The worker was recycled
    /// when `serving.requests_served` reached it.
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// The master aborted this worker because its runtime made no progress for its `timeout`.
    #[serde(default)]
    pub timed_out: bool,
}

impl WorkerReport {
    pub(crate) fn write(&self, dir: &Path) -> std::io::Result<()> {
        write_report(dir, "worker", self.pid, self)
    }
}

/// Time spent in the generated telemetry setup of a worker's boot (not in the user's hooks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BootTimes {
    /// The OTel base in `post_fork`, in microseconds.
    pub post_fork_setup_us: u64,
    /// Sentry, its span processor and the propagators in `worker_init`, in microseconds.
    pub worker_init_setup_us: u64,
}

/// Every worker report in `dir`, ordered by worker slot then pid.
pub fn read_reports(dir: &Path) -> std::io::Result<Vec<WorkerReport>> {
    let mut reports: Vec<WorkerReport> = read_report_files(dir, "worker")?;
    reports.sort_by_key(|r| (r.worker_id, r.pid));
    Ok(reports)
}

/// Writes `report` as `<kind>-<pid>.json` in `dir`, renamed into place so that a reader never
/// sees half a report (worker and master reports).
pub(crate) fn write_report(
    dir: &Path,
    kind: &str,
    pid: u32,
    report: &impl Serialize,
) -> std::io::Result<()> {
    let path = dir.join(format!("{kind}-{pid}.json"));
    let tmp = dir.join(format!(".{kind}-{pid}.json.tmp"));
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(tmp, path)
}

/// Every `<kind>-*.json` report in `dir`, in directory order.
pub(crate) fn read_report_files<T: serde::de::DeserializeOwned>(
    dir: &Path,
    kind: &str,
) -> std::io::Result<Vec<T>> {
    let prefix = format!("{kind}-");
    let mut reports = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_report = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".json"));
        if is_report {
            let bytes = std::fs::read(&path)?;
            reports.push(serde_json::from_slice(&bytes).map_err(std::io::Error::other)?);
        }
    }
    Ok(reports)
}
