#[forkline::post_fork(sampler = "always_on", ratio = 0.5, exporter = "embedded", endpoint = "http://127.0.0.1:4318")]
fn otel(_worker: &forkline::Worker) {}

fn main() {}
