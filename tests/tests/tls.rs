//! HTTPS to an OTLP collector and to a Sentry DSN, against the real backends behind a TLS front
//! (nginx, a certificate signed by a test CA): with the CA trusted (`SSL_CERT_FILE` for every
//! client; `OTEL_EXPORTER_OTLP_CERTIFICATE` for OTLP alone) what trusts it arrives; without it,
//! nothing is sent to a server the system does not trust, the app is unaffected, and every drop
//! is counted. Built with the default `rustls` feature, and by `./scripts/test` once more with
//! only `native-tls`.
#![cfg(all(feature = "e2e", feature = "proxy"))]

use forkline_tests::harness::http_get;
use forkline_tests::peers::{eventually, start_against, stop, Peers, ARRIVAL, BOOT};
use forkline_tests::tls_front::TlsFront;
use std::net::SocketAddr;

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");

/// The TLS implementation this build's forkline uses, as its start line names it.
const IMPLEMENTATION: &str = if cfg!(feature = "rustls") {
    "rustls"
} else {
    "native-tls"
};

fn front(peers: &Peers) -> TlsFront {
    let otlp: SocketAddr = peers
        .otlp_endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("otelite's OTLP/HTTP address");
    TlsFront::start(otlp, peers.bugsink)
}

/// The peers' DSN with its scheme and address replaced by the TLS front's.
fn https_dsn(peers: &Peers, front: &TlsFront) -> String {
    let (key, rest) = peers
        .sentry_dsn
        .trim_start_matches("http://")
        .split_once('@')
        .expect("a DSN with a key");
    let project = rest.split_once('/').map_or("", |(_, p)| p);
    format!("https://{key}@{}/{project}", front.sentry)
}

