//! The two span pipelines the benchmarks compare, both to an OTLP/HTTP endpoint: the plain SDK
//! (batch processor + OTLP exporter, default settings) and forkline's guarded pipeline with the
//! defaults a worker configured by `OTEL_EXPORTER_OTLP_ENDPOINT` alone gets. And forkline's whole
//! worker pipeline installed in a bench's own process ([`install_as_worker`]).

use forkline::manual::{self, ProcessIdentity};
use forkline::{config::Env, config::TelemetryConfig, manual::GuardedSpanProcessor, Telemetry};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::net::SocketAddr;

pub fn plain(addr: SocketAddr) -> SdkTracerProvider {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{addr}/v1/traces"))
        .build()
        .expect("exporter");
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build()
}

pub fn forkline(addr: SocketAddr) -> SdkTracerProvider {
    let endpoint = format!("http://{addr}");
    let env = Env::from_pairs([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("FORKLINE_PROFILE", "production"),
    ]);
    let config = TelemetryConfig::from_env(&env, &Telemetry::new()).expect("config");
    let settings = manual::otlp_settings(&config).expect("OTLP settings");
    let processor = GuardedSpanProcessor::start(settings).expect("start");
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build()
}

/// Installs forkline's OTel base (tracer, meter and logger providers) in this process as
/// `post_fork` does in worker 0, configured by the variables `pairs`.
pub fn install_as_worker(pairs: &[(&str, &str)]) {
    let env = Env::from_pairs(pairs.iter().copied());
    let config = TelemetryConfig::from_env(&env, &Telemetry::new()).expect("config");
    let who = ProcessIdentity::new(Some(0), "bench");
    manual::install_otel(&config, &who).expect("OTel base");
}
