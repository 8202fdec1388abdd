//! Deterministic tests of the engine: a fake clock that moves only when told, and a scripted
//! transport that answers with a given sequence of outcomes and records what it was sent.

use crate::config::{GuardConfig, Profile};
use crate::export::breaker::BreakerState;
use crate::export::engine::clock::{Clock, FakeClock};
use crate::export::engine::driver::Driver;
use crate::export::engine::params::Params;
use crate::export::engine::signal::{Attempted, Encode, Encoded, Transport};
use crate::export::engine::state::PipelineState;
use crate::export::figures::{DropReason, PipelineHealth};
use crate::export::outcome::{Answer, FailureKind, Outcome};
use crate::export::transition_log::TransitionLog;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bytes of body per item.
const ITEM_BYTES: usize = 100;

/// An item the encoder panics on, as an encoder with a bug would on some input.
const POISON: u8 = 255;

/// Items are numbers; a batch's body is `ITEM_BYTES` bytes per item, its meta the numbers.
struct Numbers {
    /// The backend's rate limits, as `still_wanted` sees them.
    limited: Arc<AtomicBool>,
}

impl Encode for Numbers {
    type Item = u8;
    type Meta = Vec<u8>;

    fn encode(&mut self, items: Vec<u8>) -> Result<Encoded<Vec<u8>>, DropReason> {
        assert!(!items.contains(&POISON), "item {POISON} cannot be encoded");
        let body: Vec<u8> = items
            .iter()
            .flat_map(|&n| std::iter::repeat_n(n, ITEM_BYTES))
            .collect();
        Ok(Encoded {
            body: body.into(),
            items: items.len(),
            meta: items,
        })
    }

    fn still_wanted(&self, _batch: &Encoded<Vec<u8>>) -> bool {
        !self.limited.load(Ordering::Relaxed)
    }
}

/// Answers with its script (then "delivered"), and records the items of each attempt.
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<VecDeque<Outcome>>>,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Scripted {
    fn answer(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(outcomes);
    }

    /// The first item of each attempt's batch, in order.
    fn sent(&self) -> Vec<u8> {
        let sent = self.sent.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().map(|body| body[0]).collect()
    }
}

impl Transport for Scripted {
    async fn attempt(&mut self, body: bytes::Bytes) -> Attempted {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(body.to_vec());
        let outcome = self
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        outcome.unwrap_or(Outcome::Delivered).into()
    }
}

fn failed(reason: FailureKind) -> Outcome {
    Outcome::Retryable {
        reason,
        after: None,
    }
}

fn policy() -> GuardConfig {
    let mut policy = GuardConfig::for_profile(Profile::Production);
    policy.backoff_base = Duration::from_millis(100);
    policy.backoff_cap = Duration::from_secs(2);
    policy.breaker_failures = 1000;
    policy.breaker_cooldown = Duration::from_secs(5);
    policy.max_retries = 2;
    policy.buffer_budget_bytes = usize::MAX;
    policy
}

/// The OTLP span pipeline's parameters.
fn otlp(policy: GuardConfig, max_batch: usize) -> Params {
    crate::export::span_export::engine_params(policy, max_batch, Duration::from_millis(200))
}

/// The Sentry transport's parameters.
fn sentry(policy: GuardConfig) -> Params {
    crate::export::sentry_transport::engine_params(policy)
}

struct Rig {
    clock: FakeClock,
    transport: Scripted,
    limited: Arc<AtomicBool>,
    state: Arc<PipelineState>,
    driver: Driver<Numbers, Scripted, FakeClock>,
}

impl Rig {
    fn new(params: Params) -> Self {
        let clock = FakeClock::new();
        let transport = Scripted::default();
        let limited = Arc::new(AtomicBool::new(false));
        let state = Arc::new(PipelineState::new(
            &params,
            TransitionLog::new("test", "kept"),
            None,
        ));
        let encoder = Numbers {
            limited: limited.clone(),
        };
        let driver = Driver::new(
            params,
            encoder,
            transport.clone(),
            state.clone(),
            clock.clone(),
        );
        Self {
            clock,
            transport,
            limited,
            state,
            driver,
        }
    }

