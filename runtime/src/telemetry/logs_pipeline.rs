//! Builds and installs the OTel logs pipeline of a worker, next to its tracer and meter
//! providers (in `post_fork`): a `SdkLoggerProvider` with the worker's resource and one
//! processor, forkline's (the guarded OTLP pipeline, over HTTP or gRPC), or the SDK's batch
//! processor over `logs-<pid>.jsonl` in the run folder. OpenTelemetry 0.32 has no global logger provider:
//! forkline keeps it here, the `tracing` bridge takes it from here ([`logger_provider`]), and the
//! teardown shuts it down under the worker's one deadline. As with the tracer provider, an
//! installation inherited across `fork()` is abandoned, never shut down (its threads do not exist
//! here), and rebuilt.

use crate::config::{ExporterConfig, TelemetryConfig};
use crate::error::{Error, Result};
use crate::export::log_export::{GuardedLogProcessor, LogBatching};
use crate::export::otlp_transport::{OtlpSignal, OtlpTransport};
use crate::sink::log_file::LogFileExporter;
use crate::stats::{counters, ProcessCounters};
use crate::telemetry::installed;
use opentelemetry::logs::Severity;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogProcessor, SdkLogRecord, SdkLoggerProvider,
};
use opentelemetry_sdk::Resource;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// This process's logger provider, and its guarded pipeline when it exports OTLP.
pub(crate) type Installed = installed::Installed<SdkLoggerProvider>;

static INSTALLED: installed::ProcessSlot<SdkLoggerProvider> = installed::ProcessSlot::new();

/// Builds the logger provider from `telemetry` with `resource` and keeps it for this process.
/// Nothing is installed when logs (or the SDK) are off.
pub(crate) fn install(telemetry: &TelemetryConfig, resource: Resource, pid: u32) -> Result<()> {
    let mut slot = INSTALLED.for_install("logger")?;
    let logs = &telemetry.logs;
    if !telemetry.otel.enabled {
        return Ok(());
    }
    let builder = SdkLoggerProvider::builder().with_resource(resource);
    let (provider, guarded) = match &logs.exporter {
        ExporterConfig::None => return Ok(()),
        ExporterConfig::Embedded => {
            let run_dir = telemetry.run_dir.as_path();
            let limit = telemetry.embedded_file_limit();
            let file = LogFileExporter::create(run_dir, pid, limit, counters()).map_err(|e| {
                Error::io(format!("opening the logs file in {}", run_dir.display()), e)
            })?;
            let b = &logs.batch;
            let processor = BatchLogProcessor::builder(file)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(b.max_queue_size)
                        .with_max_export_batch_size(b.max_export_batch_size)
                        .with_scheduled_delay(b.scheduled_delay)
                        .build(),
                )
                .build();
            let counted = Counted {
                inner: processor,
                emitted: &counters().logs_emitted,
            };
            (builder.with_log_processor(counted).build(), None)
        }
        ExporterConfig::Otlp(otlp) => {
            let transport = OtlpTransport::new(
                OtlpSignal::Logs,
                otlp,
                logs.guard,
                telemetry.prepared.otlp_logs_http.as_ref(),
            )
            .map_err(|e| Error::io("building the OTLP logs transport", e))?;
            let batching = LogBatching {
                max_batch: logs.batch.max_export_batch_size,
                batch_delay: logs.batch.scheduled_delay,
            };
            let processor = GuardedLogProcessor::start(transport, logs.guard, batching)
                .map_err(|e| Error::io("starting the OTLP logs exporter", e))?;
            let guarded = (processor.shared(), processor.shutdown_by());
            crate::health::register_logs(guarded.0.clone());
            (builder.with_log_processor(processor).build(), Some(guarded))
        }
    };
    *slot = Some(Installed::new(provider, guarded));
    Ok(())
}

/// The logger provider installed in this process (not an inherited one).
pub(crate) fn current() -> Option<Installed> {
    INSTALLED.current()
}

/// This worker's logger provider (`None` in the master, before `post_fork`, or with logs off):
/// give it to an OTel log appender of your own (`opentelemetry-appender-tracing`'s or
/// `opentelemetry-appender-log`'s bridge) when you install your own `tracing` subscriber or
/// logger. Its records go through forkline's pipeline and are shut down at `worker_exit`.
pub fn logger_provider() -> Option<SdkLoggerProvider> {
    current().map(|i| i.provider)
}

/// Counts the records handed to the embedded sink's batch processor, which drops when its queue
/// is full and exposes no count of it: what was emitted and not written shows in the worker's
/// `logs_dropped_unwritten`.
#[derive(Debug)]
struct Counted<P> {
    inner: P,
    emitted: &'static AtomicU64,
}

impl<P: LogProcessor> LogProcessor for Counted<P> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        ProcessCounters::add(self.emitted, 1);
        self.inner.emit(record, scope);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
