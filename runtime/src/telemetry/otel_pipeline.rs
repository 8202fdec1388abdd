//! Builds and installs the OTel base of a process: resource, sampler, exporter, batch processor
//! and the late-bound slot, as the global tracer provider, and, with the same resource, the
//! meter provider (`metrics_pipeline`) and the logger provider (`logs_pipeline`). Each installation is tagged with the
//! fork generation it was built in; an inherited one is abandoned (never shut down: its export
//! thread does not exist here, so shutting it down would wait for a thread that never answers)
//! and rebuilt.

use crate::config::{ExporterConfig, OtelConfig, SamplerConfig, TelemetryConfig};
use crate::error::{Error, Result};
use crate::export::span_export::{GuardedSpanProcessor, SpanExportSettings};
use crate::identity::fork_generation;
use crate::sink::span_file::SpanFileExporter;
use crate::telemetry::fork_rng::ForkSafeIdGenerator;
use crate::telemetry::slot::{ForkAwareProcessor, LateSlot};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanExporter, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use std::sync::{Arc, Mutex, MutexGuard};

/// Who is emitting: goes into the resource.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProcessIdentity {
    /// The worker slot (`forkline.worker.id`); `None` for the master.
    pub worker_id: Option<usize>,
    /// `process.pid`.
    pub pid: u32,
    /// `service.instance.id`.
    pub instance_id: String,
}

impl ProcessIdentity {
    /// This process (`process.pid`), as worker `worker_id` (`None`: not a worker), known to
    /// backends as `instance_id` (unique per process: a UUID, or the host and pid).
    pub fn new(worker_id: Option<usize>, instance_id: impl Into<String>) -> Self {
        Self {
            worker_id,
            pid: std::process::id(),
            instance_id: instance_id.into(),
        }
    }
}

struct Installed {
    generation: u64,
    pid: u32,
    provider: SdkTracerProvider,
    slot: Arc<LateSlot>,
}

static INSTALLED: Mutex<Option<Installed>> = Mutex::new(None);

fn installed() -> MutexGuard<'static, Option<Installed>> {
    // A panic while holding this lock leaves plain data behind; keep going with it.
    INSTALLED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What `install` found already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Previous {
    /// Nothing: a fresh installation.
    None,
    /// A provider built before `fork()` in this pid: abandoned and rebuilt.
    InheritedFrom(u32),
}

/// Builds the provider from `config` and installs it globally. A provider inherited across
/// `fork()` is abandoned and replaced; installing twice in one process is an error.
pub fn install(telemetry: &TelemetryConfig, who: &ProcessIdentity) -> Result<Previous> {
    let config = &telemetry.otel;
    let run_dir = telemetry.run_dir.as_path();
    let mut slot = installed();
    let previous = match slot.take() {
        None => Previous::None,
        Some(old) if old.generation != fork_generation() => {
            let from = old.pid;
            // Dropping it would run the batch processor's shutdown, which waits for an export
            // thread that this process does not have.
            std::mem::forget(old);
            Previous::InheritedFrom(from)
        }
        Some(current) => {
            *slot = Some(current);
            return Err(Error::Telemetry(
                "the OTel base is already installed in this process; #[post_fork] installs it once per worker".into(),
            ));
        }
    };
    if !config.enabled {
        return Ok(previous);
    }

    let late = Arc::new(LateSlot::default());
    let exporter: Option<Box<dyn SpanProcessor>> = match &config.exporter {
        ExporterConfig::None => None,
        ExporterConfig::Embedded => {
            let limit = telemetry.embedded_file_limit();
            let file = SpanFileExporter::create(run_dir, who.pid, limit).map_err(|e| {
                Error::io(format!("opening the span file in {}", run_dir.display()), e)
            })?;
            Some(Box::new(batch(config, file)))
        }
        ExporterConfig::Otlp(_) => {
            let settings = otlp_settings(telemetry)
                .ok_or_else(|| Error::Telemetry("no OTLP settings".into()))?;
            let started = match &telemetry.prepared.otlp_http {
                Some(client) => GuardedSpanProcessor::start_with_client(settings, client.clone()),
                None => GuardedSpanProcessor::start(settings),
            };
            let guarded = started.map_err(|e| Error::io("starting the OTLP exporter", e))?;
            crate::health::register_spans(guarded.shared());
            Some(Box::new(guarded))
        }
    };

    let resource = resource(config, who);
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sampler(config.sampler))
        .with_id_generator(ForkSafeIdGenerator)
        .with_span_processor(ForkAwareProcessor::new(exporter, late.clone()))
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    crate::telemetry::tracer_cache::sdk_provider_installed(
        &provider,
        matches!(
            config.sampler,
            SamplerConfig::ParentBasedAlwaysOn
                | SamplerConfig::ParentBasedAlwaysOff
                | SamplerConfig::ParentBasedTraceIdRatio(_)
        ),
    );
    *slot = Some(Installed {
        generation: fork_generation(),
        pid: who.pid,
        provider,
        slot: late,
    });
    drop(slot);
    crate::telemetry::metrics_pipeline::install(telemetry, resource.clone(), who.pid)?;
    crate::telemetry::logs_pipeline::install(telemetry, resource, who.pid)?;
    Ok(previous)
}

