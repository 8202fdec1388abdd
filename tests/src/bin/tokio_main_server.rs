//! The README's server written inside `#[tokio::main]`, the most common habit in Rust services:
//! `serve` must refuse at once, before any fork, and say what to write instead.

use forkline::Master;
use forkline_tests::fixture::router;

#[forkline::pre_fork]
fn before_fork(master: &Master) {
    forkline_tests::fixture::record_pre_fork(master);
}

#[tokio::main]
async fn main() {
    forkline_tests::fixture::serve_or_exit(router());
}
