//! The engine's time: what time it is, and waiting for a while (or until woken). Injected, so
//! that timing decisions can be tested with a clock the test moves by hand.

use std::time::{Duration, Instant};

pub(crate) trait Clock: Send + 'static {
    fn now(&self) -> Instant;
    /// Waits up to `timeout` (`None`: until woken); a wake-up may end it early.
    fn park(&self, timeout: Option<Duration>);
}

/// The real clock: `Instant::now`, and the delivery thread parks (woken with `unpark`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn park(&self, timeout: Option<Duration>) {
        match timeout {
            Some(timeout) => std::thread::park_timeout(timeout),
            None => std::thread::park(),
        }
    }
}

/// A clock that moves only when told to (or when parked: it then jumps by the wait).
#[cfg(test)]
#[derive(Debug, Clone)]
pub(crate) struct FakeClock(std::sync::Arc<std::sync::Mutex<Instant>>);

#[cfg(test)]
impl FakeClock {
    pub(crate) fn new() -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(Instant::now())))
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

#[cfg(test)]
impl Clock for FakeClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn park(&self, timeout: Option<Duration>) {
        self.advance(timeout.unwrap_or(Duration::from_millis(1)));
    }
}
