//! The tracer provider's one span processor: the export processor (forkline's guarded one, or
//! the embedded sink's), plus a late-bound slot filled in `worker_init` (the Sentry span
//! processor), plus the fork check on the span path: a provider inherited through `fork()` drops
//! and counts its spans instead of handing them to an export thread that does not exist here.
//!
//! The provider must exist in `post_fork`, before Sentry may be initialised; the Sentry span
//! processor must not be created before `sentry::init` (it would silently do nothing). The slot
//! lets the provider be built first and the processor be added later, exactly once.

use crate::identity::fork_generation;
use crate::stats::{counters, ProcessCounters};
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A processor added after the provider was built.
#[derive(Debug, Default)]
pub struct LateSlot {
    processor: OnceLock<Box<dyn SpanProcessor>>,
    resource: Mutex<Option<Resource>>,
}

impl LateSlot {
    /// Fills the slot. The processor is handed the provider's resource first, as the provider
    /// builder would have done. A second call returns the processor back.
    pub fn bind(
        &self,
        mut processor: Box<dyn SpanProcessor>,
    ) -> Result<(), Box<dyn SpanProcessor>> {
        if self.processor.get().is_some() {
            return Err(processor);
        }
        if let Some(resource) = self.resource.lock().ok().and_then(|r| r.clone()) {
            processor.set_resource(&resource);
        }
        self.processor.set(processor)
    }

    /// Whether a processor has been bound.
    pub fn is_bound(&self) -> bool {
        self.processor.get().is_some()
    }

    fn get(&self) -> Option<&dyn SpanProcessor> {
        self.processor.get().map(|p| &**p)
    }
}

#[derive(Debug)]
pub(crate) struct ForkAwareProcessor {
    generation: u64,
    built_in_pid: u32,
    exporter: Option<Box<dyn SpanProcessor>>,
    late: Arc<LateSlot>,
    warned: AtomicBool,
}

impl ForkAwareProcessor {
    pub(crate) fn new(exporter: Option<Box<dyn SpanProcessor>>, late: Arc<LateSlot>) -> Self {
        Self {
            generation: fork_generation(),
            built_in_pid: std::process::id(),
            exporter,
            late,
            warned: AtomicBool::new(false),
        }
    }

    fn inherited(&self) -> bool {
        fork_generation() != self.generation
    }

    fn warn_inherited_once(&self) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            crate::diag::log_warn!(
                "a span ended on a tracer provider built in pid {} before fork(); its export thread \
                 does not exist in this process, so such spans are dropped and counted \
                 (spans_dropped_inherited). Take tracers after #[post_fork] (opentelemetry::global::tracer) \
                 instead of keeping one from the master",
                self.built_in_pid
            );
        }
    }
}

impl SpanProcessor for ForkAwareProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        ProcessCounters::add(&counters().spans_started, 1);
        if self.inherited() {
            return;
        }
        if let Some(late) = self.late.get() {
            late.on_start(span, cx);
        }
        if let Some(exporter) = &self.exporter {
            exporter.on_start(span, cx);
        }
    }

    fn on_end(&self, span: SpanData) {
        ProcessCounters::add(&counters().spans_ended, 1);
        if self.inherited() {
            ProcessCounters::add(&counters().spans_dropped_inherited, 1);
            self.warn_inherited_once();
            return;
        }
        match (self.late.get(), &self.exporter) {
            (Some(late), Some(exporter)) => {
                late.on_end(span.clone());
                exporter.on_end(span);
            }
            (Some(late), None) => {
                // Sentry sees it; OTel export is off by configuration.
                ProcessCounters::add(&counters().spans_discarded_no_exporter, 1);
                late.on_end(span);
            }
            (None, Some(exporter)) => exporter.on_end(span),
            // `exporter = "none"` and no Sentry: discarded by configuration, still counted.
            (None, None) => ProcessCounters::add(&counters().spans_discarded_no_exporter, 1),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        if let Some(late) = self.late.get() {
            late.force_flush()?;
        }
        match &self.exporter {
            Some(exporter) => exporter.force_flush(),
            None => Ok(()),
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let late = self.late.get().map(|p| p.shutdown_with_timeout(timeout));
        let exporter = self
            .exporter
            .as_ref()
            .map(|p| p.shutdown_with_timeout(timeout));
        late.unwrap_or(Ok(())).and(exporter.unwrap_or(Ok(())))
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Ok(mut slot) = self.late.resource.lock() {
            *slot = Some(resource.clone());
        }
        if let Some(exporter) = &mut self.exporter {
            exporter.set_resource(resource);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer, TracerProvider};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};

    #[test]
    fn the_slot_takes_a_processor_after_the_provider_was_built() {
        let exported = InMemorySpanExporter::default();
        let late_seen = InMemorySpanExporter::default();
        let slot = Arc::new(LateSlot::default());
        let provider = SdkTracerProvider::builder()
            .with_resource(
                Resource::builder_empty()
                    .with_attribute(KeyValue::new("service.name", "slot-test"))
                    .build(),
            )
            .with_span_processor(ForkAwareProcessor::new(
                Some(Box::new(SimpleSpanProcessor::new(exported.clone()))),
                slot.clone(),
            ))
            .build();
        let tracer = provider.tracer("test");

        tracer.in_span("before-bind", |_| {});
        assert!(!slot.is_bound());
        assert!(slot
            .bind(Box::new(SimpleSpanProcessor::new(late_seen.clone())))
            .is_ok());
        tracer.in_span("after-bind", |_| {});
        // A second processor is refused and handed back.
        assert!(slot
            .bind(Box::new(SimpleSpanProcessor::new(
                InMemorySpanExporter::default()
            )))
            .is_err());

        let names = |e: &InMemorySpanExporter| -> Vec<String> {
            e.get_finished_spans()
                .unwrap_or_default()
                .iter()
                .map(|s| s.name.to_string())
                .collect()
        };
        assert_eq!(names(&exported), ["before-bind", "after-bind"]);
        assert_eq!(names(&late_seen), ["after-bind"]);
    }
}
