// A literal that is not an integer number of milliseconds says so.
#[forkline::post_fork(metrics(interval_ms = "10s"), logs(schedule_delay_ms = 1500.5))]
fn otel() {}

fn main() {}
