//! Which response is a keep-alive connection's last, for `serve_axum`. Keep-alive fairness:
//! after a set number of requests on one connection, or on a crowded worker, the response says
//! `Connection: close`, and the client's next request opens a new connection, which the
//! balanced listener gives to whichever worker is under its share. Without it a long-lived
//! client stays on the worker it first landed on for as long as it likes. A stopping worker's
//! drain: once it is asked to stop, a response after which nothing more is pending on its
//! connection says `Connection: close` too (see `balanced_accept::Drain`). It also counts every
//! request in the worker's scoreboard record, and keeps the request each connection is serving
//! in its `in_flight` slot (named in the timeout's Sentry event).

use crate::health::serving::Record;
use crate::server::accept::balanced_accept::{ConnectionDrain, CountedStream};
use crate::server::accept::stream::PeerAddr;
use crate::server::worker::access_log::{self, AccessLog};
use crate::server::worker::forwarded::{self, ClientAddress, TrustedProxies};
use crate::server::worker::in_flight::Slot;
use crate::server::worker::refused_request;
use crate::server::worker::request_limits::Limits;
use axum::extract::Request;
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// Makes one [`PerConnection`] service per accepted connection.
#[derive(Debug, Clone)]
pub(crate) struct MakePerConnection {
    pub(crate) router: axum::Router,
    pub(crate) record: Option<&'static Record>,
    /// The peers trusted to say who the client is.
    pub(crate) trusted: Arc<TrustedProxies>,
    pub(crate) access_log: Option<Arc<AccessLog>>,
    /// Gunicorn's request limits.
    pub(crate) limits: Limits,
}

impl MakePerConnection {
    /// The service of one connection just taken, from `peer`.
    pub(crate) fn for_connection(&self, stream: &CountedStream, peer: &PeerAddr) -> PerConnection {
        PerConnection {
            router: self.router.clone(),
            record: self.record,
            connection: stream.connection(),
            in_flight: Slot::open(),
            peer: peer.ip(),
            trusted: self.trusted.clone(),
            access_log: self.access_log.clone(),
            limits: self.limits,
        }
    }
}

/// The router, for one connection.
#[derive(Debug, Clone)]
pub(crate) struct PerConnection {
    router: axum::Router,
    record: Option<&'static Record>,
    /// The connection's drain and its requests under the worker's rule (`request_policy`).
    connection: ConnectionDrain,
    in_flight: Arc<Slot>,
    /// The connection's peer (`None` over a Unix socket), and who may say it speaks for
    /// another client.
    peer: Option<std::net::IpAddr>,
    trusted: Arc<TrustedProxies>,
    access_log: Option<Arc<AccessLog>>,
    limits: Limits,
}

#[cfg(feature = "bench-internals")]
impl PerConnection {
    /// One connection's service outside a server, for benchmarks.
    pub(crate) fn detached(router: axum::Router, access_log: Option<Arc<AccessLog>>) -> Self {
        Self {
            router,
            record: None,
            connection: ConnectionDrain::detached(),
            in_flight: Slot::open(),
            peer: Some(std::net::IpAddr::from([127, 0, 0, 1])),
            trusted: Arc::default(),
            access_log,
            limits: Limits::default(),
        }
    }
}

/// What `serve_axum` puts in each request's extensions, in one entry: the connection's in-flight
/// slot (for [`name_route`]) and the client's address ([`ClientAddress::of`]; `None` from a
/// Unix socket peer that forwarded none).
#[derive(Debug, Clone)]
pub(crate) struct InFlight(Arc<Slot>, pub(crate) Option<std::net::IpAddr>);

impl ClientAddress {
    /// The client of `request`, as `serve_axum` resolved it; `None` for a request that did not
    /// come through `serve_axum`, or that came over a Unix socket from a proxy that did not say
    /// who the client is.
    #[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
    pub fn of<B>(request: &http::Request<B>) -> Option<Self> {
        let in_flight = request.extensions().get::<InFlight>()?;
        in_flight.1.map(Self)
    }
}

