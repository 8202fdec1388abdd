// A `crate = path` that does not resolve is one error, at the path, whatever the macro: no
// error about an attribute or a parameter of forkline's own follows.
#[forkline::handler(crate = forkln)]
fn get(id: u64) -> u64 {
    id
}

#[forkline::post_fork(crate = forkln)]
fn otel() {}

#[derive(forkline::SpanAttributes)]
#[span(crate = forkln)]
struct Order {
    id: u64,
}

fn main() {}
