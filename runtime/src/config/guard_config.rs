//! The guard's resolved parameters (what an export path does when its backend fails), with
//! defaults per profile. Plain data: the export engine reads it, `config::guard` resolves it.

use crate::config::profile::Profile;
use std::time::Duration;

/// How an export path treats its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuardConfig {
    /// Bound on establishing a connection.
    pub connect_timeout: Duration,
    /// Bound on one whole attempt (connect, send, answer).
    pub attempt_timeout: Duration,
    /// Retries of one envelope after its first attempt (Sentry). The OTLP pipeline does not drop
    /// a batch after a number of retries: it keeps it (within `buffer_budget_bytes`) until it is
    /// delivered, the breaker's probe path retries it, or shutdown's deadline passes.
    pub max_retries: u32,
    /// First backoff ceiling; doubles per retry (full jitter).
    pub backoff_base: Duration,
    /// Largest backoff ceiling, and the longest `Retry-After` honoured.
    pub backoff_cap: Duration,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long the breaker stays open before one probe.
    pub breaker_cooldown: Duration,
    /// Items waiting for delivery; more are dropped and counted.
    pub queue_capacity: usize,
    /// Bytes of encoded, undelivered data kept to ride out an outage (OTLP); past it the oldest
    /// is dropped and counted.
    pub buffer_budget_bytes: usize,
}

impl GuardConfig {
    /// The defaults of a profile.
    pub fn for_profile(profile: Profile) -> Self {
        let base = Self {
            connect_timeout: Duration::from_millis(1000),
            attempt_timeout: Duration::from_millis(5000),
            max_retries: 3,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_secs(5),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(10),
            queue_capacity: 1024,
            buffer_budget_bytes: 64 << 20,
        };
        match profile {
            Profile::Development => Self {
                breaker_cooldown: Duration::from_secs(2),
                ..base
            },
            Profile::Production => base,
        }
    }
}
