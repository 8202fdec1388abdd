//! The server of the binary-upgrade test, built twice (`upgrade_v1`, `upgrade_v2`) so that the
//! test can put a new build in place of the running one: `/version` says which build answered.

use forkline::{Master, Worker};
use forkline_tests::fixture::{publish_addr, record, router};

#[forkline::when_ready]
fn ready(master: &Master) {
    publish_addr(master);
}

#[forkline::worker_init]
fn init(worker: &Worker) {
    record("worker_init", &format!("worker={}", worker.id()));
}

pub fn main(version: &'static str) {
    let app = router().route(
        "/version",
        axum::routing::get(move || std::future::ready(version)),
    );
    forkline_tests::fixture::serve_or_exit(app);
}
