//! The HTTP server metrics of the stable semantic conventions, recorded by `TelemetryLayer` (and
//! by `serve_axum` for a request it refuses over a limit):
//! `http.server.request.duration` (a histogram in seconds, with the conventions' bucket
//! boundaries) and `http.server.active_requests` (an up-down counter). The instruments are made
//! once per installed meter provider (so once per worker, after `post_fork` installed it; the
//! layer itself is built in the master, before any provider exists), and the attribute keys are
//! constants: a request costs its attribute values and two or three recordings.

use crate::metric_collection::duration_series::{self, KeyParts};
use crate::telemetry::metrics_pipeline;
use opentelemetry::metrics::{Histogram, ObservableUpDownCounter};
use opentelemetry::{Key, KeyValue};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, Ordering};
use std::time::SystemTime;

const METHOD: Key = Key::from_static_str("http.request.method");
const ROUTE: Key = Key::from_static_str("http.route");
const STATUS: Key = Key::from_static_str("http.response.status_code");
const SCHEME: Key = Key::from_static_str("url.scheme");
const ERROR_TYPE: Key = Key::from_static_str("error.type");

pub(crate) use crate::metric_collection::DURATION_BOUNDARIES;

pub(crate) use crate::metric_collection::duration_series::{METHODS, SCHEMES};

/// Requests in flight by method and scheme, observed at each collection: two atomic adds per
/// request instead of two recordings through the SDK (each builds, sorts and hashes an
/// attribute set; together they were half of what the metrics added to the layer).
struct Active {
    count: [[AtomicI64; 2]; 10],
    /// Observed once used, so that a collection lists only the combinations that occurred.
    used: [[AtomicBool; 2]; 10],
}

static ACTIVE: Active = Active {
    count: [const { [const { AtomicI64::new(0) }; 2] }; 10],
    used: [const { [const { AtomicBool::new(false) }; 2] }; 10],
};

struct Instruments {
    epoch: u64,
    /// The SDK's histogram, when forkline does not aggregate it (see `duration_series`).
    duration: Option<Histogram<f64>>,
    _active: ObservableUpDownCounter<i64>,
}

/// The current instruments. Entries are never freed (a request may still hold one): one leaks
/// per meter provider installed, a handful in a process's life.
static CACHED: AtomicPtr<Instruments> = AtomicPtr::new(std::ptr::null_mut());

fn instruments() -> &'static Instruments {
    let epoch = crate::telemetry::metrics_pipeline::meter_epoch();
    // SAFETY: a non-null pointer in CACHED comes from `Box::leak` below and is never freed.
    if let Some(cached) = unsafe { CACHED.load(Ordering::Acquire).as_ref() } {
        if cached.epoch == epoch {
            return cached;
        }
    }
    let meter = opentelemetry::global::meter("forkline");
    let fresh: &'static Instruments = Box::leak(Box::new(Instruments {
        epoch,
        duration: (!duration_series::active(epoch)).then(|| {
            meter
                .f64_histogram("http.server.request.duration")
                .with_unit("s")
                .with_description("Duration of HTTP server requests.")
                .with_boundaries(DURATION_BOUNDARIES.to_vec())
                .build()
        }),
        _active: meter
            .i64_observable_up_down_counter("http.server.active_requests")
            .with_unit("{request}")
            .with_description("Number of active HTTP server requests.")
            .with_callback(|observer| {
                for (m, method) in METHODS.iter().enumerate() {
                    for (s, scheme) in SCHEMES.iter().enumerate() {
                        if ACTIVE.used[m][s].load(Ordering::Relaxed) {
                            observer.observe(
                                ACTIVE.count[m][s].load(Ordering::Relaxed),
                                &[
                                    KeyValue::new(METHOD, *method),
                                    KeyValue::new(SCHEME, *scheme),
                                ],
                            );
                        }
                    }
                }
            })
            .build(),
    }));
    CACHED.store(std::ptr::from_ref(fresh).cast_mut(), Ordering::Release);
    fresh
}

/// One request in the metrics: counted active from its start until it is finished or dropped.
/// Nothing at all (no clock, no counter) when forkline's pipeline has metrics off.
pub(crate) struct RequestMetrics(Option<Recording>);

