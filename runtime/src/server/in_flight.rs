//! What a worker is serving right now, for the timeout's Sentry event (uWSGI's harakiri report:
//! what the stuck request was doing). `serve_axum` gives each connection a slot here; a request
//! writes `METHOD /path` into its connection's slot before routing, the route template
//! (`GET /orders/{id}`) once routed, and clears it when its response is done. The hot path takes
//! only its own connection's lock, never contended but by the abort thread; the list of slots is
//! locked once per connection, as it opens. The abort thread only ever `try_lock`s, since a
//! runtime thread may be stuck anywhere.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The longest request line kept; a longer one is cut (on a character boundary) and marked `…`.
const MAX_LINE: usize = 200;
/// The most distinct lines a snapshot names.
const MAX_LINES: usize = 10;

/// The connections of this worker, as weak references (a closed connection's slot goes away).
static CONNECTIONS: Mutex<Vec<Weak<Slot>>> = Mutex::new(Vec::new());

/// One connection's request in flight, if any.
#[derive(Debug, Default)]
pub(crate) struct Slot(Mutex<Option<String>>);

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
        if let Ok(mut current) = self.0.lock() {
            *current = Some(line);
        }
    }

    /// The request is answered (or dropped).
    pub(crate) fn clear(&self) {
        if let Ok(mut current) = self.0.lock() {
            *current = None;
        }
    }
}

/// The requests in flight in this worker, each distinct line once with its count
/// (`GET /block ×2`), sorted, at most [`MAX_LINES`]. Waits at most `patience` for the list.
pub(crate) fn snapshot(patience: Duration) -> Vec<String> {
    let started = Instant::now();
    let list = loop {
        match CONNECTIONS.try_lock() {
            Ok(list) => break list.clone(),
            Err(_) if started.elapsed() < patience => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => return Vec::new(),
        }
    };
    let mut lines: Vec<String> = list
        .iter()
        .filter_map(Weak::upgrade)
        .filter_map(|slot| slot.0.try_lock().ok()?.clone())
        .collect();
    lines.sort();
    let mut counted: Vec<(String, usize)> = Vec::new();
    for line in lines {
        match counted.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => counted.push((line, 1)),
        }
    }
    counted
        .into_iter()
        .take(MAX_LINES)
        .map(|(line, n)| if n > 1 { format!("{line} ×{n}") } else { line })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_names_each_request_in_flight_once_with_its_count() {
        let a = Slot::open();
        let b = Slot::open();
        let c = Slot::open();
        a.set("GET", "/block");
        b.set("GET", "/block");
        c.set("POST", &"x".repeat(500));
        let seen = snapshot(Duration::from_millis(10));
        assert!(seen.contains(&"GET /block ×2".to_string()), "{seen:?}");
        assert!(seen
            .iter()
            .any(|l| l.starts_with("POST xxx") && l.ends_with('…') && l.len() <= MAX_LINE + 3));
        a.clear();
        drop(c);
        let seen = snapshot(Duration::from_millis(10));
        assert!(seen.contains(&"GET /block".to_string()), "{seen:?}");
        assert!(!seen.iter().any(|l| l.starts_with("POST")), "{seen:?}");
    }
}
