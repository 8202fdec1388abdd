//! The delivery thread: takes items from the front end's channel, hands them to the decisions
//! ([`Delivery`]) with the injected clock's time, runs the transport's attempts on a
//! current-thread runtime, and parks until something is due or the front end wakes it.

use crate::export::engine::clock::{Clock, SystemClock};
use crate::export::engine::delivery::{Delivery, Step};
use crate::export::engine::params::Params;
use crate::export::engine::signal::{Encode, Transport};
use crate::export::engine::state::{PipelineState, ProcessTally};
use crate::export::transition_log::TransitionLog;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

/// Starts a pipeline's delivery thread, named `name`, taking items from `queue`; returns the
/// pipeline's shared state for its front end (see [`PipelineState::new`] for the rest).
pub(crate) fn spawn<E: Encode, T: Transport>(
    name: &str,
    params: Params,
    transitions: TransitionLog,
    process: Option<ProcessTally>,
    (encoder, transport): (E, T),
    queue: Receiver<E::Item>,
) -> std::io::Result<Arc<PipelineState>> {
    let state = Arc::new(PipelineState::new(&params, transitions, process));
    let thread_state = state.clone();
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // Before looking at the channel: a wake-up from then on is not lost.
            thread_state.set_worker(std::thread::current());
            // What the HTTP client logs while delivering must not become telemetry to deliver
            // (the SDK's loggers drop records emitted in a suppressed scope).
            let _quiet = opentelemetry::Context::enter_telemetry_suppressed_scope();
            Driver::new(params, encoder, transport, thread_state, SystemClock).run(queue);
        })?;
    state.set_worker(handle.thread().clone());
    Ok(state)
}

pub(crate) struct Driver<E: Encode, T, C> {
    pub(crate) delivery: Delivery<E>,
    transport: T,
    clock: C,
    runtime: LazyRuntime,
}

impl<E: Encode, T: Transport, C: Clock> Driver<E, T, C> {
    pub(crate) fn new(
        params: Params,
        encoder: E,
        transport: T,
        state: Arc<PipelineState>,
        clock: C,
    ) -> Self {
        Self {
            delivery: Delivery::new(params, encoder, state, clock.now()),
            transport,
            clock,
            runtime: LazyRuntime::default(),
        }
    }

    /// Delivers until shutdown has drained the channel, the channel is gone and drained, or
    /// shutdown gave up on what is left (and counted it).
    pub(crate) fn run(mut self, queue: Receiver<E::Item>) {
        let state = self.delivery.state().clone();
        let mut disconnected = false;
        loop {
            if state.abandoned() {
                return;
            }
            let closing = state.is_closed() || disconnected;
            let hurry = closing || state.flush_requested();
            self.delivery.cut(self.clock.now(), hurry);
            self.send_due();
            if closing && self.delivery.is_idle() {
                // Whatever is still in the channel arrives here; stop once it is empty too.
                match queue.try_recv() {
                    Ok(item) => {
                        state.taken_from_channel(1);
                        let clock = &self.clock;
                        self.delivery.take(item, || clock.now());
                    }
                    Err(_) => return,
                }
                continue;
            }
            // Sleep until something is due or the front end says a full batch waits.
            if state.waiting_in_channel() < state.max_batch {
                let now = self.clock.now();
                let due = self.delivery.due(now);
                self.clock
                    .park(due.map(|due| due.saturating_duration_since(now)));
            }
            let mut taken = 0;
            while self.delivery.wants_items() {
                match queue.try_recv() {
                    Ok(item) => {
                        let clock = &self.clock;
                        self.delivery.take(item, || clock.now());
                        taken += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        disconnected = true;
                        break;
                    }
                }
            }
            state.taken_from_channel(taken);
        }
    }

    /// Attempts batches, oldest first, while they are due and the backend takes them.
    pub(crate) fn send_due(&mut self) {
        loop {
            let closing = self.delivery.state().is_closed();
            if self.delivery.next(self.clock.now(), closing) == Step::Wait {
                return;
            }
            let runtime = match self.runtime.get() {
                Ok(runtime) => runtime,
                Err(e) => {
                    self.delivery.no_runtime(&e);
                    continue;
                }
            };
            let Some(body) = self.delivery.front_body() else {
                return;
            };
            let state = self.delivery.state();
            state.attempt_started(Some(self.clock.now()));
            let attempted = runtime.block_on(self.transport.attempt(body));
            state.attempt_started(None);
            if !self.delivery.record(attempted, self.clock.now()) {
                return;
            }
        }
    }
}

/// The delivery thread's runtime, built on first use: built at thread start, it competed with
/// the worker's boot for the CPU (a measurable share of a 2 ms boot on 2 cores).
#[derive(Default)]
struct LazyRuntime(Option<tokio::runtime::Runtime>);

impl LazyRuntime {
    fn get(&mut self) -> std::io::Result<&tokio::runtime::Runtime> {
        if self.0.is_none() {
            self.0 = Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            );
        }
        self.0
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no runtime"))
    }
}
