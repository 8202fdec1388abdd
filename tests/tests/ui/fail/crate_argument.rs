// `crate = path` takes a path (or the path in a string), once.
#[forkline::post_fork(crate = 42)]
fn otel() {}

#[forkline::handler(crate)]
fn get() {}

#[forkline::handler(crate = "not a path", crate = forkline)]
fn list() {}

#[derive(forkline::SpanAttributes)]
#[span(crate = forkline::Worker())]
struct Order {
    id: u64,
}

fn main() {}
