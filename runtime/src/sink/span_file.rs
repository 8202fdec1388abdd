//! The embedded span sink: each exported batch is one line of OTLP JSON
//! (`ExportTraceServiceRequest`) in `spans-<pid>.jsonl`, readable by any OTLP JSON tool. The
//! file is bounded by the worker's budget (see `sink::rotating`): older spans move to
//! `spans-<pid>.1.jsonl`, then are discarded and counted. The exporter counts its own spans
//! (written, failed, discarded) because only it knows which part of a batch went where.

use crate::sink::rotating::{NotWritten, RotatingFile};
use crate::stats::{counters, ProcessCounters};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub(crate) struct SpanFileExporter {
    file: RotatingFile<u64>,
    resource: ResourceAttributesWithSchema,
    /// Whether the last batch lost spans: problems are logged when they start, not per batch.
    failing: AtomicBool,
}

impl SpanFileExporter {
    pub(crate) fn create(dir: &Path, pid: u32, limit: u64) -> std::io::Result<Self> {
        Ok(Self {
            file: RotatingFile::open(dir, &format!("spans-{pid}"), limit)?,
            resource: ResourceAttributesWithSchema::default(),
            failing: AtomicBool::new(false),
        })
    }

    /// Writes `request` as one line, or, when that line would exceed a file's share of the
    /// budget, as two halves (recursively): a big batch never costs more than the spans that
    /// truly do not fit.
    fn write(&self, request: ExportTraceServiceRequest, problem: &mut Option<String>) {
        let n = span_count(&request);
        if n == 0 {
            return;
        }
        let mut line = match serde_json::to_vec(&request) {
            Ok(line) => line,
            Err(e) => {
                ProcessCounters::add(&counters().spans_export_failed, n);
                *problem = Some(format!("encoding OTLP JSON: {e}"));
                return;
            }
        };
        line.push(b'\n');
        let appended = self.file.append(&line, n);
        ProcessCounters::add(&counters().spans_budget_rotated, appended.discarded);
        match appended.written {
            Ok(()) => ProcessCounters::add(&counters().spans_exported, n),
            Err(NotWritten::TooLarge { .. }) if n > 1 => {
                let [first, second] = halves(request);
                self.write(first, problem);
                self.write(second, problem);
            }
            Err(e @ NotWritten::TooLarge { .. }) => {
                ProcessCounters::add(&counters().spans_budget_refused, n);
                *problem = Some(format!("a span was discarded: {e}"));
            }
            Err(NotWritten::Io(e)) => {
                ProcessCounters::add(&counters().spans_export_failed, n);
                *problem = Some(format!("writing the span file: {e}"));
            }
        }
    }
}

impl SpanExporter for SpanFileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let mut problem = None;
        self.write(request, &mut problem);
        match problem {
            None => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    crate::diag::log_warn!("the embedded span sink writes again");
                }
                Ok(())
            }
            Some(problem) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    crate::diag::log_warn!(
                        "the embedded span sink lost spans (counted in the worker report): {problem}"
                    );
                }
                Err(OTelSdkError::InternalFailure(problem))
            }
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

fn span_count(request: &ExportTraceServiceRequest) -> u64 {
    request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len() as u64)
        .sum()
}

/// Splits a request into two with half of its spans each, keeping every span under its own
/// resource and scope.
fn halves(mut request: ExportTraceServiceRequest) -> [ExportTraceServiceRequest; 2] {
    let mut keep = span_count(&request) / 2;
    let mut second = ExportTraceServiceRequest::default();
    for rs in &mut request.resource_spans {
        let mut moved = Vec::new();
        for ss in &mut rs.scope_spans {
            let n = ss.spans.len() as u64;
            if keep >= n {
                keep -= n;
                continue;
            }
            let tail = ss.spans.split_off(keep as usize);
            keep = 0;
            moved.push(ScopeSpans {
                scope: ss.scope.clone(),
                spans: tail,
                schema_url: ss.schema_url.clone(),
            });
        }
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
        if !moved.is_empty() {
            second.resource_spans.push(ResourceSpans {
                resource: rs.resource.clone(),
                scope_spans: moved,
                schema_url: rs.schema_url.clone(),
            });
        }
    }
    request
        .resource_spans
        .retain(|rs| !rs.scope_spans.is_empty());
    [request, second]
}
