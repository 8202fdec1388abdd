// Every mistake in `metrics(...)` and `logs(...)` is reported at once, at its token.
#[forkline::post_fork(
    metrics(interval_ms = 0, temporality = "deltas", exporter = "prometheus", flush_ms = 5),
    logs(level = "info,h=loud", schedule_delay_ms = 900000, levle = "info")
)]
fn otel() {}

fn main() {}
