//! `http.server.request.duration` as forkline aggregates it when its own metrics pipeline is
//! installed: one series per attribute set, kept per worker and merged into each collection
//! that forkline's exporters send ([`super::to_request`]), as the conventions'
//! explicit-bucket histogram with the temporality the exporter asked for.
//!
//! Why not the SDK's histogram: a recording there hashes the whole attribute list (keys and
//! values, with SipHash) under a read lock on every request, about two thirds of what the
//! metrics added to `TelemetryLayer`, against a budget of a tenth of the layer's own cost. Here
//! a request looks its series up in a per-thread map with small integer keys and the route
//! (foldhash), then updates it under the series' own uncontended lock. With a meter provider
//! that forkline did not build (or none) the layer records through the SDK as before.
//!
//! As in the SDK: at most [`CARDINALITY_LIMIT`] series, further attribute sets go to one series
//! marked `otel.metric.overflow`; a delta collection holds only the series recorded since the
//! previous one and starts them afresh; min, max and sum are kept.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, AggregationTemporality, Histogram, HistogramDataPoint, Metric, ScopeMetrics,
};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

/// The methods the semantic conventions name; any other is recorded as `_OTHER` (the last).
pub(crate) const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];
pub(crate) const SCHEMES: [&str; 2] = ["http", "https"];

/// The semantic conventions' bucket advice for `http.server.request.duration`, in seconds; also
/// `forkline.handler.duration`'s.
pub(crate) const DURATION_BOUNDARIES: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The SDK's default cardinality limit per instrument.
pub(crate) const CARDINALITY_LIMIT: usize = 2000;

const BUCKETS: usize = DURATION_BOUNDARIES.len() + 1;

/// One attribute set: the method's and scheme's indexes in the layer's tables, the status (0:
/// none), the route template and `error.type`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey {
    pub(crate) method: u8,
    pub(crate) scheme: u8,
    pub(crate) status: u16,
    pub(crate) route: RouteKey,
    pub(crate) error: Option<String>,
}

/// A route template in a key. A borrowed one is the layer's kept `&'static str`, one per
/// template (`http::route_names`), so it is told apart by its address: no hashing or comparing
/// of its text per request. An owned one (past the kept routes' limit) by its text.
#[derive(Clone)]
pub(crate) struct RouteKey(pub(crate) Option<Cow<'static, str>>);

impl PartialEq for RouteKey {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(Cow::Borrowed(a)), Some(Cow::Borrowed(b))) => std::ptr::eq(*a, *b),
            (Some(Cow::Owned(a)), Some(Cow::Owned(b))) => a == b,
            _ => false,
        }
    }
}

impl Eq for RouteKey {}

