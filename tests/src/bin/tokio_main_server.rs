//! The README's server written inside `#[tokio::main]`, the most common habit in Rust services:
//! `serve` must refuse at once, before any fork, and say what to write instead.

use forkline::Master;
use forkline_tests::fixture::{record, router};

#[forkline::pre_fork]
fn before_fork(master: &Master) {
    record(
        "pre_fork",
        &format!("worker={}", master.forking_worker().unwrap_or(usize::MAX)),
    );
}

#[tokio::main]
async fn main() {
    forkline_tests::fixture::serve_or_exit(router());
}
