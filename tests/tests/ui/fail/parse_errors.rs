// A syntax error in a function is reported as that syntax error, at its place, not as a misplaced
// attribute: a body is left to rustc (the hook and the handler still expand, so nothing else
// breaks); a signature gets syn's error beside rustc's, the item being kept. Only an item that is
// not a function gets "goes on a function" (`not_a_function.rs`, `handler_targets.rs`).
#[forkline::post_fork]
fn otel(_worker: &forkline::Worker) {
    let = 1;
}

#[forkline::handler]
fn get(id: u64) -> u64 {
    id +
}

#[forkline::worker_init]
fn init(_worker: &forkline::Worker,,) {}

#[forkline::handler(name = "x")]
async fn list(page u32) -> Vec<u32> {
    vec![page]
}

fn main() {}
