#[forkline::worker_init]
fn init<T: Default>(_worker: &forkline::Worker) {}

#[forkline::worker_exit]
fn bye<'a>(_worker: &'a forkline::Worker) {}

#[forkline::on_starting]
const fn starting(_master: &forkline::Master) {}

#[forkline::pre_fork]
unsafe fn before(_master: &forkline::Master) {}

#[forkline::on_exit]
extern "C" fn leaving() {}

fn main() {}
