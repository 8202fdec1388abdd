//! HTTP headers as the propagators' carriers: extract the caller's context from a request,
//! inject the current one into an outgoing request.

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::{global, Context};

/// Reads propagation headers. Values that are not visible ASCII are ignored (a hostile header
/// cannot reach a propagator's parser as anything but text).
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes propagation headers; a value that is not a valid header value is skipped.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The caller's context from a request's headers, through the global propagators (W3C
/// `traceparent`/`tracestate`, `baggage`, `sentry-trace`, as configured).
pub fn extract(headers: &http::HeaderMap) -> Context {
    global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// Adds the current context's propagation headers to an outgoing request's headers, so the
/// service called continues this trace (and Sentry's, with its dynamic sampling context).
pub fn inject(headers: &mut http::HeaderMap) {
    inject_context(&Context::current(), headers);
}

/// [`inject`] for a given context.
pub fn inject_context(cx: &Context, headers: &mut http::HeaderMap) {
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut HeaderInjector(headers)));
}
