//! Gunicorn's `timeout`, the worker's side. A task on the worker's runtime beats in its
//! scoreboard record, so a runtime whose threads are all blocked (a sync sleep, a lock, a CPU
//! loop) stops beating and the master sees it; with each beat it publishes the oldest poll of a
//! request still running, so one request blocking one of several threads is seen too. The master then sends ABRT, which a thread of its
//! own outside the runtime waits for (`sigwait`; ABRT is blocked on every other thread of the
//! worker from the start), since the stuck runtime could not act on it: that thread flushes the
//! worker's telemetry under a short deadline, sends a Sentry event "worker timeout", leaves a
//! report that says so, and exits.

use crate::health::serving::Record;
use std::io;
use std::time::Duration;

/// A worker's exit code after it was aborted for a timeout.
pub(crate) const TIMED_OUT: i32 = 5;

/// The telemetry flush budget of an aborted worker: within the master's grace before KILL.
pub(crate) const ABORT_FLUSH: Duration = Duration::from_millis(1000);

/// Blocks ABRT on this thread, and so on every thread it starts later: only the abort thread
/// takes it. Call before the worker starts any thread. (`abort()` itself unblocks it and still
/// ends the process, as ever.)
pub(crate) fn block_abort() -> io::Result<()> {
    crate::server::signals::block(&[libc::SIGABRT]).map(drop)
}

/// Beats in `record` every `every`, on the current runtime, and publishes there the oldest
/// request in flight and the oldest poll of one still running: a request blocking one of
/// several runtime threads does not stop the beat, which the others keep up.
pub(crate) fn start_heartbeat(record: &'static Record, every: Duration) {
    record.beat(crate::sys::monotonic_ms());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            record.beat(crate::sys::monotonic_ms());
            crate::server::worker::in_flight::publish(record);
        }
    });
}

/// Starts the thread that waits for the master's ABRT and then runs `on_abort`, which ends the
/// process.
pub(crate) fn watch_for_abort(on_abort: impl FnOnce() + Send + 'static) -> io::Result<()> {
    std::thread::Builder::new()
        .name("forkline-abort".into())
        .spawn(move || {
            let set = crate::server::signals::sigset(&[libc::SIGABRT]);
            let mut received = 0;
            // SAFETY: a valid set with ABRT blocked on this thread (inherited), and a valid
            // out-pointer.
            while unsafe { libc::sigwait(&set, &mut received) } != 0 {}
            on_abort();
        })
        .map(drop)
}
