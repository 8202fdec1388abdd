// Sentry is initialised in worker_init; the OTel base is built in post_fork.
#[forkline::post_fork(sentry(dsn = env("SENTRY_DSN")), traces_sample_rate = 1.0, propagators = "tracecontext")]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(sampler = "always_on", dsn = env("SENTRY_DSN"), sentry(service_name = "x"))]
fn init(_worker: &forkline::Worker) {}

fn main() {}