impl std::hash::Hash for RouteKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match &self.0 {
            None => state.write_u8(0),
            Some(Cow::Borrowed(route)) => {
                state.write_u8(1);
                state.write_usize(route.as_ptr() as usize);
                state.write_usize(route.len());
            }
            Some(Cow::Owned(route)) => {
                state.write_u8(2);
                route.hash(state);
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Counts {
    buckets: [u64; BUCKETS],
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Counts {
    const EMPTY: Counts = Counts {
        buckets: [0; BUCKETS],
        count: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    fn add(&mut self, seconds: f64) {
        // The boundaries below `seconds`, counted with independent comparisons (vectorised):
        // a binary search's chain of dependent ones made a recording 8 ns slower (87 against
        // 95-108 ns for a request's start and finish with a clock read).
        let bucket = DURATION_BOUNDARIES
            .iter()
            .filter(|bound| **bound < seconds)
            .count();
        self.buckets[bucket] += 1;
        self.count += 1;
        self.sum += seconds;
        self.min = self.min.min(seconds);
        self.max = self.max.max(seconds);
    }
}

#[derive(Default)]
struct Series {
    counts: Mutex<Option<Counts>>,
}

impl Series {
    fn counts(&self) -> MutexGuard<'_, Option<Counts>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, seconds: f64) {
        self.counts().get_or_insert(Counts::EMPTY).add(seconds);
    }
}

type SeriesMap = HashMap<SeriesKey, Arc<Series>, foldhash::fast::RandomState>;

/// The series of one installed meter provider.
pub(crate) struct Store {
    epoch: u64,
    delta: bool,
    started: SystemTime,
    /// The series, and when the last collection was taken.
    series: Mutex<(SeriesMap, SystemTime)>,
    overflow: Arc<Series>,
}

/// The store of forkline's installed pipeline, if any.
static STORE: Mutex<Option<Arc<Store>>> = Mutex::new(None);

fn store() -> MutexGuard<'static, Option<Arc<Store>>> {
    STORE.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    fn new(epoch: u64, delta: bool) -> Self {
        let now = SystemTime::now();
        Self {
            epoch,
            delta,
            started: now,
            series: Mutex::new((SeriesMap::default(), now)),
            overflow: Arc::default(),
        }
    }

    /// Records in the series of `key`, made if needed; returns it for the thread's cache, or
    /// `None` when the limit sent the recording to the overflow series.
    fn record_shared(&self, key: &SeriesKey, seconds: f64) -> Option<Arc<Series>> {
        let series = {
            let mut shared = self.series.lock().unwrap_or_else(PoisonError::into_inner);
            let map = &mut shared.0;
            match map.get(key) {
                Some(series) => Some(series.clone()),
                None if map.len() < CARDINALITY_LIMIT => {
                    let series = Arc::<Series>::default();
                    map.insert(key.clone(), series.clone());
                    Some(series)
                }
                None => None,
            }
        };
        series.as_ref().unwrap_or(&self.overflow).add(seconds);
        series
    }
}

/// Forkline installed a meter provider whose exporters merge these series (`delta`: delta or
/// low-memory temporality, where histograms are delta), at meter epoch `epoch`.
pub(crate) fn install(epoch: u64, delta: bool) {
    *store() = Some(Arc::new(Store::new(epoch, delta)));
}

/// Whether forkline aggregates the histogram for meter epoch `epoch`.
pub(crate) fn active(epoch: u64) -> bool {
    store().as_ref().is_some_and(|s| s.epoch == epoch)
}

struct Local {
    store: Option<Arc<Store>>,
    series: SeriesMap,
    /// The series this thread recorded in last, by its short key: a service's requests
    /// mostly repeat one attribute set, which then costs no hashing of the whole key.
    last: Option<(ShortKey, Arc<Series>)>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local {
        store: None,
        series: SeriesMap::default(),
        last: None,
    });
}

/// A key with no `error.type` and a kept route (or none) in two words, compared as such.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey {
    route: usize,
    rest: u64,
}

impl ShortKey {
    fn of(parts: &KeyParts<'_>) -> Option<Self> {
        if parts.error.is_some() {
            return None;
        }
        let (route, tag) = match &*parts.route {
            None => (0, 0),
            Some(Cow::Borrowed(route)) => (route.as_ptr() as usize, route.len() as u64 + 1),
            Some(Cow::Owned(_)) => return None,
        };
        let rest = u64::from(parts.method)
            | u64::from(parts.scheme) << 8
            | u64::from(parts.status) << 16
            | tag << 32;
        Some(Self { route, rest })
    }
}

/// A request's attributes, made into a [`SeriesKey`] only when the thread's last series is
/// not theirs: building, moving and dropping the whole key cost more than the lookup.
pub(crate) struct KeyParts<'a> {
    pub(crate) method: u8,
    pub(crate) scheme: u8,
    pub(crate) status: u16,
    /// Taken when the key is made.
    pub(crate) route: &'a mut Option<Cow<'static, str>>,
    pub(crate) error: Option<String>,
}

impl KeyParts<'_> {
    fn into_key(self) -> SeriesKey {
        SeriesKey {
            method: self.method,
            scheme: self.scheme,
            status: self.status,
            route: RouteKey(self.route.take()),
            error: self.error,
        }
    }
}

/// Records one request's duration in the series of its attributes, if forkline's pipeline of
/// `epoch` is installed; `false` (nothing recorded) otherwise.
pub(crate) fn record(epoch: u64, parts: KeyParts<'_>, seconds: f64) -> bool {
    record_with(epoch, parts, seconds, || store().clone())
}

