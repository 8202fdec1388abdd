const RATIO: f64 = 0.5;
const NAME: &str = "checkout";
fn dsn() -> &'static str {
    ""
}

#[forkline::post_fork(ratio = RATIO, service_name = NAME)]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(sentry(dsn = dsn(), debug = cfg!(debug_assertions)))]
fn init(_worker: &forkline::Worker) {}

fn main() {}
