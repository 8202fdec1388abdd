//! The embedded logs sink: each batch of log records is one line of OTLP JSON
//! (`ExportLogsServiceRequest`) in `logs-<pid>.jsonl`, readable by any OTLP JSON tool. Written
//! on the SDK's batch log processor thread (a local file needs no guard). The file is bounded by
//! the worker's budget like the span file (see `sink::rotating`): older records move to
//! `logs-<pid>.1.jsonl`, then are discarded; a batch whose line would not fit in one file's
//! share is written a record a line, and a record that alone does not fit is discarded. What it
//! writes, discards and fails to write is counted in the process's counters (the worker report's
//! `logs_*` figures).

use crate::sink::rotating::{NotWritten, RotatingFile};
use crate::stats::ProcessCounters;
use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};
use opentelemetry_sdk::Resource;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub(crate) struct LogFileExporter {
    file: RotatingFile<u64>,
    resource: ResourceAttributesWithSchema,
    /// The process's counters (a worker's, in its scoreboard record).
    counters: &'static ProcessCounters,
    /// Whether the last batch lost records: problems are logged when they start.
    failing: AtomicBool,
}

impl LogFileExporter {
    pub(crate) fn create(
        dir: &Path,
        pid: u32,
        limit: u64,
        counters: &'static ProcessCounters,
    ) -> std::io::Result<Self> {
        Ok(Self {
            file: RotatingFile::open(dir, &format!("logs-{pid}"), limit)?,
            resource: ResourceAttributesWithSchema::default(),
            counters,
            failing: AtomicBool::new(false),
        })
    }

    fn line(&self, records: &[(&SdkLogRecord, &InstrumentationScope)]) -> Result<Vec<u8>, String> {
        let request = ExportLogsServiceRequest {
            resource_logs: group_logs_by_resource_and_scope(
                &LogBatch::new(records),
                &self.resource,
            ),
        };
        let mut line =
            serde_json::to_vec(&request).map_err(|e| format!("encoding OTLP JSON: {e}"))?;
        line.push(b'\n');
        Ok(line)
    }

    /// Writes `records` as one line, or a record a line when that line is too large.
    fn write(&self, records: &[(&SdkLogRecord, &InstrumentationScope)]) -> Result<(), String> {
        if records.is_empty() {
            return Ok(());
        }
        let n = records.len() as u64;
        let c = self.counters;
        let line = self.line(records).inspect_err(|_| {
            ProcessCounters::add(&c.logs_write_failed, n);
        })?;
        let appended = self.file.append(&line, n);
        ProcessCounters::add(&c.logs_budget_rotated, appended.discarded);
        match appended.written {
            Ok(()) => {
                ProcessCounters::add(&c.logs_written, n);
                Ok(())
            }
            Err(NotWritten::TooLarge { .. }) if n > 1 => {
                let mut problem = Ok(());
                for record in records {
                    if let Err(e) = self.write(std::slice::from_ref(record)) {
                        problem = Err(e);
                    }
                }
                problem
            }
            Err(e @ NotWritten::TooLarge { .. }) => {
                ProcessCounters::add(&c.logs_budget_refused, n);
                Err(format!("a log record was discarded: {e}"))
            }
            Err(NotWritten::Io(e)) => {
                ProcessCounters::add(&c.logs_write_failed, n);
                Err(format!("writing the logs file: {e}"))
            }
        }
    }

    /// Records written so far, and records the budget discarded.
    #[cfg(test)]
    fn counts(&self) -> (u64, u64) {
        let s = crate::stats::snapshot(self.counters);
        (s.logs_written, s.logs_discarded_budget)
    }
}

impl LogExporter for LogFileExporter {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let records: Vec<_> = batch.iter().collect();
        match self.write(&records) {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    crate::diag::log_warn!("the embedded logs sink writes again");
                }
                Ok(())
            }
            Err(problem) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    crate::diag::log_warn!("the embedded logs sink lost records: {problem}");
                }
                Err(OTelSdkError::InternalFailure(problem))
            }
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider};

    fn records(bodies: &[&str]) -> Vec<(SdkLogRecord, InstrumentationScope)> {
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let logger = provider.logger("test");
        for body in bodies {
            let mut record = logger.create_log_record();
            record.set_body(AnyValue::from(body.to_string()));
            logger.emit(record);
        }
        exporter
            .get_emitted_logs()
            .expect("logs")
            .into_iter()
            .map(|l| (l.record, l.instrumentation))
            .collect()
    }

    /// Counters of this test's own, not the process's.
    fn fresh_counters() -> &'static ProcessCounters {
        Box::leak(Box::default())
    }

    fn dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("forkline-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    #[test]
    fn each_batch_is_one_otlp_json_line_with_the_resource() {
        let dir = dir("log-file");
        let mut exporter =
            LogFileExporter::create(&dir, 77, 1 << 20, fresh_counters()).expect("file");
        exporter.set_resource(
            &Resource::builder_empty()
                .with_attributes([opentelemetry::KeyValue::new("process.pid", 77_i64)])
                .build(),
        );
        let owned = records(&["one", "two"]);
        let batch: Vec<_> = owned.iter().map(|(r, s)| (r, s)).collect();
        exporter.write(&batch).expect("written");
        exporter.write(&[]).expect("nothing to write");
        let text = std::fs::read_to_string(dir.join("logs-77.jsonl")).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let request: ExportLogsServiceRequest = serde_json::from_str(lines[0]).expect("OTLP JSON");
        let rl = &request.resource_logs[0];
        assert_eq!(rl.scope_logs[0].log_records.len(), 2);
        assert!(lines[0].contains("process.pid") && lines[0].contains("\"two\""));
        assert_eq!(exporter.counts(), (2, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_too_large_for_the_budget_goes_a_record_a_line_and_an_oversized_record_is_counted() {
        let dir = dir("log-file-budget");
        let big = "x".repeat(700);
        let exporter = LogFileExporter::create(&dir, 78, 1000, fresh_counters()).expect("file");
        let owned = records(&["a", "b", &big, "c"]);
        let batch: Vec<_> = owned.iter().map(|(r, s)| (r, s)).collect();
        assert!(exporter.write(&batch[..2]).is_ok());
        let problem = exporter
            .write(&batch)
            .expect_err("one record alone is too large");
        assert!(problem.contains("discarded"), "{problem}");
        let (written, discarded) = exporter.counts();
        assert_eq!(written, 5, "all but the oversized record");
        // Nothing is lost uncounted: discarded = emitted - on disk.
        let on_disk: usize = ["logs-78.jsonl", "logs-78.1.jsonl"]
            .iter()
            .filter_map(|name| std::fs::read_to_string(dir.join(name)).ok())
            .flat_map(|text| {
                text.lines()
                    .map(|line| {
                        let request: ExportLogsServiceRequest =
                            serde_json::from_str(line).expect("OTLP JSON");
                        request.resource_logs[0].scope_logs[0].log_records.len()
                    })
                    .collect::<Vec<_>>()
            })
            .sum();
        assert_eq!(on_disk as u64 + discarded, 6, "{on_disk} + {discarded}");
        assert!(discarded >= 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
