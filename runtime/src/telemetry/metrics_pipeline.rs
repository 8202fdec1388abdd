//! Builds and installs the OTel metrics pipeline of a worker, next to its tracer provider (in
//! `post_fork`): a `SdkMeterProvider` with the worker's resource and one periodic reader whose
//! exporter is forkline's (the guarded OTLP pipeline, over HTTP or gRPC, or `metrics-<pid>.jsonl`
//! in the run folder), installed as the global meter provider. As with the tracer provider, an
//! installation inherited across `fork()` is abandoned, never shut down (its reader thread does
//! not exist here; the SDK's shutdown would wait 5 s for it), and rebuilt. A gRPC channel is
//! made on the export thread, at its first attempt, never before fork.

use crate::config::{ExporterConfig, MetricsTemporality, TelemetryConfig};
use crate::error::{Error, Result};
use crate::export::metric_export::GuardedMetricExporter;
use crate::export::otlp_transport::{OtlpSignal, OtlpTransport};
use crate::sink::metric_file::MetricFileExporter;
use crate::telemetry::installed;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// This process's meter provider, and its guarded pipeline when it exports OTLP.
pub(crate) type Installed = installed::Installed<SdkMeterProvider>;

static INSTALLED: installed::ProcessSlot<SdkMeterProvider> = installed::ProcessSlot::new();

pub(crate) use crate::metric_collection::DURATION_BOUNDARIES;

/// Whether forkline's pipeline was installed in this process with metrics off (the SDK off, or
/// `OTEL_METRICS_EXPORTER=none`): the integrations then record nothing at all. Before any
/// installation (an application that builds its own providers) they record through the global
/// meter provider.
static METRICS_OFF: AtomicBool = AtomicBool::new(false);

/// See [`METRICS_OFF`].
#[inline]
pub(crate) fn metrics_off() -> bool {
    METRICS_OFF.load(Ordering::Acquire)
}

/// Bumped whenever forkline installs a meter provider, so instruments cached by the
/// integrations (the HTTP layer's) are made again from the new one.
static METER_EPOCH: AtomicU64 = AtomicU64::new(1);

/// Builds the meter provider from `telemetry` with `resource` and installs it globally. Nothing
/// is installed when metrics (or the SDK) are off.
pub(crate) fn install(telemetry: &TelemetryConfig, resource: Resource, pid: u32) -> Result<()> {
    let mut slot = INSTALLED.for_install("meter")?;
    let metrics = &telemetry.metrics;
    // Off until a provider is installed below.
    METRICS_OFF.store(true, Ordering::Release);
    if !telemetry.otel.enabled {
        return Ok(());
    }
    let temporality = match metrics.temporality {
        MetricsTemporality::Cumulative => Temporality::Cumulative,
        MetricsTemporality::Delta => Temporality::Delta,
        MetricsTemporality::LowMemory => Temporality::LowMemory,
    };
    let (provider, guarded) = match &metrics.exporter {
        ExporterConfig::None => return Ok(()),
        ExporterConfig::Embedded => {
            let run_dir = telemetry.run_dir.as_path();
            let limit = telemetry.embedded_file_limit();
            let file =
                MetricFileExporter::create(run_dir, pid, limit, temporality).map_err(|e| {
                    Error::io(
                        format!("opening the metrics file in {}", run_dir.display()),
                        e,
                    )
                })?;
            (build(telemetry, resource, file), None)
        }
        ExporterConfig::Otlp(otlp) => {
            let transport = OtlpTransport::new(
                OtlpSignal::Metrics,
                otlp,
                metrics.guard,
                telemetry.prepared.otlp_metrics_http.as_ref(),
            )
            .map_err(|e| Error::io("building the OTLP metrics transport", e))?;
            let exporter = GuardedMetricExporter::start(transport, metrics.guard, temporality)
                .map_err(|e| Error::io("starting the OTLP metrics exporter", e))?;
            let guarded = (exporter.shared(), exporter.shutdown_by());
            crate::health::register_metrics(guarded.0.clone());
            (build(telemetry, resource, exporter), Some(guarded))
        }
    };
    crate::telemetry::operational_metrics::register(&provider);
    opentelemetry::global::set_meter_provider(provider.clone());
    // The request duration series start before the instruments of the new epoch are made.
    let epoch = METER_EPOCH.load(Ordering::Acquire) + 1;
    let delta = temporality != Temporality::Cumulative;
    crate::metric_collection::duration_series::install(epoch, delta);
    METER_EPOCH.store(epoch, Ordering::Release);
    METRICS_OFF.store(false, Ordering::Release);
    *slot = Some(Installed::new(provider, guarded));
    Ok(())
}

fn build<E: PushMetricExporter>(
    telemetry: &TelemetryConfig,
    resource: Resource,
    exporter: E,
) -> SdkMeterProvider {
    let reader = PeriodicReader::builder(exporter)
        .with_interval(telemetry.metrics.interval)
        .build();
    SdkMeterProvider::builder()
        .with_resource(resource)
        .with_reader(reader)
        .build()
}

/// The meter provider installed in this process (not an inherited one).
pub(crate) fn current() -> Option<Installed> {
    INSTALLED.current()
}

/// Changes whenever forkline installs a meter provider.
#[inline]
pub(crate) fn meter_epoch() -> u64 {
    METER_EPOCH.load(Ordering::Acquire)
}
