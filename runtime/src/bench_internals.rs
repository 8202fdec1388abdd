//! Internals reachable from benchmarks only (feature `bench-internals`): not public API, not
//! covered by semver, and never on in a build of an application.

use std::time::{Duration, Instant};

/// `serve_axum`'s per-connection service around `router`, for one connection outside a
/// server (no scoreboard; Gunicorn's default request limits checked): what `serve_axum` adds to
/// each request, in process.
#[cfg(feature = "axum")]
#[derive(Debug, Clone)]
pub struct PerConnection(crate::server::worker::keep_alive::PerConnection);

#[cfg(feature = "axum")]
impl PerConnection {
    /// One connection's service around `router`.
    pub fn new(router: axum::Router) -> Self {
        Self(crate::server::worker::keep_alive::PerConnection::detached(
            router, None,
        ))
    }

    /// The same, writing Gunicorn's default access log line of each request to `path`.
    pub fn logging(router: axum::Router, path: &std::path::Path) -> std::io::Result<Self> {
        use crate::server::worker::access_log::{AccessLog, Format, Target};
        let log = AccessLog::new(Target::File(path.to_path_buf()), Format::default())?;
        Ok(Self(
            crate::server::worker::keep_alive::PerConnection::detached(
                router,
                Some(std::sync::Arc::new(log)),
            ),
        ))
    }
}

#[cfg(feature = "axum")]
impl tower_service::Service<axum::extract::Request> for PerConnection {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower_service::Service::<axum::extract::Request>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        Box::pin(self.0.call(request))
    }
}

/// `n` requests' in-flight bookkeeping through one connection's slot, as `serve_axum` does it
/// per request: `tracking` adds what the timeout reads (the start, the poll in progress around
/// the router's call and one poll, the span kept); without it, only the request line, as
/// before. The time taken.
pub fn in_flight_requests(n: u64, tracking: bool) -> Duration {
    use crate::server::worker::in_flight::{keep_span, Slot};
    let slot = Slot::open();
    let cx = opentelemetry::Context::new();
    let started = Instant::now();
    for _ in 0..n {
        if tracking {
            slot.start("GET", std::hint::black_box("/orders/42"));
            {
                let _call = slot.polling();
                keep_span(std::hint::black_box(&cx));
            }
            {
                let _poll = slot.polling();
            }
        } else {
            slot.set("GET", std::hint::black_box("/orders/42"));
        }
        slot.clear();
    }
    started.elapsed()
}
