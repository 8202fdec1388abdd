//! With forkline's pipeline installed and metrics off (`OTEL_METRICS_EXPORTER=none`),
//! `TelemetryLayer` and `#[handler(metrics)]` record nothing, not even into a meter provider
//! installed by hand afterwards (which still gets what the application records itself). Alone
//! in its binary: it installs forkline's base and the global meter provider.

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tower_service::Service as _;

#[forkline::handler(metrics)]
async fn order() -> &'static str {
    "ok"
}

/// The names of the metrics in the exporter's last collection.
fn names(exporter: &InMemoryMetricExporter) -> Vec<String> {
    let collections = exporter.get_finished_metrics().expect("metrics");
    let mut names: Vec<String> = collections
        .last()
        .into_iter()
        .flat_map(|c| c.scope_metrics())
        .flat_map(|s| s.metrics())
        .map(|m| m.name().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn with_metrics_off_the_layer_and_handlers_record_nothing() {
    let dir = std::env::temp_dir().join(format!("forkline-metrics-off-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("run folder");
    let dir_text = dir.to_string_lossy().into_owned();
    forkline_tests::pipelines::install_as_worker(&[
        ("OTEL_TRACES_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("SENTRY_DSN", ""),
        ("FORKLINE_DIR", dir_text.as_str()),
    ]);
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    let mut app = Router::new()
        .route("/orders/{id}", get(order))
        .layer(forkline::http::TelemetryLayer::new());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for i in 0..3 {
            let request = axum::http::Request::get(format!("/orders/{i}"))
                .body(Body::empty())
                .expect("request");
            let response = app.call(request).await.expect("infallible");
            assert!(response.status().is_success());
        }
    });
    // What the application records itself still arrives: the reader works.
    opentelemetry::global::meter("app")
        .u64_counter("app.orders")
        .build()
        .add(3, &[]);
    provider.force_flush().expect("flush");
    assert_eq!(names(&exporter), vec!["app.orders".to_string()]);
    let _ = std::fs::remove_dir_all(dir);
}
