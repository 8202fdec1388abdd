//! The guard's parameters for each export path, from every source: the profile's defaults, then
//! the hooks' `guard(...)` arguments, then the standard variables where one exists, then code.

use crate::config::env::Env;
use crate::config::profile::Profile;
use crate::config::GuardConfig;
use crate::error::{Error, Result};
use std::time::Duration;

/// Guard parameters given in code (`Telemetry::otlp_guard`, `Telemetry::sentry_guard`) or by a
/// hook's `guard(...)` argument. Unset fields keep what the sources below them say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardSettings {
    /// Bound on establishing a connection.
    pub connect_timeout: Option<Duration>,
    /// Bound on one whole attempt.
    pub attempt_timeout: Option<Duration>,
    /// Retries of one Sentry envelope after its first attempt (the OTLP path keeps batches
    /// within its buffer budget instead).
    pub max_retries: Option<u32>,
    /// First backoff ceiling.
    pub backoff_base: Option<Duration>,
    /// Largest backoff ceiling, and the longest `Retry-After` honoured.
    pub backoff_cap: Option<Duration>,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: Option<u32>,
    /// How long the breaker stays open before its probe.
    pub breaker_cooldown: Option<Duration>,
    /// Items waiting for delivery before more are dropped and counted.
    pub queue_capacity: Option<usize>,
    /// Bytes of undelivered OTLP data kept to ride out an outage.
    pub buffer_budget_bytes: Option<usize>,
}

impl GuardSettings {
    /// Nothing set.
    pub const NONE: Self = Self {
        connect_timeout: None,
        attempt_timeout: None,
        max_retries: None,
        backoff_base: None,
        backoff_cap: None,
        breaker_failures: None,
        breaker_cooldown: None,
        queue_capacity: None,
        buffer_budget_bytes: None,
    };

    /// Nothing set.
    pub fn new() -> Self {
        Self::NONE
    }

    /// Connection and whole-attempt timeouts.
    pub fn timeouts(mut self, connect: Duration, attempt: Duration) -> Self {
        self.connect_timeout = Some(connect);
        self.attempt_timeout = Some(attempt);
        self
    }

    /// Retries of one Sentry envelope.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = Some(retries);
        self
    }

    /// The backoff's first and largest ceilings.
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.backoff_base = Some(base);
        self.backoff_cap = Some(cap);
        self
    }

    /// Open the breaker after `failures` in a row; probe after `cooldown`.
    pub fn breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.breaker_failures = Some(failures);
        self.breaker_cooldown = Some(cooldown);
        self
    }

    /// Items waiting for delivery at most.
    pub fn queue_capacity(mut self, items: usize) -> Self {
        self.queue_capacity = Some(items);
        self
    }

    /// The OTLP ride-through buffer's budget in bytes.
    pub fn buffer_budget_bytes(mut self, bytes: usize) -> Self {
        self.buffer_budget_bytes = Some(bytes);
        self
    }

    fn apply(&self, mut policy: GuardConfig) -> GuardConfig {
        let p = &mut policy;
        p.connect_timeout = self.connect_timeout.unwrap_or(p.connect_timeout);
        p.attempt_timeout = self.attempt_timeout.unwrap_or(p.attempt_timeout);
        p.max_retries = self.max_retries.unwrap_or(p.max_retries);
        p.backoff_base = self.backoff_base.unwrap_or(p.backoff_base);
        p.backoff_cap = self.backoff_cap.unwrap_or(p.backoff_cap);
        p.breaker_failures = self.breaker_failures.unwrap_or(p.breaker_failures);
        p.breaker_cooldown = self.breaker_cooldown.unwrap_or(p.breaker_cooldown);
        p.queue_capacity = self.queue_capacity.unwrap_or(p.queue_capacity);
        p.buffer_budget_bytes = self.buffer_budget_bytes.unwrap_or(p.buffer_budget_bytes);
        policy
    }
}

/// The OTLP default attempt timeout: the OTLP exporter specification's 10 s.
const OTLP_TIMEOUT: Duration = Duration::from_secs(10);
/// The OTLP default queue: `OTEL_BSP_MAX_QUEUE_SIZE`'s specified default.
const OTLP_QUEUE: usize = 2048;

/// The OTLP path's guard.
pub(crate) fn resolve_otlp(
    env: &Env,
    args: &GuardSettings,
    code: &GuardSettings,
    profile: Profile,
) -> Result<GuardConfig> {
    let defaults = GuardConfig {
        attempt_timeout: OTLP_TIMEOUT,
        queue_capacity: OTLP_QUEUE,
        ..GuardConfig::for_profile(profile)
    };
    let mut policy = args.apply(defaults);
    // OTEL_EXPORTER_OTLP_*TIMEOUT bounds a request (it replaces the default or the hook's value);
    // OTEL_BSP_EXPORT_TIMEOUT bounds a whole export, so an attempt never exceeds it either.
    let request = match env.millis("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")? {
        Some(t) => Some(t),
        None => env.millis("OTEL_EXPORTER_OTLP_TIMEOUT")?,
    };
    if let Some(t) = request {
        policy.attempt_timeout = t;
    }
    if let Some(export) = env.millis("OTEL_BSP_EXPORT_TIMEOUT")? {
        policy.attempt_timeout = policy.attempt_timeout.min(export);
    }
    if let Some(n) = env.positive_usize("OTEL_BSP_MAX_QUEUE_SIZE")? {
        policy.queue_capacity = n;
    }
    let policy = code.apply(policy);
    validate(
        policy,
        "the OTLP guard (#[post_fork(guard(...))] or Telemetry::otlp_guard)",
    )
}

