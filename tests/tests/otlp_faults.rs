//! The guarded OTLP span pipeline against real sockets that refuse, black-hole, stall,
//! throttle, flap and restart. For each: ending a span stays an enqueue, the breaker opens and
//! recovers, every span is delivered or counted as dropped (checked against the span ids the
//! server acknowledged), and shutdown returns within its deadline. The restart test is the
//! spec's: the collector is down for 10 s under 2k spans/s, and every span arrives exactly once.

use forkline::opentelemetry::trace::{Span as _, Tracer, TracerProvider};
use forkline::{
    config::GuardConfig, config::OtlpExporter, manual::SpanExportSettings, report::BreakerState,
    report::PipelineHealth,
};
use forkline_tests::faults::{refusing_addr, test_policy, Behaviour, FaultServer};
use forkline_tests::span_pipe::SpanPipe;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn policy() -> GuardConfig {
    test_policy()
}

fn pipe_to(addr: SocketAddr, policy: GuardConfig) -> SpanPipe {
    let mut otlp = OtlpExporter::new(
        format!("http://{addr}/v1/traces"),
        forkline::config::OtlpProtocol::HttpProtobuf,
    );
    otlp.headers = vec![("authorization".into(), "Bearer not-logged".into())];
    let mut settings = SpanExportSettings::new(otlp, policy);
    settings.batch_delay = Duration::from_millis(50);
    SpanPipe::start(settings)
}

/// The bound on a span's start + end on the request path: far below one export attempt
/// (300 ms here), so any wait on export would show; loose enough for a loaded 2-core machine.
const SPAN_BOUND: Duration = Duration::from_millis(100);

fn assert_accounted(h: &PipelineHealth, received: &[Vec<u8>]) {
    assert_eq!(
        h.accepted,
        h.delivered + h.dropped_total,
        "every span delivered or counted: {h:#?}"
    );
    let distinct: BTreeSet<_> = received.iter().collect();
    assert_eq!(distinct.len(), received.len(), "no span arrived twice");
    assert_eq!(
        h.delivered,
        received.len() as u64,
        "delivered = what the server acknowledged: {h:#?}"
    );
}

#[test]
fn a_healthy_collector_receives_every_span_once() {
    let server = FaultServer::start(Behaviour::Healthy);
    // An unpaced burst: the queue holds it all (rates are for the benchmark).
    let p = pipe_to(server.addr, {
        let mut p = policy();
        p.queue_capacity = 8192;
        p
    });
    assert!(p.spans(5000) < SPAN_BOUND);
    // A generous deadline: this is about delivery, not speed (a loaded debug build is slow).
    assert!(
        p.shutdown(Duration::from_secs(30)) < Duration::from_secs(30),
        "everything was flushed"
    );
    let h = p.health();
    assert_accounted(&h, &server.span_ids());
    assert_eq!((h.delivered, h.dropped_total), (5000, 0));
}

#[test]
fn a_refusing_port_buffers_opens_the_breaker_and_counts_what_shutdown_leaves() {
    let p = pipe_to(refusing_addr(), policy());
    assert!(p.spans(2000) < SPAN_BOUND);
    let opened = forkline_tests::harness::wait_until(Duration::from_secs(5), || {
        (p.health().breaker == BreakerState::Open).then_some(())
    });
    assert!(opened.is_some(), "{:#?}", p.health());
    let h = p.health();
    assert_eq!(
        h.dropped_total, 0,
        "spans are kept through the outage, not dropped: {h:#?}"
    );
    let took = p.shutdown(Duration::from_millis(500));
    assert!(took < Duration::from_millis(600), "shutdown took {took:?}");
    let h = p.health();
    assert_accounted(&h, &[]);
    assert_eq!(h.dropped_total, 2000);
    assert!(h
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("connect")));
    assert!(
        !format!("{h:?}").contains("not-logged"),
        "no credential in health"
    );
}

#[test]
fn a_black_hole_or_a_stall_cannot_hold_shutdown_past_its_deadline() {
    for behaviour in [
        Behaviour::BlackHole,
        Behaviour::Slow(Duration::from_secs(3)),
    ] {
        let server = FaultServer::start(behaviour.clone());
        let p = pipe_to(server.addr, policy());
        assert!(p.spans(1000) < SPAN_BOUND);
        let deadline = Duration::from_secs(1);
        let took = p.shutdown(deadline);
        assert!(
            took < deadline + Duration::from_millis(100),
            "{behaviour:?}: shutdown took {took:?}"
        );
        let h = p.health();
        assert_accounted(&h, &server.span_ids());
        assert_eq!(h.delivered, 0, "{behaviour:?}");
        assert!(
            h.retried >= 1 || h.dropped.timeout > 0,
            "{behaviour:?}: {h:#?}"
        );
    }
}