    /// Hands items over as a front end does, and cuts them into batches at once.
    fn offer(&mut self, items: impl IntoIterator<Item = u8>) {
        for item in items {
            self.state.accept();
            self.state.add_pending();
            let clock = &self.clock;
            self.driver.delivery.take(item, || clock.now());
            self.driver.delivery.cut(self.clock.now(), false);
        }
        self.driver.delivery.cut(self.clock.now(), true);
    }

    /// Attempts what is due now.
    fn send(&mut self) {
        self.driver.send_due();
    }

    /// The wait before the next attempt.
    fn wait(&self) -> Duration {
        self.driver
            .delivery
            .next_attempt()
            .saturating_duration_since(self.clock.now())
    }

    /// Moves the clock to the next attempt and makes it.
    fn retry(&mut self) {
        self.clock.advance(self.wait());
        self.send();
    }

    fn health(&self) -> PipelineHealth {
        self.state.health()
    }

    /// Every accepted item is delivered, dropped, or still pending: nothing counted twice.
    fn assert_balanced(&self) {
        let h = self.health();
        assert_eq!(
            h.accepted,
            h.delivered + h.dropped_total + h.pending,
            "{h:?}"
        );
    }
}

#[test]
fn the_breaker_opens_after_n_failures_and_a_successful_probe_closes_it() {
    let mut p = policy();
    p.breaker_failures = 3;
    let mut rig = Rig::new(otlp(p, 1));
    rig.transport.answer([failed(FailureKind::Network); 3]);
    rig.offer([1]);
    rig.send();
    assert_eq!(rig.health().breaker, BreakerState::Closed);
    rig.retry();
    assert_eq!(rig.health().consecutive_failures, 2);
    rig.retry();
    assert_eq!(rig.health().breaker, BreakerState::Open);
    assert_eq!(rig.transport.sent(), [1, 1, 1]);

    // Open: nothing is attempted until the cool-down ends; the batch is held.
    for _ in 0..49 {
        rig.clock.advance(Duration::from_millis(100));
        rig.send();
    }
    assert_eq!(
        rig.transport.sent().len(),
        3,
        "nothing attempted while open"
    );
    assert_eq!(rig.health().pending, 1, "held for the probe");
    rig.clock.advance(Duration::from_millis(100));
    rig.send();
    assert_eq!(
        rig.transport.sent().len(),
        4,
        "the probe after the cool-down"
    );
    let h = rig.health();
    assert_eq!(h.breaker, BreakerState::Closed);
    assert_eq!((h.delivered, h.dropped_total, h.retried), (1, 0, 3));
}

#[test]
fn a_failed_probe_opens_the_breaker_again() {
    let mut p = policy();
    p.breaker_failures = 2;
    let mut rig = Rig::new(otlp(p, 1));
    rig.transport.answer([failed(FailureKind::Timeout); 3]);
    rig.offer([7]);
    rig.send();
    rig.retry();
    assert_eq!(rig.health().breaker, BreakerState::Open);
    rig.clock.advance(Duration::from_secs(5));
    rig.send();
    assert_eq!(rig.transport.sent().len(), 3, "the probe went out");
    assert_eq!(rig.health().breaker, BreakerState::Open, "and failed");
    rig.clock.advance(Duration::from_millis(4900));
    rig.send();
    assert_eq!(rig.transport.sent().len(), 3, "a new cool-down");
    rig.clock.advance(Duration::from_millis(100));
    rig.send();
    assert_eq!(rig.health().breaker, BreakerState::Closed);
    assert_eq!(rig.health().delivered, 1);
}

