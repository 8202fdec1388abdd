//! Gunicorn's request limits under `serve_axum`, with hostile requests over real sockets: a
//! request line over `limit_request_line` is answered 414, more header fields than
//! `limit_request_fields` 431, a header field over `limit_request_field_size` 400, a request that
//! is not HTTP 400, a megabyte of header 431. Each closes its connection, never reaches a
//! handler, and is recorded: a server span with the status and the limit as `error.type`, the
//! `http.server.request.duration` metric, and the worker's `requests_refused`. The worker goes on
//! serving, and requests within the limits (set higher, or off) are served.

use forkline_tests::harness::{attributes, last_collection, read_spans, Fixture};
use forkline_tests::load::next_answer;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

fn server(extra: &[(&str, &str)]) -> (Fixture, SocketAddr, u32) {
    let mut env = vec![
        ("FORKLINE_WORKERS", "1"),
        ("OTEL_TRACES_EXPORTER", "embedded"),
        ("SENTRY_DSN", ""),
    ];
    env.extend_from_slice(extra);
    let fx = Fixture::start(BIN, &env);
    let addr = fx.addr(BOOT);
    let worker = fx.wait_for_workers(1, BOOT)[0];
    (fx, addr, worker)
}

/// Sends `head` (a request's head, or anything) and reads the answer to its end: the server
/// closes the connection after a refusal. Returns the status and whether it said `close`.
fn send(addr: SocketAddr, head: &[u8]) -> (u16, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(BOOT)).expect("timeout");
    // The server may answer and close before reading all of a hostile head: a broken pipe
    // here is an answer too.
    let _ = stream.write_all(head);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (
        status,
        text.to_ascii_lowercase().contains("connection: close"),
    )
}

fn get(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Connection: close\r\n\r\n")
        .into_bytes()
}

/// `n` header fields of `X-N: i`.
fn fields(n: usize) -> String {
    (0..n).map(|i| format!("X-N: {i}\r\n")).collect()
}

#[test]
fn requests_over_gunicorns_limits_are_refused_recorded_and_the_worker_goes_on() {
    let (mut fx, addr, worker) = server(&[]);
    // Host and Connection are two of the fields.
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a request line of 4095 bytes",
            get(&format!("/{}", "a".repeat(4094 - 13)), ""),
            414,
            "limit_request_line",
        ),
        (
            "101 header fields",
            get("/work", &fields(99)),
            431,
            "request_header_fields_too_large",
        ),
        (
            "a header field of 8191 bytes",
            get("/work", &format!("X-Big: {}\r\n", "v".repeat(8191 - 7))),
            400,
            "limit_request_field_size",
        ),
        (
            "a megabyte of header",
            get("/work", &format!("X-Big: {}\r\n", "v".repeat(1 << 20))),
            431,
            "request_header_fields_too_large",
        ),
        (
            "a request that is not HTTP",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not a request\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "a header without a colon",
            b"GET /work HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
    ];
    for (what, head, status, _) in &cases {
        assert_eq!(send(addr, head), (*status, true), "{what}");
        // The worker goes on.
        assert_eq!(send(addr, &get("/work", "")).0, 200, "after {what}");
    }
    // Within the limits: exactly 4094 bytes of line, 100 fields, 8190 bytes of field.
    for (what, head) in [
        (
            "a request line of 4094 bytes",
            get(&format!("/{}", "a".repeat(4094 - 14)), ""),
        ),
        ("100 header fields", get("/work", &fields(98))),
        (
            "a field of 8190 bytes",
            get("/work", &format!("X-Big: {}\r\n", "v".repeat(8190 - 7))),
        ),
    ] {
        // The long path is no route: 404 is the app's answer, not a refusal.
        let (status, _) = send(addr, &head);
        assert!(status == 200 || status == 404, "{what}: {status}");
    }
    assert_eq!(
        fx.booted_workers(),
        vec![worker],
        "no worker died or was replaced:\n{}",
        fx.stderr()
    );
    fx.stop();

    let report = fx.reports(1).remove(0);
    assert_eq!(
        report.serving.requests_refused,
        cases.len() as u64,
        "{report:?}"
    );
    let spans: Vec<_> = read_spans(&fx.run_dir(), worker)
        .iter()
        .map(|s| (s["name"].clone(), attributes(&s["attributes"])))
        .filter(|(_, a)| a.get("error.type").is_some())
        .collect();
    for (what, _, status, limit) in &cases {
        assert!(
            spans
                .iter()
                .any(|(_, a)| a["http.response.status_code"] == *status
                    && a["error.type"] == *limit
                    && a["client.address"] == "127.0.0.1"),
            "{what}: a span with status {status} and error.type {limit} in {spans:#?}"
        );
    }
    let line = spans
        .iter()
        .find(|(_, a)| a["error.type"] == "limit_request_line")
        .expect("the long line's span");
    assert_eq!(line.0, "GET");
    let path = line.1["url.path"].as_str().expect("url.path");
    assert!(
        path.len() <= 256,
        "the refused path is cut: {} bytes",
        path.len()
    );
    let (_, points) = last_collection(&fx.run_dir(), worker, "http.server.request.duration");
    for (what, _, status, limit) in &cases {
        assert!(
            points.iter().any(|p| {
                let a = attributes(&p["attributes"]);
                a["http.response.status_code"] == *status && a["error.type"] == *limit
            }),
            "{what}: the duration metric records {status} {limit}"
        );
    }
}

#[test]
fn a_refused_request_on_a_kept_alive_connection_ends_it_after_the_answers_before() {
    let (mut fx, addr, _) = server(&[]);
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(BOOT)).expect("timeout");
    // A good request, then one over the line limit, pipelined on one connection.
    let good = b"GET /work HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    let bad = format!(
        "GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(5000)
    );
    stream.write_all(&good).expect("send");
    stream.write_all(bad.as_bytes()).expect("send");
    let mut reader = BufReader::new(stream);
    let mut statuses = Vec::new();
    while let Some((status, _)) = next_answer(&mut reader) {
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [200, 414],
        "then the server closed the connection"
    );
    fx.stop();
}

#[test]
fn limits_set_higher_or_off_let_such_requests_through() {
    let (mut fx, addr, _) = server(&[
        ("FORKLINE_LIMIT_REQUEST_LINE", "0"),
        ("FORKLINE_LIMIT_REQUEST_FIELDS", "300"),
        ("FORKLINE_LIMIT_REQUEST_FIELD_SIZE", "20000"),
    ]);
    let long = get(&format!("/{}", "a".repeat(20_000)), "");
    assert_eq!(send(addr, &long).0, 404, "no line limit: the app answers");
    assert_eq!(send(addr, &get("/work", &fields(298))).0, 200, "300 fields");
    assert_eq!(send(addr, &get("/work", &fields(299))).0, 431, "301 fields");
    let big = format!("X-Big: {}\r\n", "v".repeat(19_000));
    assert_eq!(send(addr, &get("/work", &big)).0, 200, "a field of 19 kB");
    fx.stop();
}
