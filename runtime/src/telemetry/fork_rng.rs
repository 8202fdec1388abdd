//! Random ids that differ between workers.
//!
//! `fork()` copies userspace RNG state. sentry-types draws event, trace and span ids from rand's
//! `ThreadRng`, which rand documents as *not* reseeded on fork; the OTel SDK's id generator keeps
//! a private thread-local RNG. Once the master has drawn from either (creating Sentry's process
//! hub is enough), every worker continues the same random stream: sibling workers then send
//! identical Sentry event ids (the server keeps one and rejects the rest as duplicates) and can
//! mint identical trace and span ids. forkline reseeds `ThreadRng` in each worker right after
//! the fork, and gives its tracer provider an id generator that reseeds itself when it sees a new
//! fork generation.

use crate::identity::fork_generation;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::IdGenerator;
use rand::RngExt;
use std::cell::Cell;

/// Reseeds this thread's `ThreadRng` from the OS. Call in a freshly forked child, on its only
/// thread, before anything draws random ids.
pub(crate) fn reseed_thread_rng() {
    if let Err(e) = rand::rng().reseed() {
        crate::diag::log_warn!("could not reseed the random number generator after fork: {e}");
    }
}

thread_local! {
    static SEEN_GENERATION: Cell<u64> = const { Cell::new(0) };
}

/// OTel trace and span ids from `ThreadRng`, reseeded on the first id drawn after each fork.
#[derive(Debug, Default, Clone, Copy)]
pub struct ForkSafeIdGenerator;

fn with_fresh_rng<T>(draw: impl FnOnce(&mut rand::rngs::ThreadRng) -> T) -> T {
    let generation = fork_generation();
    if SEEN_GENERATION.with(|seen| seen.replace(generation)) != generation {
        reseed_thread_rng();
    }
    draw(&mut rand::rng())
}

impl IdGenerator for ForkSafeIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        with_fresh_rng(|rng| loop {
            let id = TraceId::from(rng.random::<u128>());
            if id != TraceId::INVALID {
                return id;
            }
        })
    }

    fn new_span_id(&self) -> SpanId {
        with_fresh_rng(|rng| loop {
            let id = SpanId::from(rng.random::<u64>());
            if id != SpanId::INVALID {
                return id;
            }
        })
    }
}
