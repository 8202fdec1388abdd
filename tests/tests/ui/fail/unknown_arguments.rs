#[forkline::post_fork(servce_name = "checkout")]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(sentry(dns = env("SENTRY_DSN")))]
fn init(_worker: &forkline::Worker) {}

#[forkline::worker_exit(deadline = 2000)]
fn bye(_worker: &forkline::Worker) {}

#[forkline::on_starting(verbose)]
fn starting(_master: &forkline::Master) {}

fn main() {}
