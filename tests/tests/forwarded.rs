//! Behind a proxy (Gunicorn's `forwarded_allow_ips`): from a trusted peer, the forwarding
//! headers give the server span the client's address, scheme and host; from an untrusted peer
//! they are ignored, so a client cannot claim another's address.

use forkline_examples::http_get_with;
use forkline_tests::harness::{attributes, read_spans, Fixture};
use serde_json::Value;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

/// The `TelemetryLayer` server span of one `GET /work` sent with `headers` to a one-worker
/// server started with `extra`.
fn server_span(extra: &[(&str, &str)], headers: &[(&str, &str)]) -> Value {
    let mut env = vec![("FORKLINE_WORKERS", "1"), ("SENTRY_DSN", "")];
    env.extend_from_slice(extra);
    let mut fx = Fixture::start(BIN, &env);
    let addr = fx.addr(BOOT);
    let worker = fx.wait_for_workers(1, BOOT)[0];
    let (status, _) = http_get_with(addr, "/work", headers).expect("GET /work");
    assert_eq!(status, 200);
    fx.stop();
    read_spans(&fx.run_dir(), worker)
        .iter()
        .map(|s| attributes(&s["attributes"]))
        .find(|a| a.get("client.address").is_some())
        .unwrap_or_else(|| panic!("a server span with client.address:\n{}", fx.stderr()))
}

const FORWARDED: &[(&str, &str)] = &[
    ("X-Forwarded-For", "6.6.6.6, 203.0.113.7"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "shop.example"),
];

#[test]
fn a_trusted_proxy_gives_the_span_the_clients_address_scheme_and_host() {
    // 127.0.0.1 is trusted by default, as in Gunicorn.
    let span = server_span(&[], FORWARDED);
    // Read from the right: 6.6.6.6 is what the client itself claimed before the last proxy.
    assert_eq!(span["client.address"], "203.0.113.7", "{span:#}");
    assert_eq!(span["url.scheme"], "https", "{span:#}");
    assert_eq!(span["server.address"], "shop.example", "{span:#}");
    let rfc = server_span(
        &[],
        &[(
            "Forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https;host=api.example",
        )],
    );
    assert_eq!(rfc["client.address"], "2001:db8::7", "{rfc:#}");
    assert_eq!(rfc["url.scheme"], "https", "{rfc:#}");
    assert_eq!(rfc["server.address"], "api.example", "{rfc:#}");
}

#[test]
fn an_untrusted_peer_cannot_claim_another_clients_address() {
    let span = server_span(&[("FORKLINE_FORWARDED_ALLOW_IPS", "10.0.0.1")], FORWARDED);
    assert_eq!(span["client.address"], "127.0.0.1", "{span:#}");
    assert_eq!(span["url.scheme"], "http", "{span:#}");
    assert_ne!(span["server.address"], "shop.example", "{span:#}");
}

#[test]
fn a_bad_forwarded_allow_ips_is_a_clear_start_up_error() {
    let mut fx = Fixture::start(BIN, &[("FORKLINE_FORWARDED_ALLOW_IPS", "10.0.0.0/40")]);
    let status = fx.wait_exit(BOOT).expect("exits");
    assert!(!status.success());
    assert!(
        fx.stderr().contains("FORKLINE_FORWARDED_ALLOW_IPS")
            && fx.stderr().contains("the prefix must be 0 to 32"),
        "{}",
        fx.stderr()
    );
}
