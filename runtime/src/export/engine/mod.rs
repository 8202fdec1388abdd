//! The delivery engine both export paths run on (OTLP spans, Sentry envelopes): items are
//! queued by a front end, batched, encoded, attempted within a bounded time, classified, retried
//! with backoff behind a circuit breaker, held in a ride-through buffer, and accounted for once.
//!
//! A signal brings only an encoder and a transport ([`signal`]); what differs between the
//! pipelines is a parameter ([`params`]), not a copy of the loop. The decisions ([`delivery`])
//! take the time as an argument; the thread that drives them ([`driver`]) reads an injected
//! [`clock`], so breaker, backoff and deadline behaviour are unit-tested with a fake clock.
//!
//! Data flows one way: `clock`, `params`, `signal` and `batcher` use no other engine file;
//! `outbox` holds `signal`'s encoded batches, `state` is built from `params`; `delivery` decides
//! with all of them; `driver` runs `delivery` on a thread. This file only declares them.

pub(crate) mod batcher;
pub(crate) mod clock;
pub(crate) mod delivery;
pub(crate) mod driver;
pub(crate) mod outbox;
pub(crate) mod params;
pub(crate) mod signal;
pub(crate) mod state;
#[cfg(test)]
mod tests;
