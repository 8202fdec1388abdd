//! What a worker is serving right now: for the master's timeout, and for what an aborted worker
//! leaves behind (uWSGI's harakiri report: what the stuck request was doing, and beyond it: the
//! request's own span, ended and exported).
//!
//! `serve_axum` gives each connection a [`Slot`]. A request writes `METHOD /path` into its
//! connection's slot before routing, the route template (`GET /orders/{id}`) once routed, and
//! when it came in; while the server polls the request's future, the slot says since when (a
//! poll that does not return is a request blocking its runtime thread); `TelemetryLayer` keeps
//! the request's span there. The runtime's heartbeat publishes the oldest of these in the
//! worker's scoreboard record, where the master reads them: a request stuck in one poll for
//! longer than the timeout is caught even while the worker's other runtime threads keep
//! beating.
//!
//! The hot path touches only its own connection's slot: a coarse clock read and a few relaxed
//! stores per poll, and one uncontended lock when the span is kept. The list of slots is locked
//! once per connection, as it opens, and once per beat. The abort thread only ever `try_lock`s,
//! since a runtime thread may be stuck anywhere.

use crate::health::serving::Record;
use opentelemetry::trace::TraceContextExt;
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The longest request line kept; a longer one is cut (on a character boundary) and marked `…`.
const MAX_LINE: usize = 200;

/// The connections of this worker, as weak references (a closed connection's slot goes away).
static CONNECTIONS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

thread_local! {
    /// The slot of the request this thread is polling, for `TelemetryLayer` to keep its span in.
    static CURRENT: Cell<*const Slot> = const { Cell::new(std::ptr::null()) };
}

/// One connection's request in flight, if any.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    line: Mutex<Option<String>>,
    /// When the request came in (`sys::coarse_monotonic_ms`); 0 between requests.
    started_ms: AtomicU64,
    /// When the poll of the request's future now running began; 0 between polls.
    polling_since_ms: AtomicU64,
    /// The request's server span, when `TelemetryLayer` made one.
    span: Mutex<Option<opentelemetry::Context>>,
}

#[cfg_attr(not(feature = "axum"), allow(dead_code))]
impl Slot {
    /// A slot for a new connection, registered with the worker's list.
    pub(crate) fn open() -> Arc<Self> {
        let slot = Arc::new(Self::default());
        if let Ok(mut list) = CONNECTIONS.lock() {
            // Amortised: drop the closed connections' entries whenever the list doubles.
            if list.len() >= 64 && list.len().is_power_of_two() {
                list.retain(|w| w.strong_count() > 0);
            }
            list.push(Arc::downgrade(&slot));
        }
        slot
    }

    /// A request came in on this connection.
    pub(crate) fn start(&self, method: &str, path: &str) {
        self.started_ms
            .store(crate::sys::coarse_monotonic_ms(), Relaxed);
        self.set(method, path);
    }

    /// The request this connection is serving now: `method` and `path` (or route template).
    pub(crate) fn set(&self, method: &str, path: &str) {
        let mut line = format!("{method} {path}");
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        if let Ok(mut current) = self.line.lock() {
            *current = Some(line);
        }
    }

    /// The request is answered (or dropped).
    pub(crate) fn clear(&self) {
        self.started_ms.store(0, Relaxed);
        if let Ok(mut current) = self.line.lock() {
            *current = None;
        }
        if let Ok(mut span) = self.span.lock() {
            *span = None;
        }
    }

    /// The trace and span ids of the request's span, if `TelemetryLayer` kept one.
    pub(crate) fn trace_ids(&self) -> Option<(String, String)> {
        let span = self.span.lock().ok()?;
        let context = span.as_ref()?.span().span_context().clone();
        context.is_valid().then(|| {
            (
                context.trace_id().to_string(),
                context.span_id().to_string(),
            )
        })
    }

    /// The request's future is being polled on this thread until the guard drops: the slot
    /// says since when, and is this thread's current slot.
    pub(crate) fn polling(&self) -> Polling<'_> {
        self.polling_since_ms
            .store(crate::sys::coarse_monotonic_ms(), Relaxed);
        let previous = CURRENT.with(|c| c.replace(self));
        Polling {
            slot: self,
            previous,
        }
    }
}

/// A poll of a request's future in progress (see [`Slot::polling`]).
pub(crate) struct Polling<'a> {
    slot: &'a Slot,
    previous: *const Slot,
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.slot.polling_since_ms.store(0, Relaxed);
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Keeps `cx`, a request's server span, in the slot of the request this thread is polling (if
/// `serve_axum` serves it): an aborted worker ends it, with an error, and exports it.
#[cfg_attr(not(feature = "tower"), allow(dead_code))]
pub(crate) fn keep_span(cx: &opentelemetry::Context) {
    CURRENT.with(|current| {
        let slot = current.get();
        if slot.is_null() {
            return;
        }
        // SAFETY: `CURRENT` is set only by a `Polling` guard, which borrows the slot and puts
        // the previous value back when it drops: a non-null pointer here is a live slot.
        let slot = unsafe { &*slot };
        if let Ok(mut span) = slot.span.lock() {
            *span = Some(cx.clone());
        }
    });
}

