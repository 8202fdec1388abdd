//! Counts what an exporter delivered and what it failed to deliver: the SDK reports neither.

use crate::telemetry::stats::{Counters, COUNTERS};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    failing: AtomicBool,
}

impl<E> CountingExporter<E> {
    pub(crate) fn new(inner: E) -> Self {
        Self {
            inner,
            failing: AtomicBool::new(false),
        }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                Counters::add(&COUNTERS.spans_exported, n);
                if self.failing.swap(false, Ordering::Relaxed) {
                    crate::diag::log_warn!("span export recovered");
                }
            }
            Err(e) => {
                Counters::add(&COUNTERS.spans_export_failed, n);
                // State changes only: one line when export starts failing, not one per batch.
                if !self.failing.swap(true, Ordering::Relaxed) {
                    crate::diag::log_warn!(
                        "span export failed, {n} spans dropped and counted: {e}"
                    );
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
