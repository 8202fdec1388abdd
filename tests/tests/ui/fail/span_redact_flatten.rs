// Two options that contradict each other: the error is at the second one.
#[derive(forkline::SpanAttributes)]
struct Inner {
    id: u64,
}

#[derive(forkline::SpanAttributes)]
struct Order {
    #[span(redact, flatten)]
    inner: Inner,
}

fn main() {}