/// The Sentry path's guard (Sentry defines no variables for these).
pub(crate) fn resolve_sentry(
    args: &GuardSettings,
    code: &GuardSettings,
    profile: Profile,
) -> Result<GuardConfig> {
    let policy = code.apply(args.apply(GuardConfig::for_profile(profile)));
    validate(
        policy,
        "the Sentry guard (#[worker_init(sentry(guard(...)))] or Telemetry::sentry_guard)",
    )
}

fn validate(mut policy: GuardConfig, source: &str) -> Result<GuardConfig> {
    let fail = |message: String| Err(Error::config(source, message));
    if policy.attempt_timeout.is_zero() {
        return fail("the attempt timeout must be above zero".into());
    }
    if policy.breaker_failures == 0 {
        return fail("breaker_failures must be at least 1".into());
    }
    if policy.queue_capacity == 0 {
        return fail("queue_capacity must be at least 1".into());
    }
    if policy.backoff_base > policy.backoff_cap {
        return fail(format!(
            "the backoff base ({:?}) exceeds its cap ({:?})",
            policy.backoff_base, policy.backoff_cap
        ));
    }
    // A connection cannot take longer than the attempt it belongs to.
    policy.connect_timeout = policy.connect_timeout.min(policy.attempt_timeout);
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn otlp(pairs: &[(&str, &str)], args: GuardSettings, code: GuardSettings) -> GuardConfig {
        resolve_otlp(
            &Env::from_pairs(pairs.iter().copied()),
            &args,
            &code,
            Profile::Production,
        )
        .expect("valid")
    }

    #[test]
    fn hook_arguments_override_the_profile() {
        let args = GuardSettings::new().breaker(2, Duration::from_secs(3));
        let policy = otlp(&[], args, GuardSettings::NONE);
        assert_eq!(policy.breaker_failures, 2);
        assert_eq!(policy.breaker_cooldown, Duration::from_secs(3));
        assert_eq!(policy.attempt_timeout, OTLP_TIMEOUT, "the spec default");
        assert_eq!(policy.queue_capacity, OTLP_QUEUE);
    }

    #[test]
    fn standard_variables_override_hook_arguments_and_code_overrides_both() {
        let args = GuardSettings::new()
            .timeouts(Duration::from_millis(200), Duration::from_millis(700))
            .queue_capacity(10);
        let env = [
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1500"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "2500"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "50"),
        ];
        let policy = otlp(&env, args, GuardSettings::NONE);
        assert_eq!(policy.attempt_timeout, Duration::from_millis(1500));
        assert_eq!(policy.queue_capacity, 50);
        assert_eq!(policy.connect_timeout, Duration::from_millis(200));
        let code = GuardSettings::new()
            .queue_capacity(7)
            .buffer_budget_bytes(1 << 20);
        let policy = otlp(&env, args, code);
        assert_eq!(policy.queue_capacity, 7);
        assert_eq!(policy.buffer_budget_bytes, 1 << 20);
    }

    #[test]
    fn the_export_timeout_only_ever_shortens_an_attempt() {
        let long_export = otlp(
            &[("OTEL_BSP_EXPORT_TIMEOUT", "60000")],
            GuardSettings::NONE,
            GuardSettings::NONE,
        );
        assert_eq!(
            long_export.attempt_timeout, OTLP_TIMEOUT,
            "the request default still applies"
        );
        let args =
            GuardSettings::new().timeouts(Duration::from_millis(100), Duration::from_millis(900));
        let short_export = otlp(
            &[("OTEL_BSP_EXPORT_TIMEOUT", "400")],
            args,
            GuardSettings::NONE,
        );
        assert_eq!(short_export.attempt_timeout, Duration::from_millis(400));
        let kept = otlp(
            &[("OTEL_BSP_EXPORT_TIMEOUT", "5000")],
            args,
            GuardSettings::NONE,
        );
        assert_eq!(
            kept.attempt_timeout,
            Duration::from_millis(900),
            "the hook's value stands"
        );
    }

    #[test]
    fn the_connect_timeout_never_exceeds_the_attempt() {
        let code = GuardSettings::new().timeouts(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(
            otlp(&[], GuardSettings::NONE, code).connect_timeout,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn impossible_values_are_refused_naming_the_source() {
        let bad = [
            GuardSettings::new().breaker(0, Duration::from_secs(1)),
            GuardSettings::new().queue_capacity(0),
            GuardSettings::new().backoff(Duration::from_secs(9), Duration::from_secs(1)),
            GuardSettings::new().timeouts(Duration::ZERO, Duration::ZERO),
        ];
        for code in bad {
            let e = resolve_sentry(&GuardSettings::NONE, &code, Profile::Development)
                .expect_err("refused")
                .to_string();
            assert!(e.contains("Telemetry::sentry_guard"), "{e}");
        }
    }

    #[test]
    fn sentry_guard_takes_its_retries_from_the_hook() {
        let args = GuardSettings::new().max_retries(1);
        let policy = resolve_sentry(&args, &GuardSettings::NONE, Profile::Production).expect("ok");
        assert_eq!(policy.max_retries, 1);
        assert_eq!(policy.attempt_timeout, Duration::from_secs(5));
    }
}
