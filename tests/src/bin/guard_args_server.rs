//! A pre-fork server whose export guards are set by the hooks' `guard(...)` arguments; driven
//! by `tests/tests/guard_args.rs` against a port that refuses connections.

use forkline_tests::fixture::{publish_addr, record, router};

#[forkline::when_ready]
fn ready(master: &forkline::Master) {
    publish_addr(master);
}

// One failure opens either breaker, for ten minutes: the defaults would take five.
#[forkline::post_fork(
    sampler = "always_on",
    guard(
        breaker_failures = 1,
        breaker_cooldown_ms = 600000,
        attempt_timeout_ms = 500
    )
)]
fn otel() {}

#[forkline::worker_init(sentry(
    traces_sample_rate = 0.0,
    guard(breaker_failures = 1, breaker_cooldown_ms = 600000, max_retries = 0)
))]
fn init(worker: &forkline::Worker) {
    record("worker_init", &format!("worker={}", worker.id()));
}

fn main() {
    let server = forkline::Server::from_env().and_then(|s| s.bind("127.0.0.1:0"));
    match server.and_then(|s| s.serve_axum(router())) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
