//! The transport of the guarded OTLP pipelines (spans, metrics, logs): one OTLP/HTTP POST of a
//! protobuf body to the signal's URL, bounded and classified by the guard (`attempt`), or, with
//! feature `grpc`, one unary call of the signal's OTLP/gRPC service (`otlp_grpc`). The protocol
//! is the signal's own (`OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`, else the base one).

pub(crate) use crate::config::otlp_signal::OtlpSignal;
use crate::config::{GuardConfig, OtlpExporter, OtlpProtocol};
use crate::export::attempt;
use crate::export::engine::signal::{Attempted, Transport};

/// How an attempt reaches the collector.
pub(crate) enum OtlpTransport {
    /// An OTLP/HTTP POST of the body to `url`; `client` carries the policy's timeouts and the
    /// signal's headers.
    Http {
        client: reqwest::Client,
        url: String,
        policy: GuardConfig,
    },
    /// A unary OTLP/gRPC `Export` call.
    #[cfg(feature = "grpc")]
    Grpc {
        sender: Box<crate::export::otlp_grpc::GrpcSender>,
        policy: GuardConfig,
    },
}

impl OtlpTransport {
    /// The transport of `signal` to `otlp`: over HTTP with `prepared` (a client built in the
    /// master from the same destination and policy) or a new client; over gRPC with a sender
    /// that connects on its first attempt. Opens nothing.
    pub(crate) fn new(
        signal: OtlpSignal,
        otlp: &OtlpExporter,
        policy: GuardConfig,
        prepared: Option<&reqwest::Client>,
    ) -> std::io::Result<Self> {
        match otlp.protocol {
            OtlpProtocol::HttpProtobuf => Ok(Self::Http {
                client: match prepared {
                    Some(client) => client.clone(),
                    None => crate::export::http_client::for_otlp(otlp, &policy)?,
                },
                url: otlp.url.clone(),
                policy,
            }),
            #[cfg(feature = "grpc")]
            OtlpProtocol::Grpc => Ok(Self::Grpc {
                sender: Box::new(crate::export::otlp_grpc::GrpcSender::new(
                    signal,
                    &otlp.url,
                    &otlp.headers,
                    &policy,
                )?),
                policy,
            }),
            #[cfg(not(feature = "grpc"))]
            OtlpProtocol::Grpc => {
                let _ = signal;
                Err(std::io::Error::other(
                    "OTLP/gRPC needs forkline's `grpc` feature",
                ))
            }
        }
    }
}

impl Transport for OtlpTransport {
    async fn attempt(&mut self, body: bytes::Bytes) -> Attempted {
        match self {
            Self::Http {
                client,
                url,
                policy,
            } => {
                let request = client
                    .post(url.as_str())
                    .header("Content-Type", "application/x-protobuf")
                    .body(body);
                attempt::send(request, policy).await
            }
            #[cfg(feature = "grpc")]
            Self::Grpc { sender, policy } => sender.send(&body, policy).await.into(),
        }
    }
}

/// For the signals' tests: a one-request OTLP/HTTP receiver on `path`: answers 200 and
/// hands over the body it got.
#[cfg(test)]
pub(crate) fn one_request_receiver(path: &str) -> (String, OneRequest) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}{path}", listener.local_addr().expect("address"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(answer_one_request(&listener));
    });
    (url, OneRequest(rx))
}

/// Accepts one connection, reads one request, answers 200; the request's body.
#[cfg(test)]
fn answer_one_request(listener: &std::net::TcpListener) -> Vec<u8> {
    use std::io::{Read, Write};
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
}

/// The body [`one_request_receiver`] gets.
#[cfg(test)]
pub(crate) struct OneRequest(std::sync::mpsc::Receiver<Vec<u8>>);

#[cfg(test)]
impl OneRequest {
    /// The body; fails the test when no request came within 30 s, where waiting on the
    /// receiver's thread would hang it (it would still be waiting to accept).
    pub(crate) fn body(self) -> Vec<u8> {
        self.0
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("no OTLP request reached the receiver within 30 s")
    }
}