/// [`record`], with the installed store from `installed` (the process's, but in tests).
fn record_with(
    epoch: u64,
    parts: KeyParts<'_>,
    seconds: f64,
    installed: impl FnOnce() -> Option<Arc<Store>>,
) -> bool {
    LOCAL
        .try_with(|local| {
            let mut local = local.borrow_mut();
            let Local {
                store: kept,
                series,
                last,
            } = &mut *local;
            if kept.as_ref().is_none_or(|s| s.epoch != epoch) {
                series.clear();
                *last = None;
                *kept = installed().filter(|s| s.epoch == epoch);
            }
            let Some(kept) = kept else {
                return false;
            };
            let short = ShortKey::of(&parts);
            if let (Some(short), Some((last_key, last_series))) = (short, &*last) {
                if short == *last_key {
                    last_series.add(seconds);
                    return true;
                }
            }
            let key = parts.into_key();
            let found = match series.get(&key) {
                Some(cached) => {
                    cached.add(seconds);
                    Some(cached.clone())
                }
                // Not cached when it went to the overflow series: the thread's map stays
                // within the limit too.
                None => kept.record_shared(&key, seconds).inspect(|shared| {
                    series.insert(key, shared.clone());
                }),
            };
            if let (Some(short), Some(found)) = (short, found) {
                *last = Some((short, found));
            }
            true
        })
        .unwrap_or(false)
}

/// Adds the histogram's data points (if any) to `request`, in the scope `forkline`.
pub(crate) fn merge_into(request: &mut ExportMetricsServiceRequest) {
    if let Some(store) = store().clone() {
        merge(&store, request);
    }
}

fn merge(store: &Store, request: &mut ExportMetricsServiceRequest) {
    let Some(resource_metrics) = request.resource_metrics.first_mut() else {
        return;
    };
    let points = collect(store);
    if points.is_empty() {
        return;
    }
    let temporality = if store.delta {
        AggregationTemporality::Delta
    } else {
        AggregationTemporality::Cumulative
    };
    let metric = Metric {
        name: "http.server.request.duration".into(),
        description: "Duration of HTTP server requests.".into(),
        unit: "s".into(),
        metadata: Vec::new(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: points,
            aggregation_temporality: temporality as i32,
        })),
    };
    let scopes = &mut resource_metrics.scope_metrics;
    match scopes
        .iter_mut()
        .find(|s| s.scope.as_ref().is_some_and(|s| s.name == "forkline"))
    {
        Some(scope) => scope.metrics.push(metric),
        None => scopes.push(ScopeMetrics {
            scope: Some(InstrumentationScope {
                name: "forkline".into(),
                ..Default::default()
            }),
            metrics: vec![metric],
            schema_url: String::new(),
        }),
    }
}

fn collect(store: &Store) -> Vec<HistogramDataPoint> {
    let now = SystemTime::now();
    let mut shared = store.series.lock().unwrap_or_else(PoisonError::into_inner);
    let start = if store.delta {
        std::mem::replace(&mut shared.1, now)
    } else {
        store.started
    };
    let overflow = [attribute(
        "otel.metric.overflow",
        any_value::Value::BoolValue(true),
    )];
    let series = shared
        .0
        .iter()
        .map(|(key, series)| (attributes(key), series));
    let series = series.chain(std::iter::once((overflow.to_vec(), &store.overflow)));
    let mut points = Vec::new();
    for (attributes, series) in series {
        let counts = {
            let mut counts = series.counts();
            if store.delta {
                counts.take()
            } else {
                *counts
            }
        };
        let Some(counts) = counts else { continue };
        points.push(HistogramDataPoint {
            attributes,
            start_time_unix_nano: unix_nanos(start),
            time_unix_nano: unix_nanos(now),
            count: counts.count,
            sum: Some(counts.sum),
            bucket_counts: counts.buckets.to_vec(),
            explicit_bounds: DURATION_BOUNDARIES.to_vec(),
            exemplars: Vec::new(),
            flags: 0,
            min: Some(counts.min),
            max: Some(counts.max),
        });
    }
    points
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(value: &str) -> any_value::Value {
    any_value::Value::StringValue(value.into())
}

fn attributes(key: &SeriesKey) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(5);
    attributes.push(attribute(
        "http.request.method",
        text(METHODS[usize::from(key.method)]),
    ));
    attributes.push(attribute(
        "url.scheme",
        text(SCHEMES[usize::from(key.scheme)]),
    ));
    if let Some(route) = &key.route.0 {
        attributes.push(attribute("http.route", text(route)));
    }
    if key.status != 0 {
        attributes.push(attribute(
            "http.response.status_code",
            any_value::Value::IntValue(i64::from(key.status)),
        ));
    }
    if let Some(error) = &key.error {
        attributes.push(attribute("error.type", text(error)));
    }
    attributes
}

fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::metrics::v1::ResourceMetrics;

    fn key(route: &str, status: u16, error: Option<&str>) -> SeriesKey {
        SeriesKey {
            method: 0,
            scheme: 0,
            status,
            route: RouteKey(Some(Cow::Owned(route.to_string()))),
            error: error.map(Into::into),
        }
    }

    /// A request as `ExportMetricsServiceRequest::from` makes it: one resource, the SDK's
    /// scopes (here `forkline` with one metric of its own when `with_scope`).
    fn request(with_scope: bool) -> ExportMetricsServiceRequest {
        let scope_metrics = if with_scope {
            vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "forkline".into(),
                    ..Default::default()
                }),
                metrics: vec![Metric {
                    name: "forkline.export.delivered".into(),
                    ..Default::default()
                }],
                schema_url: String::new(),
            }]
        } else {
            Vec::new()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics,
                ..Default::default()
            }],
        }
    }

    fn histogram(request: &ExportMetricsServiceRequest) -> Option<Histogram> {
        let metric = request.resource_metrics[0]
            .scope_metrics
            .iter()
            .filter(|s| s.scope.as_ref().is_some_and(|s| s.name == "forkline"))
            .flat_map(|s| &s.metrics)
            .find(|m| m.name == "http.server.request.duration")?;
        match &metric.data {
            Some(metric::Data::Histogram(h)) => Some(h.clone()),
            _ => None,
        }
    }

    fn attribute_of(point: &HistogramDataPoint, name: &str) -> Option<any_value::Value> {
        point
            .attributes
            .iter()
            .find(|kv| kv.key == name)
            .and_then(|kv| kv.value.clone()?.value)
    }

    #[test]
    fn a_value_on_a_boundary_is_counted_in_the_bucket_it_closes() {
        let mut counts = Counts::EMPTY;
        for seconds in [0.0, 0.005, 0.005_000_1, 0.1, 10.0, 10.5] {
            counts.add(seconds);
        }
        let mut expected = [0; BUCKETS];
        // (.., 0.005], (0.005, 0.01], (0.075, 0.1], (7.5, 10], (10, ..)
        for (bucket, n) in [(0, 2), (1, 1), (5, 1), (13, 1), (14, 1)] {
            expected[bucket] = n;
        }
        assert_eq!(counts.buckets, expected);
        assert_eq!((counts.count, counts.min, counts.max), (6, 0.0, 10.5));
    }

    #[test]
    fn cumulative_series_keep_their_counts_buckets_and_attributes() {
        let store = Store::new(1, false);
        store.record_shared(&key("/orders/{id}", 200, None), 0.003);
        store.record_shared(&key("/orders/{id}", 200, None), 0.2);
        store.record_shared(&key("/orders/{id}", 503, Some("503")), 20.0);
        let mut first = request(true);
        merge(&store, &mut first);
        let h = histogram(&first).expect("merged into the forkline scope");
        assert_eq!(first.resource_metrics[0].scope_metrics.len(), 1);
        assert_eq!(first.resource_metrics[0].scope_metrics[0].metrics.len(), 2);
        assert_eq!(
            h.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        assert_eq!(h.data_points.len(), 2);
        let ok = h
            .data_points
            .iter()
            .find(|p| {
                attribute_of(p, "http.response.status_code")
                    == Some(any_value::Value::IntValue(200))
            })
            .expect("the 200 series");
        assert_eq!(ok.count, 2);
        assert_eq!(ok.bucket_counts.len(), DURATION_BOUNDARIES.len() + 1);
        // 3 ms is under the first bound (5 ms); 200 ms under 250 ms, the seventh.
        assert_eq!(ok.bucket_counts[0], 1);
        assert_eq!(ok.bucket_counts[6], 1);
        assert_eq!(ok.bucket_counts.iter().sum::<u64>(), 2);
        assert_eq!((ok.min, ok.max), (Some(0.003), Some(0.2)));
        assert!((ok.sum.expect("sum") - 0.203).abs() < 1e-12);
        assert_eq!(ok.explicit_bounds, DURATION_BOUNDARIES.to_vec());
        assert_eq!(attribute_of(ok, "http.route"), Some(text("/orders/{id}")));
        assert_eq!(attribute_of(ok, "http.request.method"), Some(text("GET")));
        assert_eq!(attribute_of(ok, "url.scheme"), Some(text("http")));
        assert_eq!(attribute_of(ok, "error.type"), None);
        let failed = h
            .data_points
            .iter()
            .find(|p| attribute_of(p, "error.type") == Some(text("503")))
            .expect("the 503 series");
        // Above the last bound: the overflow bucket.
        assert_eq!(failed.bucket_counts.last(), Some(&1));
        // Cumulative: the next collection holds the totals again, from the same start.
        store.record_shared(&key("/orders/{id}", 200, None), 0.01);
        let mut second = request(false);
        merge(&store, &mut second);
        let again = histogram(&second).expect("a scope of its own when the SDK had none");
        let total: u64 = again.data_points.iter().map(|p| p.count).sum();
        assert_eq!(total, 4);
        assert_eq!(
            again.data_points[0].start_time_unix_nano,
            h.data_points[0].start_time_unix_nano
        );
    }

    #[test]
    fn a_kept_route_is_one_series_by_its_address_an_owned_one_by_its_text() {
        let kept: &'static str = Box::leak(String::from("/kept/{id}").into_boxed_str());
        let same_text: &'static str = Box::leak(String::from("/kept/{id}").into_boxed_str());
        let borrowed = |r: &'static str| RouteKey(Some(Cow::Borrowed(r)));
        let owned = |r: &str| RouteKey(Some(Cow::Owned(r.to_string())));
        assert!(borrowed(kept) == borrowed(kept));
        assert!(borrowed(kept) != borrowed(same_text));
        assert!(owned("/a") == owned("/a"));
        assert!(owned("/a") != owned("/b"));
        assert!(borrowed(kept) != owned("/kept/{id}"));
        assert!(RouteKey(None) == RouteKey(None));
        let store = Store::new(1, false);
        let key = |route: RouteKey| SeriesKey {
            method: 0,
            scheme: 0,
            status: 200,
            route,
            error: None,
        };
        store.record_shared(&key(borrowed(kept)), 0.1);
        store.record_shared(&key(borrowed(kept)), 0.2);
        store.record_shared(&key(owned("/owned")), 0.1);
        store.record_shared(&key(owned("/owned")), 0.1);
        let mut request = request(false);
        merge(&store, &mut request);
        let h = histogram(&request).expect("points");
        assert_eq!(h.data_points.len(), 2);
        assert!(h.data_points.iter().all(|p| p.count == 2));
    }

    #[test]
    fn delta_collections_hold_only_what_was_recorded_since_the_last() {
        let store = Store::new(1, true);
        store.record_shared(&key("/a", 200, None), 0.1);
        store.record_shared(&key("/b", 200, None), 0.1);
        let mut first = request(false);
        merge(&store, &mut first);
        let h = histogram(&first).expect("points");
        assert_eq!(
            h.aggregation_temporality,
            AggregationTemporality::Delta as i32
        );
        assert_eq!(h.data_points.len(), 2);
        let mut empty = request(false);
        merge(&store, &mut empty);
        assert!(
            histogram(&empty).is_none(),
            "nothing recorded since: no metric"
        );
        assert!(empty.resource_metrics[0].scope_metrics.is_empty());
        store.record_shared(&key("/b", 200, None), 0.3);
        let mut third = request(false);
        merge(&store, &mut third);
        let h3 = histogram(&third).expect("points");
        assert_eq!(h3.data_points.len(), 1);
        let point = &h3.data_points[0];
        assert_eq!(
            (point.count, point.min, point.max),
            (1, Some(0.3), Some(0.3))
        );
        // Its start is the (empty) collection before it, after the first one's end.
        assert!(point.start_time_unix_nano >= h.data_points[0].time_unix_nano);
        assert!(point.start_time_unix_nano <= point.time_unix_nano);
    }

    #[test]
    fn a_thread_recording_by_its_last_series_keeps_every_attribute_set_apart() {
        let (a, b): (&'static str, &'static str) = ("/a/{id}", "/b/{id}");
        let store = Arc::new(Store::new(7, false));
        type Set = (u8, u8, Option<&'static str>, u16, Option<&'static str>);
        let record = |(method, scheme, route, status, error): Set| {
            let mut route = route.map(Cow::Borrowed);
            let parts = KeyParts {
                method,
                scheme,
                status,
                route: &mut route,
                error: error.map(Into::into),
            };
            assert!(record_with(7, parts, 0.1, || Some(store.clone())));
        };
        // Each set differs from the one before in exactly one part; the last is the first.
        let sets: [Set; 8] = [
            (0, 0, Some(a), 200, None),
            (0, 0, Some(a), 404, None),
            (0, 0, Some(b), 404, None),
            (2, 0, Some(b), 404, None),
            (2, 1, Some(b), 404, None),
            (2, 1, None, 404, None),
            (2, 1, None, 404, Some("x")),
            (0, 0, Some(a), 200, None),
        ];
        for set in sets {
            record(set);
            record(set);
        }
        let mut first = request(false);
        merge(&store, &mut first);
        let h = histogram(&first).expect("points");
        let mut counts: Vec<(String, u64)> = h
            .data_points
            .iter()
            .map(|p| {
                let mut attributes: Vec<String> = p
                    .attributes
                    .iter()
                    .map(|kv| {
                        format!(
                            "{}={:?}",
                            kv.key,
                            kv.value.as_ref().and_then(|v| v.value.as_ref())
                        )
                    })
                    .collect();
                attributes.sort();
                (attributes.join(" "), p.count)
            })
            .collect();
        counts.sort();
        let counted: Vec<u64> = counts.iter().map(|(_, n)| *n).collect();
        assert_eq!(counts.len(), 7, "{counts:#?}");
        assert_eq!(counted.iter().sum::<u64>(), 16, "{counts:#?}");
        assert_eq!(
            counted.iter().filter(|n| **n == 4).count(),
            1,
            "{counts:#?}"
        );
        // A new pipeline (epoch): the thread's last series is not the old store's.
        let fresh = Arc::new(Store::new(8, false));
        let mut route = Some(Cow::Borrowed(a));
        let parts = KeyParts {
            method: 0,
            scheme: 0,
            status: 200,
            route: &mut route,
            error: None,
        };
        assert!(record_with(8, parts, 0.1, || Some(fresh.clone())));
        let mut after = request(false);
        merge(&fresh, &mut after);
        let points = histogram(&after).expect("points").data_points;
        assert_eq!(points.iter().map(|p| p.count).sum::<u64>(), 1);
        let mut before = request(false);
        merge(&store, &mut before);
        let old = histogram(&before).expect("points").data_points;
        assert_eq!(old.iter().map(|p| p.count).sum::<u64>(), 16);
    }

    #[test]
    fn attribute_sets_past_the_limit_go_to_one_overflow_series() {
        let store = Store::new(1, false);
        for i in 0..CARDINALITY_LIMIT + 5 {
            let cached = store.record_shared(&key(&format!("/r{i}"), 200, None), 0.1);
            assert_eq!(cached.is_some(), i < CARDINALITY_LIMIT, "{i}");
        }
        let mut request = request(false);
        merge(&store, &mut request);
        let h = histogram(&request).expect("points");
        assert_eq!(h.data_points.len(), CARDINALITY_LIMIT + 1);
        let overflow = h
            .data_points
            .iter()
            .find(|p| attribute_of(p, "otel.metric.overflow").is_some())
            .expect("the overflow series");
        assert_eq!(overflow.count, 5);
        assert_eq!(overflow.attributes.len(), 1);
        assert_eq!(
            h.data_points.iter().map(|p| p.count).sum::<u64>(),
            CARDINALITY_LIMIT as u64 + 5
        );
    }
}
