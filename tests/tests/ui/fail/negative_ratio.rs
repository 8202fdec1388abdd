// A negative ratio is marked whole, sign and number.
#[forkline::post_fork(sampler = "traceidratio", ratio = -0.1)]
fn otel() {}

fn main() {}
