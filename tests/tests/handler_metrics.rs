//! `#[handler(metrics)]` records each call's duration in `forkline.handler.duration`, by the
//! handler's name, with `error.type = "panic"` for a call that panicked; a handler without
//! `metrics` records nothing. Alone in its binary: it installs the global meter provider.

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

#[forkline::handler(metrics)]
fn timed(n: u64) -> u64 {
    n * 2
}

#[forkline::handler(metrics, name = "timed async")]
async fn timed_async(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n + 1
}

#[forkline::handler(metrics)]
fn explodes(n: u64) -> u64 {
    if n > 0 {
        panic!("on purpose");
    }
    n
}

#[forkline::handler]
fn untimed(n: u64) -> u64 {
    n
}

/// Calls per `(code.function.name, error.type)` in the exported histogram.
fn counts(exporter: &InMemoryMetricExporter) -> Vec<(String, Option<String>, u64)> {
    let mut out = Vec::new();
    let collections = exporter.get_finished_metrics().expect("metrics");
    let Some(last) = collections.last() else {
        return out;
    };
    for scope in last.scope_metrics() {
        for metric in scope.metrics() {
            if metric.name() != "forkline.handler.duration" {
                continue;
            }
            assert_eq!(metric.unit(), "s");
            let AggregatedMetrics::F64(MetricData::Histogram(h)) = metric.data() else {
                panic!("a histogram of f64: {:?}", metric.data());
            };
            for point in h.data_points() {
                let get = |key: &str| {
                    point
                        .attributes()
                        .find(|kv: &&KeyValue| kv.key.as_str() == key)
                        .map(|kv| kv.value.to_string())
                };
                out.push((
                    get("code.function.name").unwrap_or_default(),
                    get("error.type"),
                    point.count(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn each_call_is_timed_by_name_and_a_panic_is_marked() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    opentelemetry::global::set_meter_provider(provider.clone());

    for n in 0..3 {
        assert_eq!(timed(n), n * 2);
        assert_eq!(untimed(n), n);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    assert_eq!(rt.block_on(timed_async(1)), 2);
    assert_eq!(explodes(0), 0);
    let panicked = std::panic::catch_unwind(|| explodes(1));
    assert!(panicked.is_err());

    provider.force_flush().expect("flush");
    assert_eq!(
        counts(&exporter),
        vec![
            ("explodes".to_string(), None, 1),
            ("explodes".to_string(), Some("panic".to_string()), 1),
            ("timed".to_string(), None, 3),
            ("timed async".to_string(), None, 1),
        ],
        "untimed is not there"
    );
}
