//! The embedded Sentry sink: a transport that writes each event and transaction as one JSON line
//! in `sentry-<pid>.jsonl`, so the demo needs no Sentry server. The file is bounded by the
//! worker's budget (see `sink::rotating`): older records move to `sentry-<pid>.1.jsonl`, then
//! are discarded and counted by kind.

use crate::sink::rotating::{NotWritten, RotatingFile};
use crate::stats::{counters, ProcessCounters};
use sentry::protocol::EnvelopeItem;
use sentry::{Envelope, Transport};
use serde_json::json;
use std::ops::Add;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The records of one or more lines, by kind.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Records {
    events: u64,
    transactions: u64,
}

impl Add for Records {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            events: self.events + other.events,
            transactions: self.transactions + other.transactions,
        }
    }
}

pub(crate) struct SentryFileTransport {
    file: RotatingFile<Records>,
    /// Whether the last record was lost: problems are logged when they start, not per record.
    failing: AtomicBool,
}

impl SentryFileTransport {
    pub(crate) fn create(dir: &Path, pid: u32, limit: u64) -> std::io::Result<Self> {
        Ok(Self {
            file: RotatingFile::open(dir, &format!("sentry-{pid}"), limit)?,
            failing: AtomicBool::new(false),
        })
    }

    fn write(&self, record: serde_json::Value, kind: Records) {
        let mut line = record.to_string().into_bytes();
        line.push(b'\n');
        let appended = self.file.append(&line, kind);
        ProcessCounters::add(
            &counters().sentry_events_discarded_budget,
            appended.discarded.events,
        );
        ProcessCounters::add(
            &counters().sentry_transactions_discarded_budget,
            appended.discarded.transactions,
        );
        let problem = match appended.written {
            Ok(()) => {
                ProcessCounters::add(&counters().sentry_events_written, kind.events);
                ProcessCounters::add(&counters().sentry_transactions_written, kind.transactions);
                if self.failing.swap(false, Ordering::Relaxed) {
                    crate::diag::log_warn!("the embedded Sentry sink writes again");
                }
                return;
            }
            Err(e @ NotWritten::TooLarge { .. }) => {
                ProcessCounters::add(&counters().sentry_events_discarded_budget, kind.events);
                ProcessCounters::add(
                    &counters().sentry_transactions_discarded_budget,
                    kind.transactions,
                );
                e
            }
            Err(e @ NotWritten::Io(_)) => {
                ProcessCounters::add(&counters().sentry_write_failed, 1);
                e
            }
        };
        if !self.failing.swap(true, Ordering::Relaxed) {
            crate::diag::log_warn!(
                "the embedded Sentry sink lost a record (counted in the worker report): {problem}"
            );
        }
    }
}

impl Transport for SentryFileTransport {
    fn send_envelope(&self, envelope: Envelope) {
        for item in envelope.items() {
            let (record, kind) = match item {
                EnvelopeItem::Event(event) => (
                    json!({ "type": "event", "event": event }),
                    Records {
                        events: 1,
                        transactions: 0,
                    },
                ),
                EnvelopeItem::Transaction(transaction) => (
                    json!({ "type": "transaction", "transaction": transaction }),
                    Records {
                        events: 0,
                        transactions: 1,
                    },
                ),
                // Sessions, attachments and client reports are not part of the local sink.
                _ => continue,
            };
            self.write(record, kind);
        }
    }
}
