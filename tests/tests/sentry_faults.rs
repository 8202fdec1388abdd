//! The guarded Sentry transport against real sockets that refuse, black-hole, stall, throttle,
//! flap and restart. For each: capturing stays fast, the breaker opens and recovers as
//! specified, every event is delivered or counted as dropped (checked against what the server
//! answered), and close returns within its deadline.

use forkline::{config::GuardConfig, manual::GuardedSentryTransport, report::BreakerState};
use forkline_tests::faults::{refusing_addr, test_policy, Behaviour, FaultServer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn policy() -> GuardConfig {
    {
        let mut p = test_policy();
        p.queue_capacity = 64;
        p
    }
}

struct Sentry {
    transport: Arc<GuardedSentryTransport>,
    client: Arc<sentry::Client>,
    hub: sentry::Hub,
}

fn sentry_at(addr: SocketAddr, policy: GuardConfig) -> Sentry {
    let dsn = format!("http://publickey@{addr}/1");
    let transport = Arc::new(
        GuardedSentryTransport::new(&dsn.parse().expect("dsn"), policy).expect("transport"),
    );
    let options = sentry::ClientOptions::new()
        .dsn(&dsn)
        .default_integrations(false)
        .traces_sample_rate(1.0)
        .transport(transport.clone());
    let client = Arc::new(sentry::Client::with_options(options));
    let hub = sentry::Hub::new(Some(client.clone()), Arc::new(sentry::Scope::default()));
    Sentry {
        transport,
        client,
        hub,
    }
}

impl Sentry {
    /// Captures `n` errors; returns the slowest capture.
    fn capture(&self, n: usize) -> Duration {
        (0..n)
            .map(|i| {
                let t = Instant::now();
                self.hub
                    .capture_message(&format!("fault test event {i}"), sentry::Level::Error);
                t.elapsed()
            })
            .max()
            .unwrap_or_default()
    }

    /// Through the client: sentry-core's `impl Transport for Arc<T>` does not forward `flush`.
    fn flush(&self, timeout: Duration) -> bool {
        self.client.flush(Some(timeout))
    }

    fn close(&self, deadline: Duration) -> (bool, Duration) {
        let t = Instant::now();
        let flushed = self.client.close(Some(deadline));
        (flushed, t.elapsed())
    }
}

/// The bound on one capture: an enqueue, whatever the backend does; far below one delivery
/// attempt (300 ms here), loose enough for a loaded 2-core machine.
const CAPTURE_BOUND: Duration = Duration::from_millis(100);

fn assert_accounted(s: &Sentry, server_delivered: usize) -> forkline::report::PipelineHealth {
    let h = s.transport.health();
    assert_eq!(
        h.accepted,
        h.delivered + h.dropped_total,
        "every event delivered or counted: {h:#?}"
    );
    assert_eq!(
        h.delivered, server_delivered as u64,
        "delivered = what the server acknowledged: {h:#?}"
    );
    h
}

#[test]
fn a_healthy_server_receives_every_event() {
    let server = FaultServer::start(Behaviour::Healthy);
    let s = sentry_at(server.addr, policy());
    assert!(s.capture(40) < CAPTURE_BOUND);
    let (flushed, took) = s.close(Duration::from_secs(5));
    assert!(flushed, "closed in {took:?}");
    let h = assert_accounted(&s, server.delivered());
    assert_eq!(
        (h.delivered, h.dropped_total, h.breaker),
        (40, 0, BreakerState::Closed)
    );
    assert!(h.last_success_unix_ms.is_some());
}

#[test]
fn a_refusing_port_opens_the_breaker_and_drops_are_counted() {
    let s = sentry_at(refusing_addr(), policy());
    assert!(s.capture(40) < CAPTURE_BOUND);
    let (_, took) = s.close(Duration::from_secs(2));
    assert!(took < Duration::from_millis(2100), "close took {took:?}");
    let h = assert_accounted(&s, 0);
    assert_eq!(h.dropped_total, 40);
    assert!(
        h.dropped.breaker_open > 0,
        "the breaker cut the retries short: {h:#?}"
    );
    assert!(h.dropped.network > 0);
    assert_eq!(h.breaker, BreakerState::Open);
    assert!(
        h.last_error
            .as_deref()
            .is_some_and(|e| e.contains("connect")),
        "{h:#?}"
    );
    assert!(
        !format!("{h:?}").contains("publickey"),
        "no secret in health"
    );
}

#[test]
fn a_black_hole_cannot_hold_close_past_its_deadline() {
    // With the breaker out of the way, draining would take 20 events × 3 attempts × 300 ms.
    let patient = {
        let mut p = policy();
        p.breaker_failures = 1000;
        p
    };
    let server = FaultServer::start(Behaviour::BlackHole);
    let s = sentry_at(server.addr, patient);
    assert!(s.capture(20) < CAPTURE_BOUND);
    let deadline = Duration::from_secs(1);
    let (flushed, took) = s.close(deadline);
    assert!(!flushed, "events were left undelivered");
    assert!(
        took < deadline + Duration::from_millis(100),
        "close took {took:?}"
    );
    let h = assert_accounted(&s, server.delivered());
    assert_eq!(h.delivered, 0);
    assert!(
        h.dropped.shutdown >= 17,
        "what the deadline cut off is counted: {h:#?}"
    );

    // With the breaker: it opens after 3 timeouts and the rest is dropped at once.
    let s = sentry_at(server.addr, policy());
    s.capture(20);
    let (_, took) = s.close(deadline);
    assert!(
        took < deadline + Duration::from_millis(100),
        "close took {took:?}"
    );
    let h = assert_accounted(&s, 0);
    assert!(h.dropped.breaker_open > 0, "{h:#?}");
}

#[test]
fn a_slow_server_times_out_each_attempt() {
    let server = FaultServer::start(Behaviour::Slow(Duration::from_secs(2)));
    let s = sentry_at(server.addr, policy());
    assert!(s.capture(3) < CAPTURE_BOUND);
    assert!(
        s.flush(Duration::from_secs(10)),
        "three timed-out attempts, then the breaker"
    );
    let (_, took) = s.close(Duration::from_secs(1));
    assert!(took < Duration::from_millis(1100));
    let h = assert_accounted(&s, server.delivered());
    assert!(h.dropped.timeout >= 1, "{h:#?}");
    assert!(h.retried >= 1);
}

#[test]
fn retry_after_is_honoured_and_4xx_is_never_retried() {
    // 503 with Retry-After: retried (waiting) up to the limit, then dropped as throttled.
    let server = FaultServer::throttling();
    let s = sentry_at(server.addr, policy());
    let started = Instant::now();
    s.capture(1);
    assert!(s.flush(Duration::from_secs(5)));
    let took = started.elapsed();
    let h = assert_accounted(&s, 0);
    assert_eq!((h.dropped.throttled, h.retried), (1, 2), "{h:#?}");
    assert_eq!(server.requests(), 3, "one attempt + two retries");
    assert!(
        took >= Duration::from_millis(800),
        "waited for Retry-After (capped at 400 ms per retry): {took:?}"
    );

    // 400: refused by the server, never retried.
    let bad = FaultServer::start(Behaviour::Status {
        code: 400,
        retry_after: None,
        sentry_limits: None,
    });
    let s = sentry_at(bad.addr, policy());
    s.capture(5);
    assert!(s.flush(Duration::from_secs(2)));
    let h = assert_accounted(&s, 0);
    assert_eq!((h.dropped.rejected, h.retried, bad.requests()), (5, 0, 5));
    assert_eq!(
        h.breaker,
        BreakerState::Closed,
        "a refusal is an answer, not an outage"
    );
}

#[test]
fn sentry_rate_limits_stop_sending_that_category() {
    let server = FaultServer::start(Behaviour::Status {
        code: 429,
        retry_after: None,
        sentry_limits: Some("60:error:organization".into()),
    });
    let s = sentry_at(server.addr, policy());
    s.capture(10);
    assert!(s.flush(Duration::from_secs(2)));
    let h = assert_accounted(&s, 0);
    assert_eq!(h.dropped.rate_limited, 10, "{h:#?}");
    let by_kind = h.rate_limited_by_kind;
    assert_eq!(
        (by_kind.event, by_kind.total() - by_kind.event),
        (10, 0),
        "by kind: error events {h:#?}"
    );
    assert_eq!(
        server.requests(),
        1,
        "only the request that learned the limit reached the server"
    );
}

/// Bugsink's answer to every envelope: 200, and "no transactions for a day".
#[test]
fn a_host_that_refuses_transactions_counts_them_by_kind_and_delivers_errors() {
    let server = FaultServer::start(Behaviour::Status {
        code: 200,
        retry_after: None,
        sentry_limits: Some("86400:transaction;span:organization".into()),
    });
    let s = sentry_at(server.addr, policy());
    s.capture(1);
    assert!(s.flush(Duration::from_secs(2)));
    for i in 0..3 {
        let transaction = s.hub.start_transaction(sentry::TransactionContext::new(
            &format!("refused transaction {i}"),
            "test",
        ));
        transaction.finish();
    }
    s.capture(2);
    assert!(s.flush(Duration::from_secs(2)));
    let h = assert_accounted(&s, 3);
    let by_kind = h.rate_limited_by_kind;
    assert_eq!(
        (by_kind.transaction, by_kind.total() - by_kind.transaction),
        (3, 0),
        "{h:#?}"
    );
    assert_eq!(h.dropped.rate_limited, 3, "{h:#?}");
    assert_eq!(server.requests(), 3, "only the error events were sent");
}

#[test]
fn a_flapping_server_is_ridden_out_by_retries() {
    let server = FaultServer::start(Behaviour::Flapping {
        failures: 2,
        code: 503,
    });
    let s = sentry_at(server.addr, policy());
    s.capture(10);
    assert!(s.flush(Duration::from_secs(5)));
    let h = assert_accounted(&s, server.delivered());
    assert_eq!(
        (h.delivered, h.dropped_total, h.retried),
        (10, 0, 2),
        "{h:#?}"
    );
    assert_eq!(h.breaker, BreakerState::Closed);
}

#[test]
fn a_restarted_server_closes_the_breaker_again() {
    let mut first = FaultServer::start(Behaviour::Healthy);
    let addr = first.addr;
    let s = sentry_at(addr, policy());
    s.capture(5);
    assert!(s.flush(Duration::from_secs(2)));
    first.stop(); // Down: connections are refused.
    s.capture(10);
    assert!(s.flush(Duration::from_secs(3)));
    assert_eq!(s.transport.health().breaker, BreakerState::Open);

    let second = FaultServer::start_on(addr, Behaviour::Healthy);
    // The breaker lets a probe through once the cool-down has passed.
    let recovered = forkline_tests::harness::wait_until(Duration::from_secs(5), || {
        s.capture(1);
        s.flush(Duration::from_secs(1));
        (s.transport.health().breaker == BreakerState::Closed).then_some(())
    });
    assert!(recovered.is_some(), "{:#?}", s.transport.health());
    s.capture(5);
    assert!(s.flush(Duration::from_secs(2)));
    let h = s.transport.health();
    assert_eq!(h.accepted, h.delivered + h.dropped_total, "{h:#?}");
    assert_eq!(
        h.delivered as usize,
        first.delivered() + second.delivered(),
        "{h:#?}"
    );
    assert!(second.delivered() >= 6);
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_growing() {
    let hole = FaultServer::start(Behaviour::BlackHole);
    let s = sentry_at(hole.addr, {
        let mut p = policy();
        p.queue_capacity = 10;
        p
    });
    s.capture(1);
    // The delivery thread is now inside an attempt the black hole never answers (300 ms).
    let sent = forkline_tests::harness::wait_until(Duration::from_secs(5), || {
        (hole.requests() >= 1).then_some(())
    });
    assert!(sent.is_some(), "the first envelope went out");
    assert!(s.capture(100) < CAPTURE_BOUND);
    let h = s.transport.health();
    assert!(h.dropped.queue_full >= 80, "{h:#?}");
    assert!(h.pending <= 10, "the queue stayed bounded: {h:#?}");
    let (_, took) = s.close(Duration::from_millis(300));
    assert!(took < Duration::from_millis(400), "{took:?}");
    let h = assert_accounted(&s, hole.delivered());
    assert_eq!((h.accepted, h.delivered, h.dropped_total), (101, 0, 101));
}
