//! A worker's serving figures (connections and requests), counted in a record of plain
//! atomics that lives in the master's shared scoreboard (`server::scoreboard`), so the master and
//! the other workers can read it too.

use crate::stats::ProcessCounters;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// What one worker's server did: connections and requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Serving {
    /// Connections this worker accepted.
    pub connections_accepted: u64,
    /// Connections open now (in a worker report: still open as it stopped serving, which may
    /// include one whose task was ending at that instant).
    pub connections_open: u64,
    /// Requests answered (counted by `serve_axum`; 0 for other apps).
    pub requests_served: u64,
    /// Of those, refused by `serve_axum` over Gunicorn's request limits or as malformed (414,
    /// 431, 400), without reaching the app.
    #[serde(default)]
    pub requests_refused: u64,
}

/// Why the master aborts a worker, beyond what the worker can tell itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AbortReason {
    /// Its resident memory passed `evil_reload_on_rss`.
    Memory = 1,
}

/// One worker slot's record, a cache line of its own: two workers' counters on one line would
/// bounce it between their cores on every request.
#[repr(C, align(64))]
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// The worker's pid; 0 while the slot is free.
    pid: AtomicU32,
    accepted: AtomicU64,
    open: AtomicU64,
    requests: AtomicU64,
    refused: AtomicU64,
    /// When a task on the worker's runtime last ran (`sys::monotonic_ms`); 0 before the first
    /// beat. A runtime whose threads are all blocked stops beating.
    heartbeat_ms: AtomicU64,
    /// When the oldest poll of a request's future still running began (0: none), and when the
    /// oldest request in flight came in (0: none), as of the last beat (`server::in_flight`).
    stuck_since_ms: AtomicU64,
    oldest_request_ms: AtomicU64,
    /// Why the master sends ABRT, when it says (`AbortReason`, 0: the timeout's own checks).
    abort_reason: AtomicU32,
    /// The worker's telemetry counters (`stats::count_in`), on cache lines of their own: the
    /// worker writes them per span, while other workers read the line above per connection.
    telemetry: TelemetryCounters,
}

#[repr(C, align(64))]
#[derive(Debug, Default)]
struct TelemetryCounters(ProcessCounters);

impl Record {
    /// Taken by a worker for itself, with its counters from zero.
    pub(crate) fn claim(&self, pid: u32) {
        self.accepted.store(0, Relaxed);
        self.open.store(0, Relaxed);
        self.requests.store(0, Relaxed);
        self.refused.store(0, Relaxed);
        self.heartbeat_ms.store(0, Relaxed);
        self.stuck_since_ms.store(0, Relaxed);
        self.oldest_request_ms.store(0, Relaxed);
        self.abort_reason.store(0, Relaxed);
        self.pid.store(pid, Relaxed);
    }

    /// The counters of the worker that holds (or last held) this record. The master zeroes them
    /// before it forks the record's next worker, so they are never a previous worker's.
    pub(crate) fn counters(&self) -> &ProcessCounters {
        &self.telemetry.0
    }

    /// The worker's runtime made progress at `now_ms`.
    pub(crate) fn beat(&self, now_ms: u64) {
        self.heartbeat_ms.store(now_ms, Relaxed);
    }

    /// The last beat, if the worker has beaten since it claimed the record.
    pub(crate) fn last_beat(&self, pid: u32) -> Option<u64> {
        let beat = self.heartbeat_ms.load(Relaxed);
        (self.pid.load(Relaxed) == pid && beat > 0).then_some(beat)
    }

    /// The oldest poll of a request still running and the oldest request in flight, began and
    /// came in at these times (`sys::coarse_monotonic_ms`; 0: none).
    pub(crate) fn set_in_flight(&self, stuck_since_ms: u64, oldest_request_ms: u64) {
        self.stuck_since_ms.store(stuck_since_ms, Relaxed);
        self.oldest_request_ms.store(oldest_request_ms, Relaxed);
    }

    /// Since when a request of worker `pid` has been in one poll, as of its last beat.
    pub(crate) fn stuck_since(&self, pid: u32) -> Option<u64> {
        let since = self.stuck_since_ms.load(Relaxed);
        (self.pid.load(Relaxed) == pid && since > 0).then_some(since)
    }

    /// When the oldest request of worker `pid` in flight came in, as of its last beat.
    pub(crate) fn oldest_request(&self, pid: u32) -> Option<u64> {
        let since = self.oldest_request_ms.load(Relaxed);
        (self.pid.load(Relaxed) == pid && since > 0).then_some(since)
    }

    /// Said by the master before it sends ABRT.
    pub(crate) fn set_abort_reason(&self, reason: AbortReason) {
        self.abort_reason.store(reason as u32, Relaxed);
    }

    /// What the master said before ABRT, if anything.
    pub(crate) fn abort_reason(&self) -> Option<AbortReason> {
        (self.abort_reason.load(Relaxed) == AbortReason::Memory as u32)
            .then_some(AbortReason::Memory)
    }

    /// Given back by the worker `pid` (no-op if another worker holds it now).
    pub(crate) fn release(&self, pid: u32) {
        let _ = self.pid.compare_exchange(pid, 0, Relaxed, Relaxed);
    }

    /// Whether the worker `pid` has claimed this record (it is about to serve: its runtime,
    /// `worker_init` and listener are up).
    pub(crate) fn held_by(&self, pid: u32) -> bool {
        self.pid.load(Relaxed) == pid
    }

    /// Whether a worker holds this record.
    pub(crate) fn live(&self) -> bool {
        self.pid.load(Relaxed) != 0
    }

    pub(crate) fn connection_opened(&self) {
        self.accepted.fetch_add(1, Relaxed);
        self.open.fetch_add(1, Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.open.fetch_sub(1, Relaxed);
    }

    // Counted by `serve_axum`, the one server that sees requests.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn request_served(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn request_refused(&self) {
        self.refused.fetch_add(1, Relaxed);
    }

    pub(crate) fn open(&self) -> u64 {
        self.open.load(Relaxed)
    }

    pub(crate) fn serving(&self) -> Serving {
        Serving {
            connections_accepted: self.accepted.load(Relaxed),
            connections_open: self.open.load(Relaxed),
            requests_served: self.requests.load(Relaxed),
            requests_refused: self.refused.load(Relaxed),
        }
    }
}