#[test]
fn backoff_is_full_jitter_within_the_doubling_ceiling() {
    let mut waits: Vec<Vec<Duration>> = vec![Vec::new(); 8];
    for _ in 0..40 {
        let mut rig = Rig::new(otlp(policy(), 1));
        rig.transport.answer([failed(FailureKind::Network); 8]);
        rig.offer([1]);
        rig.send();
        for (n, waits) in waits.iter_mut().enumerate() {
            waits.push(rig.wait());
            if n < 7 {
                rig.retry();
            }
        }
    }
    for (n, waits) in waits.iter().enumerate() {
        let ceiling = (Duration::from_millis(100) * (1 << n)).min(Duration::from_secs(2));
        assert!(waits.iter().all(|w| *w <= ceiling), "retry {n}: {waits:?}");
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 30, "jittered, retry {n}");
        assert!(
            waits.iter().any(|w| *w < ceiling / 2),
            "full jitter, retry {n}"
        );
    }
}

#[test]
fn retry_after_is_honoured_and_capped_by_the_backoff_cap() {
    let mut rig = Rig::new(otlp(policy(), 1));
    let throttled = |after| Outcome::Retryable {
        reason: FailureKind::Throttled,
        after: Some(after),
    };
    rig.transport.answer([
        throttled(Duration::from_secs(1)),
        throttled(Duration::from_secs(60)),
    ]);
    rig.offer([1]);
    rig.send();
    assert_eq!(
        rig.wait(),
        Duration::from_secs(1),
        "at least the backend's wait"
    );
    rig.clock.advance(Duration::from_millis(999));
    rig.send();
    assert_eq!(rig.transport.sent().len(), 1, "not before it");
    rig.clock.advance(Duration::from_millis(1));
    rig.send();
    assert_eq!(rig.wait(), Duration::from_secs(2), "at most the cap");
    rig.retry();
    assert_eq!(rig.health().delivered, 1);
    assert_eq!(rig.health().dropped.throttled, 0);
}

#[test]
fn the_byte_budget_drops_the_oldest_batches_counted_buffer_full() {
    let mut p = policy();
    p.buffer_budget_bytes = 3 * ITEM_BYTES + 50;
    let mut rig = Rig::new(otlp(p, 1));
    rig.transport.answer([failed(FailureKind::Network)]);
    rig.offer([1]);
    rig.send();
    // The collector is down: batches ride through, up to the budget.
    rig.offer([2, 3, 4, 5]);
    let h = rig.health();
    assert_eq!(
        (h.accepted, h.pending, h.dropped.buffer_full),
        (5, 3, 2),
        "{h:?}"
    );
    assert_eq!(h.dropped_total, 2);
    rig.retry();
    rig.send();
    assert_eq!(
        rig.transport.sent(),
        [1, 3, 4, 5],
        "oldest dropped, the rest in order"
    );
    let h = rig.health();
    assert_eq!((h.delivered, h.pending, h.dropped.buffer_full), (3, 0, 2));
    rig.assert_balanced();
}

#[test]
fn shutdown_at_the_deadline_counts_what_is_left_once() {
    let mut rig = Rig::new(otlp(policy(), 2));
    rig.transport.answer([failed(FailureKind::Timeout); 2]);
    rig.offer([1, 2]);
    rig.offer([3, 4]);
    rig.send();
    rig.offer([5]);
    rig.transport.answer([Outcome::Delivered]);
    rig.retry();
    assert_eq!(rig.health().pending, 5);

    // The front end's shutdown: the deadline passes with everything still pending.
    rig.state.close(Duration::ZERO);
    assert!(!rig.state.wait_idle(Duration::ZERO));
    rig.state.abandon();
    rig.state.abandon();
    let h = rig.health();
    assert_eq!(
        (h.dropped.shutdown, h.dropped_total, h.delivered),
        (5, 5, 0)
    );

    // Late outcomes are not counted again.
    rig.retry();
    rig.send();
    assert_eq!(rig.transport.sent(), [1, 1, 1, 3, 5]);
    let h = rig.health();
    assert_eq!(
        (h.accepted, h.delivered, h.dropped_total),
        (5, 0, 5),
        "{h:?}"
    );
    assert_eq!(h.pending, 0);
    assert!(rig.state.wait_idle(Duration::ZERO), "nothing left pending");
}

