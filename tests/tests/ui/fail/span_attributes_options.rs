// #[derive(SpanAttributes)] options are read in the macros' one argument grammar: an option given
// twice (in one #[span(...)] or across two) is reported at the second, and each option's value
// has its shape.
#[derive(forkline::SpanAttributes)]
#[span(prefix = "a")]
#[span(prefix = "b", prefx = "c")]
struct Twice {
    #[span(skip, skip)]
    a: u64,
    #[span(name = "x")]
    #[span(name = "y")]
    b: u64,
    #[span(redact = true)]
    c: String,
    #[span(name = 42)]
    d: u64,
    #[span]
    e: u64,
}

fn main() {}
