// Log levels are read the same way at compile time and at run time: `warning` is `warn`
// everywhere, and a word that is no level is refused everywhere, bare or in a directive.
#[forkline::post_fork(logs(level = "info,checkout=verbose"))]
fn otel() {}

#[forkline::handler]
fn get(id: u64) -> u64 {
    id
}

fn main() {}
