//! An app served by its own hyper server through `Server::serve`, doing what the README says
//! such an app does: it takes connections from the balanced listener, marks a response
//! `Connection: close` when `last_response` says so (which also counts the request for
//! `max_requests` and the worker's figures), and on the stop waits for the drain before hyper's
//! graceful shutdown of what is left. Answers every request with `pid=<pid>`. With
//! `FIXTURE_COUNT_NOTHING=1` it asks only `may_close`, as an app written before
//! `last_response` did, and counts nothing.

use axum::body::Body;
use forkline::Master;
use hyper::header::{HeaderValue, CONNECTION};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;

#[forkline::when_ready]
fn ready(master: &Master) {
    forkline_tests::fixture::publish_addr(master);
}

#[forkline::worker_init]
fn init(worker: &forkline::Worker) {
    forkline_tests::fixture::record("worker_init", &format!("worker={}", worker.id()));
}

async fn serve(serve: forkline::Serve) -> std::io::Result<()> {
    let window = serve.drain_window();
    let shutdown = serve.shutdown.clone();
    let count = std::env::var_os("FIXTURE_COUNT_NOTHING").is_none();
    let mut listener = serve.balanced_listener()?;
    let drain = listener.drain();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let stopped = async {
        shutdown.wait().await;
        drain.settled(window).await;
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            taken = listener.accept() => {
                let (stream, _) = taken?;
                let connection = stream.connection();
                let service = hyper::service::service_fn(move |_request| {
                    let connection = connection.clone();
                    async move {
                        let mut response =
                            hyper::Response::new(Body::from(format!("pid={}", std::process::id())));
                        let last = if count {
                            connection.last_response()
                        } else {
                            connection.may_close()
                        };
                        if last {
                            response
                                .headers_mut()
                                .insert(CONNECTION, HeaderValue::from_static("close"));
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let watched = graceful.watch(served);
                tokio::spawn(async move {
                    let _ = watched.await;
                });
            }
            () = &mut stopped => break,
        }
    }
    graceful.shutdown().await;
    Ok(())
}

fn main() {
    let result = forkline::Server::from_env()
        .and_then(|s| s.bind("127.0.0.1:0"))
        .and_then(|s| s.serve(serve));
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
