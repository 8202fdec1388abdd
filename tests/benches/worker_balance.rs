//! How evenly the workers share the load: 3 and 6 workers behind one socket, under a fixed load
//! of keep-alive connections for a fixed time, with the shared socket as it was (whichever
//! worker wakes first takes the connection, for good) and with forkline's balanced accept and
//! keep-alive limit, in the same run. Prints the requests each worker served (from the workers'
//! reports), the max/min ratio and the total requests/s.
//!
//! `cargo bench -p forkline-tests --bench worker_balance -- [SECONDS] [CONNECTIONS] [THREADS]`
//! (default 10 s, 8 connections, and each worker's runtime threads as forkline's default).

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::load::Load;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");

struct Outcome {
    per_worker: Vec<u64>,
    per_second: f64,
}

fn run(workers: usize, balanced: bool, seconds: u64, connections: usize, threads: &str) -> Outcome {
    let mut extra = vec![("FORKLINE_PROFILE", "production")];
    if !balanced {
        extra.push(("FORKLINE_BALANCED_ACCEPT", "false"));
        extra.push(("FORKLINE_MAX_REQUESTS_PER_CONNECTION", "0"));
    }
    if !threads.is_empty() {
        extra.push(("FORKLINE_WORKER_THREADS", threads));
    }
    let mut fx = quiet_server(BIN, &workers.to_string(), &extra);
    let addr = fx.addr(Duration::from_secs(30));
    fx.wait_for_workers(workers, Duration::from_secs(30));

    let load = Load::start(addr, connections, true, "/work");
    // The measured period itself, not a wait for something to happen.
    std::thread::sleep(Duration::from_secs(seconds));
    let (seen, elapsed) = load.stop();
    assert_eq!(seen.failed, 0, "{seen:?}");
    fx.signal(libc::SIGTERM);
    let status = fx.wait_exit(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{}", fx.stderr());
    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    let mut per_worker: Vec<u64> = reports.iter().map(|r| r.serving.requests_served).collect();
    per_worker.sort_unstable();
    Outcome {
        per_worker,
        per_second: seen.ok as f64 / elapsed.as_secs_f64(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let connections = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let threads = args.get(2).cloned().unwrap_or_default();
    println!(
        "worker_balance: {connections} keep-alive connections, {seconds} s per run, runtime threads per worker: {}",
        if threads.is_empty() { "default" } else { &threads }
    );
    println!(
        "{:<8} {:<10} {:>10} {:>9}  requests per worker",
        "workers", "accept", "requests/s", "max/min"
    );
    for workers in [3, 6] {
        let mut baseline = 0.0;
        for balanced in [false, true] {
            let o = run(workers, balanced, seconds, connections, &threads);
            let min = o.per_worker.first().copied().unwrap_or(0);
            let max = o.per_worker.last().copied().unwrap_or(0);
            let ratio = if min == 0 {
                f64::INFINITY
            } else {
                max as f64 / min as f64
            };
            let vs = if balanced {
                format!(
                    " ({:.2}x the shared socket's rate)",
                    o.per_second / baseline
                )
            } else {
                baseline = o.per_second;
                String::new()
            };
            println!(
                "{:<8} {:<10} {:>10.0} {:>9.2}  {:?}{vs}",
                workers,
                if balanced { "balanced" } else { "shared" },
                o.per_second,
                ratio,
                o.per_worker
            );
        }
    }
}
