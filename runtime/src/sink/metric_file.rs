//! The embedded metrics sink: each collection is one line of OTLP JSON
//! (`ExportMetricsServiceRequest`) in `metrics-<pid>.jsonl`, readable by any OTLP JSON tool.
//! Written on the SDK's periodic reader thread (a local file needs no queue). The file is
//! bounded by the worker's budget like the span file (see `sink::rotating`): older collections
//! move to `metrics-<pid>.1.jsonl`, then are discarded. With cumulative temporality (the
//! default) the newest line alone holds every total, so a discarded line loses no count.

use crate::sink::rotating::RotatingFile;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct MetricFileExporter {
    file: RotatingFile<u64>,
    temporality: Temporality,
    /// Whether the last collection was lost: problems are logged when they start.
    failing: AtomicBool,
}

impl MetricFileExporter {
    pub(crate) fn create(
        dir: &Path,
        pid: u32,
        limit: u64,
        temporality: Temporality,
    ) -> std::io::Result<Self> {
        Ok(Self {
            file: RotatingFile::open(dir, &format!("metrics-{pid}"), limit)?,
            temporality,
            failing: AtomicBool::new(false),
        })
    }

    fn write(&self, metrics: &ResourceMetrics) -> Result<(), String> {
        // A collection with no data point (nothing recorded yet) is not written.
        let Some(request) = crate::metric_collection::to_request(metrics) else {
            return Ok(());
        };
        let mut line =
            serde_json::to_vec(&request).map_err(|e| format!("encoding OTLP JSON: {e}"))?;
        line.push(b'\n');
        self.file
            .append(&line, 1)
            .written
            .map_err(|e| format!("writing the metrics file: {e}"))
    }
}

impl PushMetricExporter for MetricFileExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        match self.write(metrics) {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    crate::diag::log_warn!("the embedded metrics sink writes again");
                }
                Ok(())
            }
            Err(problem) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    crate::diag::log_warn!(
                        "the embedded metrics sink lost a collection: {problem}"
                    );
                }
                Err(OTelSdkError::InternalFailure(problem))
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    fn collected() -> Vec<ResourceMetrics> {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        let histogram = provider.meter("test").f64_histogram("d").build();
        histogram.record(0.5, &[]);
        histogram.record(1.5, &[]);
        provider.force_flush().expect("flushed");
        let collected = exporter.get_finished_metrics().expect("metrics");
        provider.shutdown().expect("shut down");
        collected
    }

    #[test]
    fn each_collection_is_one_otlp_json_line() {
        let dir = std::env::temp_dir().join(format!("forkline-metric-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let exporter =
            MetricFileExporter::create(&dir, 77, 1 << 20, Temporality::Cumulative).expect("file");
        let collected = collected();
        let one = collected.last().expect("one");
        exporter.write(one).expect("written");
        exporter.write(one).expect("written");
        exporter
            .write(&ResourceMetrics::default())
            .expect("nothing to write");
        let text = std::fs::read_to_string(dir.join("metrics-77.jsonl")).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let request: opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest =
            serde_json::from_str(lines[0]).expect("OTLP JSON");
        let metric = &request.resource_metrics[0].scope_metrics[0].metrics[0];
        assert_eq!(metric.name, "d");
        let text = serde_json::to_string(metric).expect("json");
        assert!(
            text.contains("\"count\":\"2\"") || text.contains("\"count\":2"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
