#[forkline::post_fork(ratio = 0.5, service_name = "a", ratio = 0.25)]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(sentry(traces_sample_rate = 1.0, traces_sample_rate = 0.5))]
fn init(_worker: &forkline::Worker) {}

fn main() {}
