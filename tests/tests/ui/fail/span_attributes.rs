// #[derive(SpanAttributes)] misuse: keys, options, shapes, and a field that cannot be recorded.
struct Opaque;

#[derive(forkline::SpanAttributes)]
struct Request {
    #[span(name = "http.method")]
    method: String,
    #[span(name = "Not A Key")]
    other: String,
    #[span(skp)]
    typo: String,
    #[span(skip, redact)]
    both: String,
    opaque: Opaque,
}

#[derive(forkline::SpanAttributes)]
struct Tuple(u64);

#[derive(forkline::SpanAttributes)]
enum Kind {
    A,
}

fn main() {}
