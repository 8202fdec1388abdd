// Every hook with its arguments; sync and async bodies; `()` and `Result` returns.
use forkline::{Master, Worker, WorkerExit, WorkersChanged};

#[forkline::on_starting]
fn starting(master: &Master) {
    assert!(master.local_addr().is_none());
}

#[forkline::when_ready]
fn ready(_master: &Master) -> std::io::Result<()> {
    Ok(())
}

#[forkline::pre_fork]
fn before() {}

#[forkline::post_fork(
    service_name = "checkout",
    service_version = "1.2.3",
    environment = "production",
    sampler = "parentbased_traceidratio",
    ratio = 0.25,
    exporter = "otlp",
    endpoint = "http://127.0.0.1:4318",
    guard(connect_timeout_ms = 250, attempt_timeout_ms = 2000, backoff_base_ms = 50, backoff_cap_ms = 3000,
          breaker_failures = 3, breaker_cooldown_ms = 5000, queue_capacity = 4096, buffer_budget_bytes = 16777216),
)]
fn otel(_worker: &Worker) -> forkline::Result<()> {
    Ok(())
}

#[forkline::worker_init(
    sentry(dsn = env("SENTRY_DSN"), traces_sample_rate = 1.0, sample_rate = 1, environment = "production", release = "checkout@1.2.3", debug,
           guard(attempt_timeout_ms = 3000, max_retries = 2, breaker_failures = 4)),
    propagators = "tracecontext, baggage, sentry",
)]
async fn init(worker: &Worker) -> Result<(), String> {
    tokio::task::yield_now().await;
    let _ = worker.id();
    Ok(())
}

#[forkline::worker_exit(deadline_ms = 1500)]
async fn bye(_worker: &forkline::Worker) {}

#[forkline::child_exit]
fn reaped(exit: &WorkerExit, master: &Master) {
    let _ = (exit.status.success(), master.pid());
}

#[forkline::on_exit]
fn leaving(_: &forkline::Master) {}

#[forkline::on_reload]
fn reloading(master: &Master) -> Result<(), String> {
    let _ = master.workers();
    Ok(())
}

#[forkline::nworkers_changed]
fn resized(change: &WorkersChanged, _master: &Master) {
    let _ = (change.new, change.old);
}

#[forkline::nworkers_changed]
fn resized_too() {}

#[forkline::worker_int]
fn interrupted(_worker: &Worker) {}

#[forkline::worker_abort]
fn aborted(worker: &forkline::Worker) -> std::io::Result<()> {
    let _ = worker.pid();
    Ok(())
}

fn main() {
    // Registration is by linker section: nothing ran before main, and the hooks are all there.
    assert_eq!(forkline::Server::from_env().is_ok(), std::env::var_os("SENTRY_DSN").is_none());
}