/// Clears the connection's in-flight slot when the response is done or dropped.
#[derive(Debug)]
pub(crate) struct Answered(Arc<Slot>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// A route layer of `serve_axum`'s router: once routed, the in-flight slot names the route
/// template (`GET /orders/{id}`) instead of the path.
pub(crate) async fn name_route(request: Request) -> Request {
    let extensions = request.extensions();
    if let (Some(route), Some(InFlight(slot, _))) = (
        extensions.get::<axum::extract::MatchedPath>(),
        extensions.get::<InFlight>(),
    ) {
        slot.set(request.method().as_str(), route.as_str());
    }
    request
}

impl Service<Request> for PerConnection {
    type Response = Response;
    type Error = Infallible;
    type Future = LastOrNot<Routed<<axum::Router as Service<Request>>::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        self.in_flight
            .start(request.method().as_str(), request.uri().path());
        // Measured as the request came, before a forwarded scheme and host join its URI.
        let refused = self.limits.check(&request);
        let client = client_of(&mut request, self.peer, &self.trusted);
        // What the access log's line needs, kept only when there is one.
        let logged = self.access_log.as_ref().map(|log| {
            let headers = request.headers();
            let text = |name: http::header::HeaderName| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            (
                log.clone(),
                Box::new(access_log::Request {
                    client,
                    method: request.method().to_string(),
                    target: request
                        .uri()
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_string(),
                    version: access_log::version_of(request.version()),
                    referer: text(http::header::REFERER),
                    agent: text(http::header::USER_AGENT),
                    user: None,
                    started: std::time::Instant::now(),
                    at: std::time::SystemTime::now(),
                }),
            )
        });
        request
            .extensions_mut()
            .insert(InFlight(self.in_flight.clone(), client));
        // Counted (the worker's figures, max_requests) whether or not it is refused.
        let last = self.connection.count_request() || refused.is_some();
        if last {
            self.connection.release();
        }
        let inner = match refused {
            Some(refused) => Routed::Refused(Some(refused_request::record(
                refused,
                Some(&request),
                client,
                self.record,
            ))),
            None => {
                // A layer that starts the request's span here keeps it in the slot.
                let _polling = self.in_flight.polling();
                Routed::App(self.router.call(request))
            }
        };
        LastOrNot {
            inner,
            last,
            logged,
            connection: self.connection.clone(),
            answered: Answered(self.in_flight.clone()),
        }
    }
}

/// Who the client is (see `forwarded`); a forwarded scheme and host go in the request's URI,
/// where handlers, the HTTP layer and Sentry's request context read them.
fn client_of(
    request: &mut Request,
    peer: Option<std::net::IpAddr>,
    trusted: &TrustedProxies,
) -> Option<std::net::IpAddr> {
    let client = forwarded::client(peer, request.headers(), trusted);
    let address = client.address;
    if client.scheme.is_none() && client.host.is_none() {
        return address;
    }
    let authority = match client.host {
        Some(host) => host,
        None => match request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            Some(host) => host.to_string(),
            None => return address,
        },
    };
    let scheme = client.scheme.unwrap_or("http");
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    if let Ok(uri) = format!("{scheme}://{authority}{path}").parse() {
        *request.uri_mut() = uri;
    }
    address
}
/// The router's answer to a request, or the one `serve_axum` gave itself to a request over a
/// limit.
#[derive(Debug)]
pub(crate) enum Routed<F> {
    App(F),
    Refused(Option<Response>),
}

impl<F> Future for Routed<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::App(inner) => Pin::new(inner).poll(cx),
            // Polled again after its answer (which a server does not do): nothing more comes.
            Self::Refused(answer) => answer.take().map_or(Poll::Pending, |a| Poll::Ready(Ok(a))),
        }
    }
}

/// The router's response, marked `Connection: close` when it is the connection's last: decided
/// as the request came in (limits, rebalancing), or as the response is ready (a stopping
/// worker's drain: the stop may come while the request runs).
#[derive(Debug)]
pub(crate) struct LastOrNot<F> {
    inner: F,
    last: bool,
    /// The access log and what the request left for its line.
    logged: Option<(Arc<AccessLog>, Box<access_log::Request>)>,
    connection: ConnectionDrain,
    /// The connection's in-flight slot, cleared when the response is done or dropped.
    answered: Answered,
}

impl<F> Future for LastOrNot<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let response = {
            // A poll that never returns is a request blocking its runtime thread: the master's
            // timeout sees it in the slot (`in_flight`).
            let _polling = this.answered.0.polling();
            std::task::ready!(Pin::new(&mut this.inner).poll(cx))
        };
        let last = this.last || this.connection.may_close();
        if last {
            this.connection.release();
        }
        if let (Some((log, request)), Ok(response)) = (this.logged.take(), &response) {
            let answer = access_log::Answer {
                status: response.status().as_u16(),
                length: response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok()),
                trace: this.answered.0.trace_ids(),
            };
            log.write(&request, &answer);
        }
        Poll::Ready(response.map(|mut response| {
            if last {
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            response
        }))
    }
}
