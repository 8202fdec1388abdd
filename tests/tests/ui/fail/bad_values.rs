#[forkline::post_fork(sampler = "sometimes", exporter = "zipkin", endpoint = "collector:4318")]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(propagators = "tracecontext,b3", sentry(dsn = "not-a-dsn", environment = ""))]
fn init(_worker: &forkline::Worker) {}

fn main() {}