/// Two batches pending behind a breaker that the first one's failed attempt opened (cooldown 5 s).
fn open_breaker_with_two_pending() -> Rig {
    let mut p = policy();
    p.breaker_failures = 1;
    let mut rig = Rig::new(otlp(p, 1));
    rig.transport.answer([failed(FailureKind::Network)]);
    rig.offer([1, 2]);
    rig.send();
    assert_eq!(rig.health().breaker, BreakerState::Open);
    rig
}

#[test]
fn shutdown_with_the_breaker_open_probes_at_once_and_drops_only_if_the_backend_is_still_down() {
    let mut rig = open_breaker_with_two_pending();
    // The scheduled probe (5 s away) comes after the deadline; shutdown probes at once instead,
    // and the backend is still down: what is left goes, counted, without waiting.
    rig.transport.answer([failed(FailureKind::Network)]);
    rig.state.close_at(rig.clock.now() + Duration::from_secs(1));
    rig.retry();
    rig.retry();
    let h = rig.health();
    assert_eq!((h.dropped.breaker_open, h.pending), (2, 0), "{h:?}");
    assert_eq!(
        rig.transport.sent(),
        [1, 1],
        "the first attempt and one probe"
    );
    assert_eq!(h.breaker, BreakerState::Open);
    rig.assert_balanced();
}

#[test]
fn shutdown_with_the_breaker_open_delivers_everything_if_the_backend_is_back() {
    let mut rig = open_breaker_with_two_pending();
    // The collector restarted a moment ago; the breaker still thinks it is down (cool-down 5 s
    // away, deadline in 1 s): the probe at shutdown finds it back, and the rest follows.
    let closed = rig.clock.now();
    rig.state.close_at(closed + Duration::from_secs(1));
    rig.retry();
    rig.send();
    rig.send();
    let h = rig.health();
    assert_eq!(
        (h.delivered, h.dropped_total, h.pending),
        (2, 0, 0),
        "{h:?}"
    );
    assert_eq!(h.breaker, BreakerState::Closed);
    assert_eq!(rig.transport.sent(), [1, 1, 2]);
    assert!(
        rig.clock.now() - closed < Duration::from_secs(1),
        "within the deadline"
    );
    rig.assert_balanced();
}

#[test]
fn shutdown_with_the_breaker_open_waits_for_a_probe_due_before_the_deadline() {
    let mut rig = open_breaker_with_two_pending();
    // The probe at shutdown finds the backend still down; the next scheduled probe (5 s away)
    // comes before the deadline (10 s): shutdown waits for it, and its success lets the rest go.
    rig.transport.answer([failed(FailureKind::Network)]);
    let closed = rig.clock.now();
    rig.state.close_at(closed + Duration::from_secs(10));
    rig.retry(); // the backoff ends with the breaker still open: the probe at shutdown
    rig.retry();
    assert_eq!(rig.transport.sent(), [1, 1]);
    assert_eq!(
        rig.health().dropped_total,
        0,
        "the next probe is due before the deadline"
    );
    rig.retry();
    assert!(
        rig.clock.now() - closed < Duration::from_secs(10),
        "within the deadline"
    );
    let h = rig.health();
    assert_eq!(
        (h.delivered, h.dropped_total, h.pending),
        (2, 0, 0),
        "{h:?}"
    );
    assert_eq!(h.breaker, BreakerState::Closed);
    assert_eq!(rig.transport.sent(), [1, 1, 1, 2]);
    rig.assert_balanced();
}

#[test]
fn sentry_gives_up_after_max_retries_and_starts_the_next_envelope_afresh() {
    let mut rig = Rig::new(sentry(policy()));
    rig.transport
        .answer([failed(FailureKind::Status(Answer::Http(502))); 3]);
    rig.transport.answer([failed(FailureKind::Network)]);
    rig.offer([1]);
    rig.send();
    rig.retry();
    rig.retry();
    let h = rig.health();
    assert_eq!((h.dropped.server_error, h.retried), (1, 2), "{h:?}");
    assert_eq!(
        rig.transport.sent(),
        [1, 1, 1],
        "one attempt and max_retries retries"
    );

    rig.offer([2]);
    rig.send();
    assert!(
        rig.wait() <= Duration::from_millis(100),
        "the backoff starts afresh"
    );
    rig.retry();
    assert_eq!(rig.health().delivered, 1);
    rig.assert_balanced();
}

