//! A server whose master builds telemetry before forking, in the way `FIXTURE_MODE` names:
//! - `forkline`: through forkline (workers must detect and rebuild it), keeping a tracer from the
//!   master that a worker then uses (its spans must be counted as dropped, not lost silently);
//! - `raw_sentry`: `sentry::init` by hand (start-up must fail, naming `worker_init`);
//! - `raw_otel`: an SDK tracer provider by hand (start-up must fail, naming `post_fork`);
//! - `raw_otel_metrics`: an SDK meter provider by hand (start-up must fail, naming `post_fork`,
//!   before the thread check sees its reader's thread);
//! - `raw_otel_logs`: an SDK logger provider with a batch processor by hand (start-up must fail,
//!   naming its thread and `post_fork`);
//! - `thread`: a helper thread left running in the master (forking must warn about it).

use forkline::manual::{self, ProcessIdentity};
use forkline::opentelemetry::global::{self, BoxedTracer};
use forkline::opentelemetry::trace::Tracer;
use forkline::{config::Env, config::TelemetryConfig, Master, Telemetry, Worker};
use forkline_tests::fixture::{boot_span_with_event, publish_addr, record, router};
use std::sync::OnceLock;

static KEPT_FROM_MASTER: OnceLock<BoxedTracer> = OnceLock::new();

#[forkline::on_starting]
fn build_telemetry_in_the_master(_master: &Master) -> forkline::Result<()> {
    match std::env::var("FIXTURE_MODE").as_deref() {
        Ok("forkline") => {
            let config = TelemetryConfig::from_env(&Env::from_process(), &Telemetry::new())?;
            let who = ProcessIdentity::new(None, "master");
            manual::install_otel(&config, &who)?;
            let _ = KEPT_FROM_MASTER.set(global::tracer("kept-from-master"));
        }
        Ok("raw_sentry") => std::mem::forget(sentry::init("http://key@127.0.0.1:9/1")),
        Ok("raw_otel") => global::set_tracer_provider(
            opentelemetry_sdk::trace::SdkTracerProvider::builder().build(),
        ),
        Ok("raw_otel_metrics") => global::set_meter_provider(
            opentelemetry_sdk::metrics::SdkMeterProvider::builder()
                .with_periodic_exporter(Discard)
                .build(),
        ),
        Ok("raw_otel_logs") => std::mem::forget(
            opentelemetry_sdk::logs::SdkLoggerProvider::builder()
                .with_batch_exporter(Discard)
                .build(),
        ),
        Ok("thread") => {
            let (ready, started) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = ready.send(());
                std::thread::park();
            });
            let _ = started.recv();
        }
        other => panic!("unknown FIXTURE_MODE {other:?}"),
    }
    Ok(())
}

/// A metric and log exporter that keeps nothing.
#[derive(Debug)]
struct Discard;

impl opentelemetry_sdk::metrics::exporter::PushMetricExporter for Discard {
    async fn export(
        &self,
        _metrics: &opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(
        &self,
        _timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> opentelemetry_sdk::metrics::Temporality {
        opentelemetry_sdk::metrics::Temporality::Cumulative
    }
}

impl opentelemetry_sdk::logs::LogExporter for Discard {
    async fn export(
        &self,
        _batch: opentelemetry_sdk::logs::LogBatch<'_>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

#[forkline::when_ready]
fn ready(master: &Master) {
    publish_addr(master);
}

#[forkline::worker_init]
fn init(worker: &Worker) {
    record("worker_init", &format!("worker={}", worker.id()));
    boot_span_with_event(worker);
    if let Some(tracer) = KEPT_FROM_MASTER.get() {
        tracer.in_span("on-a-tracer-from-the-master", |_| {});
    }
}

fn main() {
    forkline_tests::fixture::serve_or_exit(router());
}
