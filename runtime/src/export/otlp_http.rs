//! The transport of the OTLP/HTTP signals that have no other (metrics, logs): one POST of a
//! protobuf body to the signal's URL, bounded and classified by the guard (`attempt`). Spans
//! have their own (`otlp_spans`), which also speaks gRPC.

use crate::config::GuardPolicy;
use crate::export::attempt;
use crate::export::engine::signal::{Attempted, Transport};

/// An OTLP/HTTP POST of a protobuf body to `url`.
pub(crate) struct OtlpHttpTransport {
    /// Carries the policy's timeouts and the signal's headers.
    pub(crate) client: reqwest::Client,
    pub(crate) url: String,
    pub(crate) policy: GuardPolicy,
}

impl Transport for OtlpHttpTransport {
    async fn attempt(&mut self, body: bytes::Bytes) -> Attempted {
        let request = self
            .client
            .post(self.url.as_str())
            .header("Content-Type", "application/x-protobuf")
            .body(body);
        attempt::send(request, &self.policy).await
    }
}

/// For the signals' tests: a one-request OTLP/HTTP receiver on `path`: answers 200 and
/// returns the body it got.
#[cfg(test)]
pub(crate) fn one_request_receiver(path: &str) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}{path}", listener.local_addr().expect("address"));
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).expect("read");
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    return got[end + 4..end + 4 + length].to_vec();
                }
            }
            if n == 0 {
                return Vec::new();
            }
        }
    });
    (url, handle)
}
