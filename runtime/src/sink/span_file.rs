//! The embedded span sink: each exported batch is one line of OTLP JSON
//! (`ExportTraceServiceRequest`) in `spans-<pid>.jsonl`, readable by any OTLP JSON tool.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct SpanFileExporter {
    path: PathBuf,
    file: File,
    resource: ResourceAttributesWithSchema,
}

impl SpanFileExporter {
    pub(crate) fn create(dir: &Path, pid: u32) -> std::io::Result<Self> {
        let path = dir.join(format!("spans-{pid}.jsonl"));
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self {
            path,
            file,
            resource: ResourceAttributesWithSchema::default(),
        })
    }
}

impl SpanExporter for SpanFileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let mut line = serde_json::to_vec(&request)
            .map_err(|e| OTelSdkError::InternalFailure(format!("encoding OTLP JSON: {e}")))?;
        line.push(b'\n');
        // One write per batch on an O_APPEND file: lines from one process never interleave.
        (&self.file).write_all(&line).map_err(|e| {
            OTelSdkError::InternalFailure(format!("writing {}: {e}", self.path.display()))
        })
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}
