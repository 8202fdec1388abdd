// The guard's parameters: each path knows its own, values are checked and related.
#[forkline::post_fork(guard(max_retries = 3, breaker_falures = 2, attempt_timeout_ms = 0, queue_capacity = -1))]
fn otel(_worker: &forkline::Worker) {}

#[forkline::worker_init(
    guard(attempt_timeout_ms = 1000),
    sentry(guard(buffer_budget_bytes = 1024, backoff_base_ms = 5000, backoff_cap_ms = 100,
                 connect_timeout_ms = 3000, attempt_timeout_ms = 2000, breaker_cooldown_ms = 3600000)),
)]
fn init(_worker: &forkline::Worker) {}

#[forkline::worker_exit(deadline_ms = 1000)]
fn exit(_worker: &forkline::Worker) {}

fn main() {

}
