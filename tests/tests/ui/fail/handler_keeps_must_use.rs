// The instrumented function keeps its attributes: `#[must_use]` still warns (denied here).
#![deny(unused_must_use)]

#[forkline::handler]
#[must_use]
fn total(a: u64, b: u64) -> u64 {
    a + b
}

fn main() {
    total(1, 2);
}