/// The guarded OTLP pipeline's settings for `telemetry` (`None` unless it exports OTLP).
pub fn otlp_settings(telemetry: &TelemetryConfig) -> Option<SpanExportSettings> {
    let otlp = telemetry.otel.exporter.otlp()?;
    let mut settings = SpanExportSettings::new(otlp.clone(), telemetry.otlp_guard);
    settings.max_batch = telemetry.otel.batch.max_export_batch_size;
    settings.batch_delay = telemetry.otel.batch.scheduled_delay;
    Some(settings)
}

/// `exporter` counts what it delivers and drops itself (the SDK reports neither).
fn batch<E: SpanExporter + 'static>(config: &OtelConfig, exporter: E) -> BatchSpanProcessor {
    let b = &config.batch;
    BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(b.max_queue_size)
                .with_max_export_batch_size(b.max_export_batch_size)
                .with_scheduled_delay(b.scheduled_delay)
                .build(),
        )
        .build()
}

fn resource(config: &OtelConfig, who: &ProcessIdentity) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.name", config.service_name.clone()),
        KeyValue::new("service.instance.id", who.instance_id.clone()),
        KeyValue::new("process.pid", i64::from(who.pid)),
        KeyValue::new("deployment.environment.name", config.environment.clone()),
        KeyValue::new("telemetry.sdk.name", "opentelemetry"),
        KeyValue::new("telemetry.sdk.language", "rust"),
        KeyValue::new("telemetry.sdk.version", "0.32.1"),
        KeyValue::new("telemetry.distro.name", "forkline"),
        KeyValue::new("telemetry.distro.version", env!("CARGO_PKG_VERSION")),
    ];
    if !config.service_version.is_empty() {
        attributes.push(KeyValue::new(
            "service.version",
            config.service_version.clone(),
        ));
    }
    if let Some(id) = who.worker_id {
        attributes.push(KeyValue::new("forkline.worker.id", id as i64));
    }
    attributes.extend(
        config
            .extra_resource
            .iter()
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
    );
    Resource::builder_empty()
        .with_attributes(attributes)
        .build()
}

fn sampler(config: SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(r) => Sampler::TraceIdRatioBased(r),
        SamplerConfig::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        SamplerConfig::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        SamplerConfig::ParentBasedTraceIdRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}

/// The provider installed in this process (not an inherited one).
pub(crate) fn current_provider() -> Option<SdkTracerProvider> {
    installed()
        .as_ref()
        .filter(|i| i.generation == fork_generation())
        .map(|i| i.provider.clone())
}

/// The late-bound slot of this process's provider.
pub(crate) fn current_slot() -> Option<Arc<LateSlot>> {
    installed()
        .as_ref()
        .filter(|i| i.generation == fork_generation())
        .map(|i| i.slot.clone())
}

/// Whether forkline installed a provider in this very process (before any fork).
pub(crate) fn installed_here() -> bool {
    current_provider().is_some()
}