/// Kept small: it is part of every request's future, which is moved several times.
struct Recording {
    instruments: &'static Instruments,
    started: SystemTime,
    route: Option<Cow<'static, str>>,
    /// Indexes in `METHODS` and `SCHEMES`.
    method: u8,
    scheme: u8,
    finished: bool,
}

impl RequestMetrics {
    /// A request starts at `started` (`method`: its index in `METHODS`, the last for
    /// `_OTHER`). The layer reads the clock once for this and its span's start.
    pub(crate) fn start(
        method: usize,
        scheme: &'static str,
        route: Option<Cow<'static, str>>,
        started: SystemTime,
    ) -> Self {
        if metrics_pipeline::metrics_off() {
            return Self(None);
        }
        let instruments = instruments();
        let (m, s) = (method, usize::from(scheme == "https"));
        if !ACTIVE.used[m][s].load(Ordering::Relaxed) {
            ACTIVE.used[m][s].store(true, Ordering::Relaxed);
        }
        ACTIVE.count[m][s].fetch_add(1, Ordering::Relaxed);
        Self(Some(Recording {
            instruments,
            started,
            route,
            method: m as u8,
            scheme: s as u8,
            finished: false,
        }))
    }

    /// The request is answered at `at` with `status`, or failed (`status` `None`) with
    /// `error`. `error` is set for 5xx (the status code), panics and service errors. Its
    /// duration is of the wall clock, as its span's (a clock step during a request is
    /// recorded as 0 when backwards).
    pub(crate) fn finish(&mut self, at: SystemTime, status: Option<u16>, error: Option<String>) {
        let Some(this) = &mut self.0 else {
            return;
        };
        if std::mem::replace(&mut this.finished, true) {
            return;
        }
        let seconds = at
            .duration_since(this.started)
            .unwrap_or_default()
            .as_secs_f64();
        match &this.instruments.duration {
            None => {
                let parts = KeyParts {
                    method: this.method,
                    scheme: this.scheme,
                    status: status.unwrap_or(0),
                    route: &mut this.route,
                    error,
                };
                // Not recorded only when the provider was replaced while the request ran.
                duration_series::record(this.instruments.epoch, parts, seconds);
            }
            Some(histogram) => this.record_in_sdk(histogram, seconds, status, error),
        }
        this.active_done();
    }
}

impl Recording {
    /// With a meter provider forkline did not build: through the SDK's histogram.
    #[cold]
    #[inline(never)]
    fn record_in_sdk(
        &mut self,
        histogram: &Histogram<f64>,
        seconds: f64,
        status: Option<u16>,
        error: Option<String>,
    ) {
        let mut attributes = Vec::with_capacity(5);
        attributes.push(KeyValue::new(METHOD, METHODS[usize::from(self.method)]));
        attributes.push(KeyValue::new(SCHEME, SCHEMES[usize::from(self.scheme)]));
        if let Some(route) = self.route.take() {
            attributes.push(KeyValue::new(ROUTE, route));
        }
        if let Some(status) = status {
            attributes.push(KeyValue::new(STATUS, i64::from(status)));
        }
        if let Some(error) = error {
            attributes.push(KeyValue::new(ERROR_TYPE, error));
        }
        histogram.record(seconds, &attributes);
    }
}

impl Recording {
    fn active_done(&self) {
        let (m, s) = (usize::from(self.method), usize::from(self.scheme));
        ACTIVE.count[m][s].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        // Cancelled (the client went away): no longer active, and no duration of an answer.
        if !self.finished {
            self.finished = true;
            self.active_done();
        }
    }
}

/// The method's index in [`METHODS`] (`_OTHER`, the last, for a method the conventions do not
/// name).
pub(crate) fn method_index(method: &http::Method) -> usize {
    match *method {
        http::Method::GET => 0,
        http::Method::HEAD => 1,
        http::Method::POST => 2,
        http::Method::PUT => 3,
        http::Method::DELETE => 4,
        http::Method::CONNECT => 5,
        http::Method::OPTIONS => 6,
        http::Method::TRACE => 7,
        http::Method::PATCH => 8,
        _ => METHODS.len() - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundaries_are_the_conventions_advice_in_order() {
        assert!(DURATION_BOUNDARIES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(DURATION_BOUNDARIES.first(), Some(&0.005));
        assert_eq!(DURATION_BOUNDARIES.last(), Some(&10.0));
    }
}
