//! A circuit breaker: closed until `threshold` consecutive failures, then open for `cooldown`
//! (every delivery is refused at once: the engine holds the data for the probe or drops and
//! counts it, as its parameters say), then half-open: one probe goes through; its success
//! closes the breaker, its failure opens it again.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state, as health reports show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Deliveries go through.
    Closed,
    /// Deliveries are refused until the cool-down ends.
    Open,
    /// One probe is (or may be) in flight.
    HalfOpen,
}

/// What the caller may do with the next delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    Allow,
    /// The one delivery that tests a backend after the cool-down.
    Probe,
    /// Drop it (and count it as dropped while the breaker is open).
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn permit(&self, now: Instant) -> Permit {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Permit::Allow,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probing: true };
                Permit::Probe
            }
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Permit::Probe
            }
            State::Open { .. } | State::HalfOpen { probing: true } => Permit::Refuse,
        }
    }

    /// Lets one probe through now, before the cool-down ends; false if the breaker is not
    /// open or a probe is in flight. For shutdown: the backend may have come back since the
    /// breaker opened, and waiting out the cool-down past the deadline could only drop what is
    /// held on what the breaker knew then.
    pub(crate) fn probe_now(&self) -> bool {
        let mut state = self.lock();
        match *state {
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                true
            }
            State::Closed { .. } | State::HalfOpen { probing: true } => false,
        }
    }

    /// Records a delivery's result; returns the new state when it changed.
    pub(crate) fn record(&self, delivered: bool, now: Instant) -> Option<BreakerState> {
        let mut state = self.lock();
        let before = public(*state);
        *state = match (*state, delivered) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            (_, false) => State::Open {
                until: now + self.cooldown,
            },
        };
        let after = public(*state);
        (after != before).then_some(after)
    }

    /// When an open breaker will let its probe through.
    pub(crate) fn probe_at(&self) -> Option<Instant> {
        match *self.lock() {
            State::Open { until } => Some(until),
            _ => None,
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        public(*self.lock())
    }

    /// Consecutive failures while closed (the threshold's count), or the threshold once open.
    pub(crate) fn consecutive_failures(&self) -> u32 {
        match *self.lock() {
            State::Closed { failures } => failures,
            _ => self.threshold,
        }
    }
}

fn public(state: State) -> BreakerState {
    match state {
        State::Closed { .. } => BreakerState::Closed,
        State::Open { .. } => BreakerState::Open,
        State::HalfOpen { .. } => BreakerState::HalfOpen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_recovers_through_one_probe() {
        let t0 = Instant::now();
        let b = Breaker::new(3, Duration::from_secs(5));
        assert_eq!(b.record(false, t0), None);
        assert_eq!(b.record(true, t0), None, "a success resets the count");
        assert_eq!(b.record(false, t0), None);
        assert_eq!(b.record(false, t0), None);
        assert_eq!(b.consecutive_failures(), 2);
        assert_eq!(b.record(false, t0), Some(BreakerState::Open));
        assert_eq!(b.permit(t0 + Duration::from_secs(1)), Permit::Refuse);

        let later = t0 + Duration::from_secs(5);
        assert_eq!(b.permit(later), Permit::Probe);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(b.permit(later), Permit::Refuse, "one probe at a time");
        assert_eq!(
            b.record(false, later),
            Some(BreakerState::Open),
            "a failed probe reopens"
        );
        assert_eq!(b.permit(later + Duration::from_secs(4)), Permit::Refuse);

        let again = later + Duration::from_secs(5);
        assert_eq!(b.permit(again), Permit::Probe);
        assert_eq!(b.record(true, again), Some(BreakerState::Closed));
        assert_eq!(b.permit(again), Permit::Allow);
    }
}
