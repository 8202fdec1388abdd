//! Encoded batches waiting for delivery, oldest first: with a byte budget, the ride-through
//! buffer that keeps data while a backend recovers (past the budget the oldest batches are
//! evicted, for the caller to count); without one, it holds the batch being delivered.

use crate::export::engine::signal::Encoded;
use std::collections::VecDeque;

#[derive(Debug)]
pub(crate) struct Outbox<M> {
    batches: VecDeque<Encoded<M>>,
    bytes: usize,
    budget: Option<usize>,
}

impl<M> Outbox<M> {
    pub(crate) fn new(budget: Option<usize>) -> Self {
        Self {
            batches: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub(crate) fn front(&self) -> Option<&Encoded<M>> {
        self.batches.front()
    }

    pub(crate) fn pop_front(&mut self) -> Option<Encoded<M>> {
        let front = self.batches.pop_front()?;
        self.bytes -= front.body.len();
        Some(front)
    }

    /// The oldest batch, if it must go to make room for `incoming` bytes within the budget.
    pub(crate) fn evict_for(&mut self, incoming: usize) -> Option<Encoded<M>> {
        let budget = self.budget?;
        if self.bytes + incoming > budget {
            self.pop_front()
        } else {
            None
        }
    }

    pub(crate) fn push(&mut self, batch: Encoded<M>) {
        self.bytes += batch.body.len();
        self.batches.push_back(batch);
    }
}
