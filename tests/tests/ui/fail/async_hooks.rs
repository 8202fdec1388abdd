// Master hooks and post_fork run before any async runtime exists in their process.
#[forkline::post_fork]
async fn otel(_worker: &forkline::Worker) {}

#[forkline::on_starting]
async fn starting(_master: &forkline::Master) {}

#[forkline::child_exit]
async fn reaped(_master: &forkline::Master) {}

fn main() {}
