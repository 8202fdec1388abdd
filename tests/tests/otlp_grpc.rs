//! The guarded span pipeline over OTLP/gRPC (feature `grpc`), against a real gRPC collector on
//! 127.0.0.1 and against sockets that refuse or never answer: the same guarantees as over HTTP —
//! ending a span stays an enqueue, status codes are classified by the OTLP retry table, every
//! span is delivered or counted, shutdown keeps its deadline. And end to end: a forked server
//! exporting over gRPC to otelite.
#![cfg(feature = "grpc")]

use forkline::{
    config::GuardConfig, config::OtlpProtocol, report::BreakerState, report::PipelineHealth,
};
use forkline_tests::faults::{refusing_addr, test_policy, Behaviour, FaultServer};
use forkline_tests::grpc_collector::{GrpcBehaviour, GrpcCollector};
use forkline_tests::span_pipe::SpanPipe;
use std::collections::BTreeSet;
use std::time::Duration;

fn pipe_to(url: String, policy: GuardConfig) -> SpanPipe {
    let mut otlp = forkline::config::OtlpExporter::new(url, OtlpProtocol::Grpc);
    otlp.headers = vec![("Authorization".into(), "Bearer grpc-secret".into())];
    let mut settings = forkline::manual::SpanExportSettings::new(otlp, policy);
    settings.max_batch = 256;
    settings.batch_delay = Duration::from_millis(20);
    SpanPipe::start(settings)
}

/// Far below one attempt (300 ms): a wait on export would show.
const SPAN_BOUND: Duration = Duration::from_millis(100);

fn assert_accounted(h: &PipelineHealth, received: &[Vec<u8>]) {
    assert_eq!(h.accepted, h.delivered + h.dropped_total, "{h:#?}");
    let distinct: BTreeSet<_> = received.iter().collect();
    assert_eq!(distinct.len(), received.len(), "no span arrived twice");
    assert_eq!(h.delivered, received.len() as u64, "{h:#?}");
}

#[test]
fn a_grpc_collector_receives_every_span_once_with_its_metadata() {
    let collector = GrpcCollector::start(GrpcBehaviour::Healthy);
    let p = pipe_to(collector.url(), test_policy());
    assert!(p.spans(2000) < SPAN_BOUND);
    p.shutdown(Duration::from_secs(30));
    let h = p.health();
    assert_accounted(&h, &collector.span_ids());
    assert_eq!((h.delivered, h.dropped_total), (2000, 0));
    let auth = collector.authorization();
    assert!(!auth.is_empty(), "the headers travel as gRPC metadata");
    assert!(auth.iter().all(|a| a == "Bearer grpc-secret"));
}

#[test]
fn unavailable_is_retried_until_the_collector_recovers() {
    let collector = GrpcCollector::start(GrpcBehaviour::Flapping {
        failures: 2,
        code: tonic::Code::Unavailable,
    });
    let p = pipe_to(collector.url(), test_policy());
    assert!(p.spans(1000) < SPAN_BOUND);
    p.shutdown(Duration::from_secs(30));
    let h = p.health();
    assert_accounted(&h, &collector.span_ids());
    assert_eq!((h.delivered, h.dropped_total), (1000, 0), "{h:#?}");
    assert!(h.retried >= 2, "{h:#?}");
}

#[test]
fn invalid_argument_refuses_the_batch_and_is_never_retried() {
    let collector = GrpcCollector::start(GrpcBehaviour::Status(tonic::Code::InvalidArgument));
    let p = pipe_to(collector.url(), test_policy());
    p.spans(300);
    p.shutdown(Duration::from_secs(30));
    let h = p.health();
    assert_eq!(h.dropped.rejected, 300, "{h:#?}");
    assert_eq!(h.retried, 0, "{h:#?}");
    assert_eq!(h.breaker, BreakerState::Closed, "a refusal is an answer");
    assert!(
        h.last_error
            .as_deref()
            .is_some_and(|e| e.contains("gRPC INVALID_ARGUMENT")),
        "{h:#?}"
    );
    assert!(collector.span_ids().is_empty());
}

#[test]
fn a_refusing_port_opens_the_breaker_and_shutdown_keeps_its_deadline() {
    let p = pipe_to(format!("http://{}", refusing_addr()), test_policy());
    assert!(p.spans(1000) < SPAN_BOUND);
    let opened = forkline_tests::harness::wait_until(Duration::from_secs(10), || {
        (p.health().breaker == BreakerState::Open).then_some(())
    });
    assert!(opened.is_some(), "{:#?}", p.health());
    let deadline = Duration::from_millis(500);
    let took = p.shutdown(deadline);
    assert!(took < deadline + Duration::from_millis(100), "{took:?}");
    let h = p.health();
    assert_eq!((h.accepted, h.delivered, h.dropped_total), (1000, 0, 1000));
    assert!(
        h.last_error
            .as_deref()
            .is_some_and(|e| e.contains("could not connect")),
        "{h:#?}"
    );
}

#[test]
fn a_black_hole_times_out_and_shutdown_keeps_its_deadline() {
    let hole = FaultServer::start(Behaviour::BlackHole);
    let p = pipe_to(format!("http://{}", hole.addr), test_policy());
    assert!(p.spans(500) < SPAN_BOUND);
    let failed = forkline_tests::harness::wait_until(Duration::from_secs(10), || {
        (p.health().retried > 0).then_some(())
    });
    assert!(failed.is_some(), "{:#?}", p.health());
    let deadline = Duration::from_millis(500);
    let took = p.shutdown(deadline);
    assert!(took < deadline + Duration::from_millis(100), "{took:?}");
    let h = p.health();
    assert_eq!((h.delivered, h.dropped_total), (0, 500), "{h:#?}");
    assert!(
        h.last_error
            .as_deref()
            .is_some_and(|e| e.contains("no answer within 300 ms")),
        "{h:#?}"
    );
}

/// A forked server whose workers export over gRPC to otelite: the spans arrive.
#[cfg(feature = "e2e")]
#[test]
fn workers_export_over_grpc_to_otelite() {
    use forkline_tests::harness::http_get;
    use forkline_tests::peers::{eventually, start_against, stop, Peers, ARRIVAL, BOOT};
    let peers = Peers::from_env();
    let (fx, service) = start_against(
        env!("CARGO_BIN_EXE_lifecycle_server"),
        &peers,
        "e2e-grpc",
        "2",
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &peers.otlp_grpc_endpoint),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    for _ in 0..20 {
        assert_eq!(http_get(addr, "/work").map(|r| r.0).ok(), Some(200));
    }
    let reports = stop(fx);
    let exported: u64 = reports.iter().map(|r| r.stats.spans_exported).sum();
    let ended: u64 = reports.iter().map(|r| r.stats.spans_ended).sum();
    assert_eq!(exported, ended, "every span ended was exported");
    assert!(exported >= 40, "two spans per request: {exported}");
    let received = eventually(ARRIVAL, || {
        let n = peers.spans_of(&service).len() as u64;
        (n >= exported).then_some(n)
    });
    assert_eq!(received, Some(exported), "otelite stored every span once");
}
