// `warning` is `warn`, bare and in a directive, as `RUST_LOG` reads it at run time.
#[forkline::post_fork(logs(level = "warning,checkout=warning"))]
fn otel() {}

fn main() {}