#[test]
fn throttling_and_flapping_are_ridden_out_and_4xx_is_never_retried() {
    let throttled = FaultServer::start(Behaviour::Flapping {
        failures: 3,
        code: 429,
    });
    let p = pipe_to(throttled.addr, policy());
    p.spans(1000);
    p.shutdown(Duration::from_secs(5));
    let h = p.health();
    assert_accounted(&h, &throttled.span_ids());
    assert_eq!((h.delivered, h.dropped_total), (1000, 0), "{h:#?}");
    assert!(h.retried >= 3);

    // Retry-After: 1 must space the attempts a second apart; the backoff alone (20 ms base)
    // would send three attempts within about 100 ms.
    let asked = Duration::from_secs(1);
    let retry_after = FaultServer::start(Behaviour::Status {
        code: 503,
        retry_after: Some(asked.as_secs().to_string()),
        sentry_limits: None,
    });
    let p = pipe_to(retry_after.addr, {
        let mut p = policy();
        p.breaker_failures = 100;
        p.backoff_cap = Duration::from_secs(2);
        p
    });
    p.spans(10);
    let first = forkline_tests::harness::wait_until(Duration::from_secs(5), || {
        (retry_after.requests() >= 1).then(Instant::now)
    })
    .expect("a first attempt");
    let third = forkline_tests::harness::wait_until(Duration::from_secs(5), || {
        (retry_after.requests() >= 3).then(Instant::now)
    })
    .expect("two retries");
    let spacing = third - first;
    // Two waits of `asked` each; the attempts are seen from the server's side, up to one
    // polling interval late, hence 100 ms of slack.
    assert!(
        spacing >= 2 * asked - Duration::from_millis(100),
        "three attempts in {spacing:?}: Retry-After ignored"
    );
    p.shutdown(Duration::from_millis(300));
    assert_accounted(&p.health(), &[]);

    let refused = FaultServer::start(Behaviour::Status {
        code: 400,
        retry_after: None,
        sentry_limits: None,
    });
    let p = pipe_to(refused.addr, policy());
    p.spans(100);
    p.shutdown(Duration::from_secs(2));
    let h = p.health();
    assert_accounted(&h, &[]);
    assert_eq!((h.dropped.rejected, h.retried), (100, 0), "{h:#?}");
    assert_eq!(h.breaker, BreakerState::Closed);
}

#[test]
fn a_ten_second_collector_restart_at_2k_spans_per_second_loses_nothing() {
    let mut first = FaultServer::start(Behaviour::Healthy);
    let addr = first.addr;
    let p = pipe_to(addr, policy());
    let tracer = p.provider.tracer("restart");
    let mut slowest = Duration::ZERO;
    let (mut created, mut loaded_for) = (0u64, Duration::ZERO);
    let mut outage_seen: Option<PipelineHealth> = None;
    // About 2 spans per millisecond, paced by the clock (this is the load, not synchronisation).
    // Health is sampled as the load runs: the outage must show while it lasts, whatever the
    // breaker's probe timing.
    let mut phase = |d: Duration, watch_outage: bool| {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < d {
            let target = start.elapsed().as_micros() as u64 * 2 / 1000 + 2;
            while n < target {
                let t = Instant::now();
                tracer.start("load").end();
                slowest = slowest.max(t.elapsed());
                n += 1;
            }
            if watch_outage && outage_seen.is_none() {
                let h = p.health();
                if h.breaker == BreakerState::Open && h.retried > 0 && h.last_error.is_some() {
                    outage_seen = Some(h);
                }
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        created += n;
        loaded_for += start.elapsed();
    };
    phase(Duration::from_secs(1), false);
    first.stop();
    phase(Duration::from_secs(10), true);
    let second = FaultServer::start_on(addr, Behaviour::Healthy);
    phase(Duration::from_secs(1), false);
    // The backlog drains once a probe finds the collector back: wait for that, not a window.
    let drained = forkline_tests::harness::wait_until(Duration::from_secs(30), || {
        let h = p.health();
        (h.accepted == created && h.delivered == created).then_some(h)
    });
    let took = p.shutdown(Duration::from_secs(10));

    let h = p.health();
    let mut received = first.span_ids();
    received.extend(second.span_ids());
    assert!(drained.is_some(), "the backlog was not delivered: {h:#?}");
    assert_eq!(h.accepted, created);
    assert_accounted(&h, &received);
    assert_eq!(h.dropped_total, 0, "nothing lost: {h:#?}");
    assert_eq!(
        received.len() as u64,
        created,
        "every span arrived, exactly once"
    );
    assert!(
        outage_seen.is_some(),
        "the outage showed in health (breaker open, a retry, an error) while it lasted"
    );
    assert_eq!(h.breaker, BreakerState::Closed);
    assert!(slowest < SPAN_BOUND, "slowest span start+end {slowest:?}");
    assert!(
        took < Duration::from_secs(1),
        "nothing was left for shutdown: {took:?}"
    );
    // The load was the one named: 2 spans per millisecond of its own measured duration.
    // (2.5 % less: each phase's last pacing sleep may overshoot on a loaded machine.)
    let rate = created as f64 / loaded_for.as_secs_f64();
    assert!(
        rate >= 1_950.0,
        "{created} spans in {loaded_for:?} = {rate:.0} spans/s"
    );
}

/// What a batch of `n` spans named `name` weighs in the ride-through buffer, which holds batches
/// encoded as OTLP protobuf request bodies: measured by encoding such a batch here, under the
/// default resource the test pipelines have.
fn encoded_batch_bytes(name: &'static str, n: usize) -> usize {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use prost::Message;
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("budget");
    for _ in 0..n {
        tracer.start(name).end();
    }
    let spans = exporter.get_finished_spans().expect("finished spans");
    assert_eq!(spans.len(), n);
    let resource = opentelemetry_sdk::Resource::builder().build();
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans, &(&resource).into()),
    }
    .encode_to_vec()
    .len()
}

