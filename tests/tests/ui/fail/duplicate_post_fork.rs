#[forkline::post_fork(service_name = "a")]
fn first(_worker: &forkline::Worker) {}

#[forkline::post_fork(service_name = "b")]
fn second(_worker: &forkline::Worker) {}

fn main() {}