/// Where the server is told to find the test CA.
#[derive(Clone, Copy, PartialEq)]
enum Trust {
    /// Nowhere: only the system's roots.
    Nothing,
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`: the OTLP path's own extra roots, and nothing else's.
    OtlpCertificate,
    /// `SSL_CERT_FILE`: the roots every client of the process reads (both TLS features do).
    CertFile,
}

/// A server with one worker sending everything over HTTPS through `front`, trusting the test CA
/// as `trust` says. Serves 10 requests, one of which fails (an error event), then stops.
fn run(
    peers: &Peers,
    front: &TlsFront,
    prefix: &str,
    trust: Trust,
) -> (String, String, Vec<forkline::WorkerReport>) {
    let ca = front.ca.to_str().expect("utf-8 path").to_string();
    let endpoint = format!("https://{}", front.otlp);
    let dsn = https_dsn(peers, front);
    let mut extra = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("SENTRY_DSN", dsn.as_str()),
        ("OTEL_METRICS_EXPORTER", "none"),
        ("OTEL_LOGS_EXPORTER", "none"),
    ];
    match trust {
        Trust::Nothing => {}
        Trust::OtlpCertificate => extra.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str())),
        Trust::CertFile => extra.push(("SSL_CERT_FILE", ca.as_str())),
    }
    let (fx, service) = start_against(BIN, peers, prefix, "1", &extra);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    for i in 0..10 {
        let path = if i == 9 { "/fail" } else { "/work" };
        let status = http_get(addr, path).expect("the app answers").0;
        assert_eq!(status, if i == 9 { 500 } else { 200 }, "{path}");
    }
    let log = fx.stderr();
    (service, log, stop(fx))
}

#[test]
fn spans_and_events_reach_the_backends_over_https_trusting_the_test_ca() {
    let peers = Peers::from_env();
    let front = front(&peers);
    let (service, log, reports) = run(&peers, &front, "tls-trusted", Trust::CertFile);
    assert!(
        log.contains(&format!(
            "spans → https://{}/v1/traces (http/protobuf, {IMPLEMENTATION})",
            front.otlp
        )) && log.contains(&format!("Sentry → https://{}/", front.sentry)),
        "the start line names each destination and the TLS in use: {log}"
    );
    let spans = reports[0].traces.as_ref().expect("an OTLP pipeline");
    let sentry = reports[0].sentry.as_ref().expect("a Sentry pipeline");
    assert!(
        spans.delivered > 0 && spans.dropped_total == 0,
        "{spans:#?}"
    );
    assert_eq!(
        sentry.dropped_total, sentry.dropped.rate_limited,
        "{sentry:#?}"
    );
    assert!(sentry.delivered > 0, "{sentry:#?}");

    let arrived = eventually(ARRIVAL, || {
        let spans = peers.spans_of(&service);
        (spans.len() as u64 >= spans_delivered(&reports)).then_some(spans)
    })
    .unwrap_or_else(|| {
        panic!(
            "otelite did not receive the spans of {service}: {}",
            front.logs()
        )
    });
    assert!(arrived.iter().any(|s| s["name"] == "GET /work"));
    let events = eventually(ARRIVAL, || {
        let events = peers.events_in(&service);
        (events.len() >= 2).then_some(events)
    })
    .unwrap_or_else(|| {
        panic!(
            "Bugsink did not receive the events of {service}: {}",
            front.logs()
        )
    });
    assert_eq!(events.len(), 2, "the boot event and the /fail one");
    // Both went through the TLS front (nothing else listens on those ports).
    assert!(front.answered(front.otlp.port()).iter().all(|s| *s == 200));
    assert!(!front.answered(front.otlp.port()).is_empty());
    assert!(!front.answered(front.sentry.port()).is_empty());
}

/// `OTEL_EXPORTER_OTLP_CERTIFICATE` trusts the CA for OTLP alone: the spans arrive, while the
/// Sentry transport, which does not read it, sends nothing to the same CA's host and counts it.
#[test]
fn the_otlp_certificate_variable_trusts_the_ca_for_otlp_only() {
    let peers = Peers::from_env();
    let front = front(&peers);
    let (service, _log, reports) = run(&peers, &front, "tls-otlp-ca", Trust::OtlpCertificate);
    let spans = reports[0].traces.as_ref().expect("an OTLP pipeline");
    let sentry = reports[0].sentry.as_ref().expect("a Sentry pipeline");
    assert!(
        spans.delivered > 0 && spans.dropped_total == 0,
        "{spans:#?}"
    );
    assert_eq!(sentry.delivered, 0, "{sentry:#?}");
    assert!(sentry.dropped_total > 0, "{sentry:#?}");
    eventually(ARRIVAL, || {
        let spans = peers.spans_of(&service);
        (spans.len() as u64 >= spans_delivered(&reports)).then_some(())
    })
    .unwrap_or_else(|| panic!("otelite did not receive the spans of {service}"));
    assert!(!front.answered(front.otlp.port()).is_empty());
    assert!(front.answered(front.sentry.port()).is_empty());
}

fn spans_delivered(reports: &[forkline::WorkerReport]) -> u64 {
    reports
        .iter()
        .filter_map(|r| r.traces.as_ref())
        .map(|p| p.delivered)
        .sum()
}

#[test]
fn an_untrusted_certificate_sends_nothing_and_every_drop_is_counted() {
    let peers = Peers::from_env();
    let front = front(&peers);
    let (service, _log, reports) = run(&peers, &front, "tls-untrusted", Trust::Nothing);
    let spans = reports[0].traces.as_ref().expect("an OTLP pipeline");
    let sentry = reports[0].sentry.as_ref().expect("a Sentry pipeline");
    assert_eq!(spans.delivered, 0, "{spans:#?}");
    assert!(
        spans.accepted > 0 && spans.dropped_total == spans.accepted,
        "{spans:#?}"
    );
    assert_eq!(sentry.delivered, 0, "{sentry:#?}");
    assert!(sentry.dropped_total > 0, "{sentry:#?}");
    let error = spans.last_error.clone().unwrap_or_default();
    assert!(!error.is_empty(), "the failure is named: {spans:#?}");
    // The handshake failed before any request: nginx answered none.
    assert!(
        front.answered(front.otlp.port()).is_empty(),
        "{:?}",
        front.answered(front.otlp.port())
    );
    assert!(front.answered(front.sentry.port()).is_empty());
    assert!(peers.spans_of(&service).is_empty());
}