#[test]
fn sentry_drops_what_reaches_an_open_breaker() {
    let mut p = policy();
    p.breaker_failures = 1;
    p.max_retries = 0;
    let mut rig = Rig::new(sentry(p));
    rig.transport.answer([failed(FailureKind::Network)]);
    rig.offer([1]);
    rig.send();
    assert_eq!(rig.health().breaker, BreakerState::Open);
    for n in 2..=4 {
        rig.offer([n]);
        rig.send();
    }
    let h = rig.health();
    assert_eq!(
        (h.dropped.network, h.dropped.breaker_open, h.pending),
        (1, 3, 0)
    );
    assert_eq!(rig.transport.sent(), [1], "nothing attempted while open");
    rig.clock.advance(Duration::from_secs(5));
    rig.offer([5]);
    rig.send();
    assert_eq!(rig.transport.sent(), [1, 5], "the probe");
    assert_eq!(rig.health().breaker, BreakerState::Closed);
    rig.assert_balanced();
}

#[test]
fn sentry_shutdown_cuts_a_backoff_short_for_one_last_attempt() {
    let mut p = policy();
    p.backoff_base = Duration::from_secs(2);
    p.max_retries = 5;
    let mut rig = Rig::new(sentry(p));
    rig.transport.answer([failed(FailureKind::Timeout); 2]);
    rig.offer([1]);
    rig.send();
    rig.send();
    assert_eq!(rig.transport.sent().len(), 1, "backing off");
    rig.state.close(Duration::from_secs(1));
    rig.send();
    let h = rig.health();
    assert_eq!(rig.transport.sent().len(), 2, "one last attempt at once");
    assert_eq!(
        (h.dropped.timeout, h.retried, h.pending),
        (1, 1, 0),
        "{h:?}"
    );
}

#[test]
fn sentry_rate_limits_are_checked_again_before_a_retry() {
    let mut rig = Rig::new(sentry(policy()));
    rig.transport.answer([Outcome::Retryable {
        reason: FailureKind::Throttled,
        after: None,
    }]);
    rig.offer([1]);
    rig.limited.store(true, Ordering::Relaxed);
    rig.send();
    let h = rig.health();
    assert_eq!((h.dropped.rate_limited, h.retried, h.pending), (1, 0, 0));
}

#[test]
fn the_thread_driver_delivers_and_ends_after_shutdown_drains_the_channel() {
    let rig = Rig::new(otlp(policy(), 2));
    let (tx, rx) = std::sync::mpsc::sync_channel(8);
    for n in 1..=3 {
        rig.state.accept();
        rig.state.add_pending();
        tx.send(n).expect("the channel is open");
        rig.state.sent_to_channel();
    }
    rig.state.close(Duration::from_secs(1));
    let transport = rig.transport.clone();
    rig.driver.run(rx);
    // Once closing, the channel is drained an item at a time, each sent at once.
    assert_eq!(transport.sent(), [1, 2, 3]);
    let h = rig.state.health();
    assert_eq!((h.delivered, h.pending), (3, 0));
}

#[test]
fn a_batch_the_encoder_panics_on_is_dropped_counted_and_the_next_is_delivered() {
    let mut rig = Rig::new(otlp(policy(), 1));
    rig.offer([1, POISON, 2]);
    rig.send();
    assert_eq!(rig.transport.sent(), [1, 2]);
    let h = rig.health();
    assert_eq!(
        (h.delivered, h.dropped.encode_failed, h.dropped_total),
        (2, 1, 1),
        "{h:?}"
    );
    let error = h.last_error.unwrap_or_default();
    assert!(
        error.contains("could not encode a batch: item 255 cannot be encoded"),
        "{error}"
    );
    rig.assert_balanced();
}