/// The worker's slots now, waiting at most `patience` for the list.
fn slots(patience: Duration) -> Vec<Arc<Slot>> {
    let started = Instant::now();
    loop {
        match CONNECTIONS.try_lock() {
            Ok(list) => return list.iter().filter_map(Weak::upgrade).collect(),
            Err(_) if started.elapsed() < patience => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => return Vec::new(),
        }
    }
}

/// Publishes in the worker's record the oldest poll in progress and the oldest request in
/// flight, for the master's timeout (called on each beat of the runtime's heartbeat).
pub(crate) fn publish(record: &Record) {
    let Ok(list) = CONNECTIONS.lock() else {
        return;
    };
    let oldest = |field: fn(&Slot) -> &AtomicU64| {
        list.iter()
            .filter_map(Weak::upgrade)
            .map(|slot| field(&slot).load(Relaxed))
            .filter(|&ms| ms > 0)
            .min()
            .unwrap_or(0)
    };
    record.set_in_flight(oldest(|s| &s.polling_since_ms), oldest(|s| &s.started_ms));
}

/// One request in flight when the worker was aborted.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    /// `GET /orders/{id}` (the route template once routed, else the path).
    pub(crate) line: String,
    /// How long it has run.
    pub(crate) age: Duration,
    /// How long its current poll has run, if one is running: the request blocks its thread.
    pub(crate) stuck: Option<Duration>,
    /// Its server span, if `TelemetryLayer` made one.
    pub(crate) span: Option<opentelemetry::Context>,
}

impl InFlight {
    /// The request's trace id, in hex, if it has a span.
    pub(crate) fn trace_id(&self) -> Option<String> {
        let cx = self.span.as_ref()?;
        Some(cx.span().span_context().trace_id().to_string())
    }
}

impl std::fmt::Display for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (running {} ms", self.line, self.age.as_millis())?;
        if let Some(stuck) = self.stuck {
            write!(f, ", in one poll for {} ms", stuck.as_millis())?;
        }
        if let Some(trace) = self.trace_id() {
            write!(f, ", trace {trace}")?;
        }
        f.write_str(")")
    }
}

/// The requests in flight in this worker, stuck ones first, then the oldest. Waits at most
/// `patience` for the list; never blocks on a slot.
pub(crate) fn in_flight(patience: Duration) -> Vec<InFlight> {
    let now = crate::sys::coarse_monotonic_ms();
    let age = |ms: u64| Duration::from_millis(now.saturating_sub(ms));
    let mut requests: Vec<InFlight> = slots(patience)
        .iter()
        .filter_map(|slot| {
            let started = slot.started_ms.load(Relaxed);
            if started == 0 {
                return None;
            }
            let polling = slot.polling_since_ms.load(Relaxed);
            Some(InFlight {
                line: slot.line.try_lock().ok()?.clone()?,
                age: age(started),
                stuck: (polling > 0).then(|| age(polling)),
                span: slot.span.try_lock().ok().and_then(|s| s.clone()),
            })
        })
        .collect();
    requests.sort_by_key(|r| (std::cmp::Reverse(r.stuck), std::cmp::Reverse(r.age)));
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_each_request_in_flight_stuck_ones_first() {
        let a = Slot::open();
        let b = Slot::open();
        let c = Slot::open();
        a.start("GET", "/slow");
        b.start("GET", "/block");
        c.start("POST", &"x".repeat(500));
        let stuck = b.polling();
        let seen = in_flight(Duration::from_millis(10));
        let at = |line: &str| seen.iter().position(|r| r.line == line).expect(line);
        assert!(at("GET /block") < at("GET /slow"), "{seen:?}");
        let blocked = &seen[at("GET /block")];
        assert!(blocked.to_string().contains("in one poll for"), "{seen:?}");
        assert!(seen[at("GET /slow")].stuck.is_none(), "{seen:?}");
        assert!(seen
            .iter()
            .any(|r| r.line.starts_with("POST xxx") && r.line.ends_with('…')));
        drop(stuck);
        a.clear();
        drop(c);
        let seen = in_flight(Duration::from_millis(10));
        assert!(seen.iter().all(|r| r.line != "GET /slow"), "{seen:?}");
        assert!(seen.iter().all(|r| !r.line.starts_with("POST")), "{seen:?}");
        assert!(seen
            .iter()
            .any(|r| r.line == "GET /block" && r.stuck.is_none()));
    }

    #[test]
    fn a_span_is_kept_only_in_the_slot_being_polled_on_this_thread() {
        let slot = Slot::open();
        slot.start("GET", "/x");
        let cx = opentelemetry::Context::new();
        keep_span(&cx);
        assert!(slot.span.lock().expect("lock").is_none(), "not polled yet");
        {
            let _polling = slot.polling();
            keep_span(&cx);
        }
        assert!(slot.span.lock().expect("lock").is_some());
        CURRENT.with(|c| assert!(c.get().is_null(), "restored after the poll"));
        slot.clear();
        assert!(slot.span.lock().expect("lock").is_none());
    }
}
