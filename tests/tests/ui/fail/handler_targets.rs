// #[handler] goes on functions that can carry a span.
#[forkline::handler]
struct NotAFunction;

#[forkline::handler]
const fn constant() -> u32 {
    1
}

fn main() {}
