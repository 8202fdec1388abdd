//! Items gathered into a batch: cut when full, when the oldest has waited the batch delay, or
//! at once when hurried (a flush, shutdown).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Batcher<T> {
    items: Vec<T>,
    started: Option<Instant>,
    max: usize,
    delay: Duration,
}

impl<T> Batcher<T> {
    pub(crate) fn new(max: usize, delay: Duration) -> Self {
        let max = max.max(1);
        Self {
            items: Vec::with_capacity(max),
            started: None,
            max,
            delay,
        }
    }

    /// Adds an item; `now` is read only for the first item of a batch.
    pub(crate) fn take(&mut self, item: T, now: impl FnOnce() -> Instant) {
        if self.items.is_empty() {
            self.started = Some(now());
        }
        self.items.push(item);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.items.len() >= self.max
    }

    /// When the batch in progress must be cut.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.started.map(|started| started + self.delay)
    }

    /// The batch, if it is due at `now` (or `hurry`).
    pub(crate) fn cut(&mut self, now: Instant, hurry: bool) -> Option<Vec<T>> {
        let started = self.started?;
        let due = self.is_full() || hurry || now.duration_since(started) >= self.delay;
        if !due {
            return None;
        }
        self.started = None;
        Some(std::mem::take(&mut self.items))
    }
}
