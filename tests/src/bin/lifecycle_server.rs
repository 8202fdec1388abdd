//! A pre-fork server with every hook, each recording itself; driven by `tests/tests/lifecycle.rs`.

use forkline::{Master, Worker, WorkerExit};
use forkline_tests::fixture::{boot_span_with_event, publish_addr, record, router};

#[forkline::on_starting]
fn starting(master: &Master) {
    record(
        "on_starting",
        &format!("bound={}", master.local_addr().is_some()),
    );
}

#[forkline::when_ready]
fn ready(master: &Master) {
    record(
        "when_ready",
        &format!("bound={}", master.local_addr().is_some()),
    );
    publish_addr(master);
}

#[forkline::pre_fork]
fn before_fork(master: &Master) {
    forkline_tests::fixture::record_pre_fork(master);
}

#[forkline::post_fork(service_name = "lifecycle-fixture", sampler = "always_on")]
fn after_fork(worker: &Worker) {
    record("post_fork", &format!("worker={}", worker.id()));
}

#[forkline::worker_init(sentry(traces_sample_rate = 1.0))]
fn init(worker: &Worker) -> Result<(), String> {
    if std::env::var_os("FIXTURE_FAIL_INIT").is_some() {
        return Err("FIXTURE_FAIL_INIT is set".into());
    }
    record("worker_init", &format!("worker={}", worker.id()));
    boot_span_with_event(worker);
    Ok(())
}

#[forkline::worker_exit(deadline_ms = 2000)]
fn exit(worker: &Worker) {
    record("worker_exit", &format!("worker={}", worker.id()));
}

#[forkline::child_exit]
fn reaped(master: &Master, exit: &WorkerExit) {
    let _ = master;
    record(
        "child_exit",
        &format!(
            "worker={} worker_pid={} status={:?}",
            exit.worker_id, exit.pid, exit.status
        ),
    );
}

#[forkline::on_exit]
fn bye(_master: &Master) {
    record("on_exit", "");
}

fn main() {
    let server = forkline::Server::from_env().and_then(|s| s.bind("127.0.0.1:0"));
    let server = match server {
        Ok(s) if std::env::var_os("FIXTURE_NO_FORK").is_some() => s.no_fork(),
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = server.serve_axum(router()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
