//! What tracking requests in flight (issue 26: the master's per-request timeout, the abort's
//! report) costs a request under `serve_axum`, in process, medians of alternating rounds:
//!
//! - the in-flight bookkeeping alone: the request line only (what there was before), against
//!   the line plus the start, the poll in progress around the router's call and one poll, and
//!   the span kept (a coarse clock read and a few relaxed stores per poll);
//! - the whole per-connection service of `serve_axum` around a bare route, against the route
//!   alone (everything `serve_axum` adds per request: counting, keep-alive decisions, the drain
//!   check, the client behind a proxy and the tracking), and with Gunicorn's access log line
//!   written to `/dev/null`.
//!
//!     cargo bench -p forkline-tests --features bench-internals --bench in_flight [-- ROUNDS]

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use forkline::bench_internals::{in_flight_requests, PerConnection};
use std::time::Instant;
use tower_service::Service;

const PER_ROUND: u64 = 200_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// ns per request through `service`.
async fn through<S>(service: &mut S) -> f64
where
    S: Service<Request<Body>, Response = axum::response::Response>,
    S::Error: std::fmt::Debug,
{
    let started = Instant::now();
    for _ in 0..PER_ROUND {
        std::future::poll_fn(|cx| service.poll_ready(cx))
            .await
            .expect("ready");
        let request = Request::get("/orders/42")
            .body(Body::empty())
            .expect("request");
        let response = service.call(request).await.expect("response");
        assert_eq!(response.status(), 200);
    }
    started.elapsed().as_nanos() as f64 / PER_ROUND as f64
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(15);
    let per = |d: std::time::Duration| d.as_nanos() as f64 / PER_ROUND as f64;
    let (mut line, mut tracked) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        line.push(per(in_flight_requests(PER_ROUND, false)));
        tracked.push(per(in_flight_requests(PER_ROUND, true)));
    }
    let (line, tracked) = (median(line), median(tracked));
    println!("in-flight bookkeeping, median of {rounds} rounds of {PER_ROUND} requests:");
    println!("  request line only (before)      {line:7.1} ns");
    println!(
        "  with start, polls and span      {tracked:7.1} ns  (+{:.1} ns per request)",
        tracked - line
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let router = Router::new().route("/orders/{id}", get(|| std::future::ready("ok")));
    let (mut bare, mut served, mut logged) = (Vec::new(), Vec::new(), Vec::new());
    let null = std::path::Path::new("/dev/null");
    rt.block_on(async {
        for _ in 0..rounds {
            bare.push(through(&mut router.clone()).await);
            served.push(through(&mut PerConnection::new(router.clone())).await);
            let mut with_log = PerConnection::logging(router.clone(), null).expect("/dev/null");
            logged.push(through(&mut with_log).await);
        }
    });
    let (bare, served, logged) = (median(bare), median(served), median(logged));
    println!("a route called in process, median of {rounds} rounds:");
    println!("  bare axum route                 {bare:7.1} ns");
    println!(
        "  in serve_axum's per-connection  {served:7.1} ns  (+{:.1} ns per request)",
        served - bare
    );
    println!(
        "  with the access log (/dev/null) {logged:7.1} ns  (+{:.1} ns per request for the line)",
        logged - served
    );
}
