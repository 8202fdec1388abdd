//! A request `serve_axum` refuses itself (over a request limit, or malformed): no handler and no
//! `TelemetryLayer` sees it, so it is recorded here the way the layer records a request: a
//! server span with the HTTP semantic conventions (`http.response.status_code`, `error.type`
//! naming the limit) and `http.server.request.duration`, and counted in the worker's figures
//! (`Serving::requests_refused`). Its path goes on the span cut short: a refused target can be
//! hostile, and its size is the reason it was refused.

use crate::health::serving::Record;
use crate::server::worker::request_limits::Refused;
use crate::telemetry::http_server_metrics::{method_index, RequestMetrics, METHODS};
use opentelemetry::trace::{SpanBuilder, SpanKind, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue};
use std::net::IpAddr;
use std::time::SystemTime;

/// The longest path a refused request's span keeps.
const PATH_KEPT: usize = 256;

const METHOD: Key = Key::from_static_str("http.request.method");
const PATH: Key = Key::from_static_str("url.path");
const SCHEME: Key = Key::from_static_str("url.scheme");
const CLIENT_ADDRESS: Key = Key::from_static_str("client.address");
const STATUS_CODE: Key = Key::from_static_str("http.response.status_code");
const ERROR_TYPE: Key = Key::from_static_str("error.type");

/// Records `refused` (for `request`, when the parser read it), from `client`, and returns the
/// answer to send: its status, `Connection: close`, and a line saying which limit.
pub(crate) fn record<B>(
    refused: Refused,
    request: Option<&http::Request<B>>,
    client: Option<IpAddr>,
    worker: Option<&'static Record>,
) -> http::Response<axum::body::Body> {
    if let Some(worker) = worker {
        worker.request_refused();
    }
    let now = SystemTime::now();
    let method = request.map_or(METHODS.len() - 1, |r| method_index(r.method()));
    let mut attributes = vec![
        KeyValue::new(METHOD, METHODS[method]),
        KeyValue::new(SCHEME, "http"),
        KeyValue::new(STATUS_CODE, i64::from(refused.status())),
        KeyValue::new(ERROR_TYPE, refused.error_type()),
    ];
    if let Some(request) = request {
        attributes.push(KeyValue::new(PATH, cut(request.uri().path()).to_string()));
    }
    if let Some(client) = client {
        attributes.push(KeyValue::new(CLIENT_ADDRESS, client.to_string()));
    }
    let name = match request {
        Some(_) if method < METHODS.len() - 1 => METHODS[method],
        _ => "HTTP",
    };
    let builder = SpanBuilder {
        name: name.into(),
        span_kind: Some(SpanKind::Server),
        start_time: Some(now),
        attributes: Some(attributes),
        ..SpanBuilder::default()
    };
    let cx = crate::telemetry::tracer_cache::start_span(builder, &Context::new());
    cx.span().end_with_timestamp(now);
    RequestMetrics::start(method, "http", None, now).finish(
        now,
        Some(refused.status()),
        Some(refused.error_type().to_string()),
    );
    let mut response = http::Response::new(axum::body::Body::from(refused.message()));
    *response.status_mut() =
        http::StatusCode::from_u16(refused.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    response
}

/// `path`'s first [`PATH_KEPT`] bytes, cut on a character boundary.
fn cut(path: &str) -> &str {
    if path.len() <= PATH_KEPT {
        return path;
    }
    let mut end = PATH_KEPT;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_path_is_cut_on_a_character_boundary() {
        assert_eq!(cut("/short"), "/short");
        let long = format!("/{}", "é".repeat(1000));
        let kept = cut(&long);
        assert!(
            kept.len() <= PATH_KEPT && kept.len() >= PATH_KEPT - 1,
            "{}",
            kept.len()
        );
        assert!(long.starts_with(kept));
    }
}
