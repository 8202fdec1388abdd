#[forkline::post_fork]
struct Otel;

#[forkline::worker_init]
static INIT: u8 = 0;

fn main() {}
