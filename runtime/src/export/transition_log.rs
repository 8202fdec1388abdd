//! Breaker changes in the log, rate-limited: at most one line per pipeline per window, because a
//! backend that flaps would otherwise write a line every cool-down. A line says how many changes
//! went unlogged before it; `forkline::health()` always shows the current state.

use crate::export::breaker::BreakerState;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One line per this much time at most.
const WINDOW: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub(crate) struct TransitionLog {
    pipeline: &'static str,
    /// What happens to data while the circuit is open, in words.
    while_open: &'static str,
    /// When the last line was written, and the changes not logged since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl TransitionLog {
    pub(crate) fn new(pipeline: &'static str, while_open: &'static str) -> Self {
        Self {
            pipeline,
            while_open,
            state: Mutex::new((None, 0)),
        }
    }

    /// Logs a breaker change unless a line was written less than a window ago.
    pub(crate) fn changed(&self, state: BreakerState, last_error: Option<&str>) {
        if let Some(line) = self.line(state, last_error, Instant::now()) {
            crate::diag::log_warn!("{line}");
        }
    }

    fn line(&self, state: BreakerState, last_error: Option<&str>, now: Instant) -> Option<String> {
        if state == BreakerState::HalfOpen {
            return None;
        }
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (last, unlogged) = &mut *guard;
        if last.is_some_and(|at| now.duration_since(at) < WINDOW) {
            *unlogged += 1;
            return None;
        }
        let skipped = std::mem::take(unlogged);
        *last = Some(now);
        let pipeline = self.pipeline;
        let mut line = match state {
            BreakerState::Open => format!(
                "{pipeline}: circuit open after repeated failures ({}); {} until a probe succeeds",
                last_error.unwrap_or("no answer"),
                self.while_open
            ),
            _ => format!("{pipeline}: delivery recovered, circuit closed"),
        };
        if skipped > 0 {
            line.push_str(&format!(
                " ({skipped} earlier breaker changes not logged; at most one line per {} s)",
                WINDOW.as_secs()
            ));
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flapping_breaker_writes_one_line_per_window_and_counts_the_rest() {
        let log = TransitionLog::new("OTLP export", "spans are kept");
        let t0 = Instant::now();
        let open = log.line(BreakerState::Open, Some("HTTP 503"), t0);
        assert!(open.is_some_and(|l| l.contains("circuit open") && l.contains("HTTP 503")));
        assert_eq!(log.line(BreakerState::HalfOpen, None, t0), None);
        for i in 1..=4 {
            let state = if i % 2 == 0 {
                BreakerState::Open
            } else {
                BreakerState::Closed
            };
            let at = t0 + Duration::from_secs(i);
            assert_eq!(log.line(state, None, at), None, "within the window");
        }
        let later = log
            .line(BreakerState::Closed, None, t0 + WINDOW)
            .expect("a new window");
        assert!(later.contains("recovered"), "{later}");
        assert!(
            later.contains("4 earlier breaker changes not logged"),
            "{later}"
        );
        let next = log
            .line(BreakerState::Open, None, t0 + WINDOW * 2)
            .expect("logged");
        assert!(!next.contains("not logged"), "{next}");
    }
}
