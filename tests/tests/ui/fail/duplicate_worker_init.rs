#[forkline::worker_init]
fn first(_worker: &forkline::Worker) {}

mod elsewhere {
    #[forkline::worker_init(sentry(traces_sample_rate = 0.1))]
    fn second(_worker: &forkline::Worker) {}
}

fn main() {}
