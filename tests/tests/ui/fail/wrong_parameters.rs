#[forkline::post_fork]
fn otel(_master: &forkline::Master) {}

#[forkline::pre_fork]
fn before(_count: u32) {}

#[forkline::worker_init]
fn init(_worker: &mut forkline::Worker) {}

#[forkline::worker_exit]
fn bye(_worker: forkline::Worker) {}

#[forkline::child_exit]
fn reaped(_master: &forkline::Master, _again: &forkline::Master) {}

struct Server;
impl Server {
    #[forkline::on_exit]
    fn leaving(&self) {}
}

fn main() {}
