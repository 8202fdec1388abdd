// The signature check goes by name; the generated call checks the real type.
mod mine {
    pub struct Worker;
}

#[forkline::post_fork]
fn otel(_worker: &mine::Worker) {}

fn main() {}
