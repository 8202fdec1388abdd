#[forkline::post_fork(ratio = 1.5)]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(sentry(traces_sample_rate = -0.1, sample_rate = 2))]
fn init(_worker: &forkline::Worker) {}

#[forkline::worker_exit(deadline_ms = 0)]
fn bye(_worker: &forkline::Worker) {}

fn main() {}
