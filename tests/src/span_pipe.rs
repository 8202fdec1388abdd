//! A guarded span pipeline under test: a tracer provider whose only processor is a
//! `GuardedSpanProcessor`, a span loop that times the request path, a timed shutdown, and the
//! pipeline's health.

use forkline::opentelemetry::trace::{Span as _, Tracer, TracerProvider};
use forkline::{manual::GuardedSpanProcessor, manual::SpanExportSettings, report::PipelineHealth};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::Arc;

use std::time::{Duration, Instant};

/// See the module documentation.
pub struct SpanPipe {
    pub provider: SdkTracerProvider,
    health: Arc<dyn Fn() -> PipelineHealth + Send + Sync>,
}

impl std::fmt::Debug for SpanPipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanPipe")
            .field("health", &self.health())
            .finish()
    }
}

impl SpanPipe {
    pub fn start(settings: SpanExportSettings) -> Self {
        let processor = GuardedSpanProcessor::start(settings).expect("start the pipeline");
        let health = processor.health_handle();
        Self {
            provider: SdkTracerProvider::builder()
                .with_span_processor(processor)
                .build(),
            health: Arc::new(health),
        }
    }

    /// Ends `n` spans; returns the slowest span start + end.
    pub fn spans(&self, n: usize) -> Duration {
        let tracer = self.provider.tracer("faults");
        (0..n)
            .map(|_| {
                let t = Instant::now();
                tracer.start("work").end();
                t.elapsed()
            })
            .max()
            .unwrap_or_default()
    }

    /// Shuts the provider down with `deadline`; returns how long it took.
    pub fn shutdown(&self, deadline: Duration) -> Duration {
        let t = Instant::now();
        let _ = self.provider.shutdown_with_timeout(deadline);
        t.elapsed()
    }

    pub fn health(&self) -> PipelineHealth {
        (self.health)()
    }
}
