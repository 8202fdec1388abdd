// The hooks for Gunicorn's remaining points take only their own context, and are plain functions:
// `worker_int` and `worker_abort` run while the worker stops (`worker_abort` with its runtime stuck).
use forkline::{Master, Worker, WorkerExit, WorkersChanged};

#[forkline::on_reload]
fn reloading(_worker: &Worker) {}

#[forkline::nworkers_changed]
fn resized(_master: &Master, _exit: &WorkerExit) {}

#[forkline::nworkers_changed]
fn resized_by_value(_change: WorkersChanged) {}

#[forkline::nworkers_changed]
fn resized_by_numbers(_new: usize, _old: usize) {}

#[forkline::worker_int]
async fn interrupted(_worker: &Worker) {}

#[forkline::worker_int]
fn interrupted_in_master(_master: &Master) {}

#[forkline::worker_abort]
async fn aborted(_worker: &Worker) {}

#[forkline::worker_abort(deadline_ms = 100)]
fn aborted_with_arguments() {}

#[forkline::on_reload]
fn reload_returns() -> u32 {
    0
}

fn main() {}
