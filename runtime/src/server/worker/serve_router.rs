//! `serve_axum`'s connection loop: what `axum::serve` does (HTTP/1.1 with upgrades, a task per
//! connection, a graceful shutdown that lets every connection finish its request), written
//! here for what `axum::serve` does not let its caller set or see: the HTTP parser's most
//! header fields (`limit_request_fields`), and the requests the parser refuses (too many
//! fields, a head too large, not HTTP), which are recorded like any refused request
//! (`refused_request`) instead of vanishing with their connection.

use crate::server::accept::balanced_accept::BalancedListener;
use crate::server::worker::keep_alive::MakePerConnection;
use crate::server::worker::refused_request;
use crate::server::worker::request_limits::{Refused, DEFAULT_FIELDS};
use crate::server::worker::shutdown_signal::Shutdown;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::pin::pin;
use std::time::Duration;
use tower_service::Service;

/// Serves connections from `listener` with `make`'s service until the worker is asked to stop;
/// then, once the drain has settled (within `window`), shuts the connections left down
/// gracefully and returns when every one has closed.
pub(crate) async fn serve(
    mut listener: BalancedListener,
    make: MakePerConnection,
    shutdown: Shutdown,
    window: Duration,
) -> std::io::Result<()> {
    let drain = listener.drain();
    let mut http1 = hyper::server::conn::http1::Builder::new();
    let fields = make.limits.parser_fields();
    // hyper keeps its default's fields on the stack, any other count on the heap.
    if fields != DEFAULT_FIELDS {
        http1.max_headers(fields);
    }
    // Dropping `stop` tells each connection to shut down gracefully; every connection holds a
    // `closed` receiver until it ends.
    let (stop_tx, stop) = tokio::sync::watch::channel(());
    let (closed_tx, closed) = tokio::sync::watch::channel(());
    let mut stopped = pin!(async {
        shutdown.wait().await;
        // The listener takes nothing new from here, and each connection closes after its last
        // response; the graceful shutdown below, which closes idle connections at once, only
        // sees what is left after the window.
        drain.settled(window).await;
    });
    loop {
        tokio::select! {
            (stream, peer) = listener.next_connection() => {
                let service = make.for_connection(&stream, &peer);
                let (limits, record, client) = (make.limits, make.record, peer.ip());
                let connection = http1
                    .serve_connection(
                        TokioIo::new(stream),
                        hyper::service::service_fn(move |request: http::Request<Incoming>| {
                            service.clone().call(request.map(axum::body::Body::new))
                        }),
                    )
                    .with_upgrades();
                let (stop_tx, closed) = (stop_tx.clone(), closed.clone());
                tokio::spawn(async move {
                    let mut connection = pin!(connection);
                    let mut asked = pin!(stop_tx.closed());
                    let mut told = false;
                    let served = loop {
                        tokio::select! {
                            served = connection.as_mut() => break served,
                            () = &mut asked, if !told => {
                                told = true;
                                connection.as_mut().graceful_shutdown();
                            }
                        }
                    };
                    if let Some(refused) =
                        served.err().and_then(|e| Refused::of_parse_error(&e, &limits))
                    {
                        refused_request::record::<()>(refused, None, client, record);
                    }
                    drop(closed);
                });
            }
            () = &mut stopped => break,
        }
    }
    drop(stop);
    drop(closed);
    closed_tx.closed().await;
    Ok(())
}