#[test]
fn the_ride_through_buffer_stays_within_its_memory_budget() {
    // A collector that is down for good, and a 64 KiB budget: the oldest batches give way.
    let budget = 64 << 10;
    let (name, max_batch, total) = (
        "a span with a name long enough to weigh something",
        512,
        10_000,
    );
    // The queue takes every span at once, so no pacing is needed for none to be dropped there.
    let p = pipe_to(refusing_addr(), {
        let mut p = policy();
        p.buffer_budget_bytes = budget;
        p.queue_capacity = total;
        p
    });
    // Batches hold at most max_batch spans, and a smaller batch weighs more per span, so no
    // more than this many spans fit in the budget.
    let per_full_batch = encoded_batch_bytes(name, max_batch);
    let fit = (budget * max_batch / per_full_batch) as u64;
    let tracer = p.provider.tracer("budget");
    for _ in 0..total {
        tracer.start(name).end();
    }
    // Settled: the export thread has taken every span and dropped the oldest past the budget.
    let settled = forkline_tests::harness::wait_until(Duration::from_secs(10), || {
        let h = p.health();
        (h.dropped.buffer_full > 0 && h.pending <= fit).then_some(h)
    })
    .unwrap_or_else(|| {
        panic!(
            "the buffer never came within its budget ({fit} spans of {per_full_batch} bytes per {max_batch}): {:#?}",
            p.health()
        )
    });
    assert_eq!(settled.dropped.queue_full, 0, "{settled:#?}");
    p.shutdown(Duration::from_millis(300));
    let h = p.health();
    assert_accounted(&h, &[]);
    let at_shutdown = h.dropped.shutdown + h.dropped.breaker_open;
    assert_eq!(
        h.dropped.buffer_full + at_shutdown,
        total as u64,
        "only the oldest were dropped for the budget, the rest at shutdown: {h:#?}"
    );
    println!(
        "held {at_shutdown} spans at shutdown; {fit} fit ({per_full_batch} bytes per {max_batch})"
    );
    assert!(at_shutdown <= fit, "{h:#?}");
    // The budget is used, not merely respected: less than one more full batch is left free.
    assert!(
        at_shutdown + max_batch as u64 > fit,
        "{at_shutdown} spans held of {fit}: {h:#?}"
    );
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_growing() {
    let hole = FaultServer::start(Behaviour::BlackHole);
    let p = pipe_to(hole.addr, {
        let mut p = policy();
        p.queue_capacity = 100;
        p
    });
    p.spans(1);
    // The export thread is now inside an attempt the black hole never answers (300 ms).
    let sent = forkline_tests::harness::wait_until(Duration::from_secs(5), || {
        (hole.requests() >= 1).then_some(())
    });
    assert!(sent.is_some(), "the first batch went out");
    assert!(p.spans(1000) < SPAN_BOUND);
    let h = p.health();
    // 100 wait in the queue; the rest are dropped at once (a few more may fit if the export
    // thread came back for them on a slow machine).
    assert!(h.dropped.queue_full >= 800, "{h:#?}");
    assert!(h.pending <= 1 + 200, "the queue stayed bounded: {h:#?}");
    p.shutdown(Duration::from_millis(300));
    let h = p.health();
    assert_eq!(h.accepted, 1001);
    assert_eq!((h.delivered, h.dropped_total), (0, 1001), "{h:#?}");
}
