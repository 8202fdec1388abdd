//! The embedded Sentry sink: a transport that writes each event and transaction as one JSON line
//! in `sentry-<pid>.jsonl`, so the demo needs no Sentry server.

use crate::telemetry::stats::{Counters, COUNTERS};
use sentry::protocol::EnvelopeItem;
use sentry::{Envelope, Transport};
use serde_json::json;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

pub(crate) struct SentryFileTransport {
    file: File,
}

impl SentryFileTransport {
    pub(crate) fn create(dir: &Path, pid: u32) -> std::io::Result<Self> {
        let path = dir.join(format!("sentry-{pid}.jsonl"));
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file })
    }
}

impl Transport for SentryFileTransport {
    fn send_envelope(&self, envelope: Envelope) {
        for item in envelope.items() {
            let record = match item {
                EnvelopeItem::Event(event) => {
                    Counters::add(&COUNTERS.sentry_events_written, 1);
                    json!({ "type": "event", "event": event })
                }
                EnvelopeItem::Transaction(transaction) => {
                    json!({ "type": "transaction", "transaction": transaction })
                }
                // Sessions, attachments and client reports are not part of the local sink.
                _ => continue,
            };
            let mut line = record.to_string().into_bytes();
            line.push(b'\n');
            if let Err(e) = (&self.file).write_all(&line) {
                crate::diag::log_warn!("writing a Sentry event to the embedded sink failed: {e}");
            }
        }
    }
}
