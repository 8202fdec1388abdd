//! `#[handler(metrics)]`: each call's duration in `forkline.handler.duration`, a histogram in
//! seconds with the HTTP conventions' bucket boundaries, by `code.function.name` (the handler's
//! span name), with `error.type = "panic"` for a call that panicked. The histogram is made once
//! per installed meter provider (the handler may run before `post_fork` installed one, in the
//! master or in a test, and then records into the no-op provider).

use opentelemetry::metrics::Histogram;
use opentelemetry::{Key, KeyValue};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Instant;

const FUNCTION: Key = Key::from_static_str("code.function.name");
const ERROR_TYPE: Key = Key::from_static_str("error.type");

struct Instrument {
    epoch: u64,
    duration: Histogram<f64>,
}

/// The current histogram; never freed (a call may still hold one): one leaks per meter provider
/// installed, a handful in a process's life.
static CACHED: AtomicPtr<Instrument> = AtomicPtr::new(std::ptr::null_mut());

fn histogram() -> &'static Histogram<f64> {
    let epoch = crate::telemetry::metrics_pipeline::meter_epoch();
    // SAFETY: a non-null pointer in CACHED comes from `Box::leak` below and is never freed.
    if let Some(cached) = unsafe { CACHED.load(Ordering::Acquire).as_ref() } {
        if cached.epoch == epoch {
            return &cached.duration;
        }
    }
    let fresh: &'static Instrument = Box::leak(Box::new(Instrument {
        epoch,
        duration: opentelemetry::global::meter("forkline")
            .f64_histogram("forkline.handler.duration")
            .with_unit("s")
            .with_description("Duration of calls to a #[forkline::handler(metrics)] function.")
            .with_boundaries(crate::telemetry::metrics_pipeline::DURATION_BOUNDARIES.to_vec())
            .build(),
    }));
    CACHED.store(std::ptr::from_ref(fresh).cast_mut(), Ordering::Release);
    &fresh.duration
}

/// Times one call of a `#[handler(metrics)]` function; records when dropped (at the end of the
/// call, when it unwinds, or when its future is dropped).
#[derive(Debug)]
pub struct HandlerTimer {
    name: &'static str,
    started: Instant,
}

impl HandlerTimer {
    /// A call of the handler named `name` starts.
    #[inline]
    pub fn start(name: &'static str) -> Self {
        Self {
            name,
            started: Instant::now(),
        }
    }
}

impl Drop for HandlerTimer {
    fn drop(&mut self) {
        if crate::telemetry::metrics_pipeline::metrics_off() {
            return;
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let function = KeyValue::new(FUNCTION, self.name);
        if std::thread::panicking() {
            histogram().record(seconds, &[function, KeyValue::new(ERROR_TYPE, "panic")]);
        } else {
            histogram().record(seconds, &[function]);
        }
    }
}
