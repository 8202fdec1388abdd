// A lifecycle hook on `main` would run `main` (and serve) again at that point.
#[forkline::post_fork]
fn main() {}
