#[forkline::post_fork]
fn otel(_worker: &forkline::Worker) -> u32 {
    0
}

#[forkline::on_starting]
fn starting(_master: &forkline::Master) -> impl std::fmt::Display {
    ""
}

#[forkline::when_ready]
fn ready(_master: &forkline::Master) -> Result<(), NotDisplay> {
    Ok(())
}

struct NotDisplay;

fn main() {}
