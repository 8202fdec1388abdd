//! How evenly the workers share the load: 3 and 6 workers behind one socket, under a fixed load
//! of keep-alive connections for a fixed time, with the shared socket as it was (whichever
//! worker wakes first takes the connection, for good) and with forkline's balanced accept and
//! keep-alive limit, in the same run. Prints the requests each worker served (from the workers'
//! reports), the max/min ratio and the total requests/s.
//!
//! `cargo bench -p forkline-tests --bench worker_balance -- [SECONDS] [CONNECTIONS] [THREADS]`
//! (default 10 s, 8 connections, and each worker's runtime threads as forkline's default).
//! `pin=1` puts the server (master and workers) on core 0 and the load generator on core 1:
//! then the two methods are compared on what the server spends per request, not on how the
//! load generator and the workers happen to share two cores.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::load::Load;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");

/// `pin=1`: the server (master and workers) on core 0, the load generator on core 1.
static PINNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

struct Outcome {
    per_worker: Vec<u64>,
    per_second: f64,
}

fn run(
    workers: usize,
    balanced: bool,
    seconds: u64,
    connections: usize,
    threads: &str,
    settings: &[(&str, &str)],
) -> Outcome {
    let mut extra = vec![("FORKLINE_PROFILE", "production")];
    if balanced {
        extra.extend_from_slice(settings);
    } else {
        extra.push(("FORKLINE_BALANCED_ACCEPT", "false"));
        extra.push(("FORKLINE_MAX_REQUESTS_PER_CONNECTION", "0"));
        extra.push(("FORKLINE_REBALANCE_AFTER_MS", "0"));
    }
    if !threads.is_empty() {
        extra.push(("FORKLINE_WORKER_THREADS", threads));
    }
    if PINNED.load(std::sync::atomic::Ordering::Relaxed) {
        extra.push(("FIXTURE_PIN_CORE", "0"));
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

fn max_over_min(per_worker: &[u64]) -> f64 {
    let min = per_worker.first().copied().unwrap_or(0);
    let max = per_worker.last().copied().unwrap_or(0);
    if min == 0 {
        f64::INFINITY
    } else {
        max as f64 / min as f64
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let all: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // `NAME=value` arguments set the balanced server's variables, to compare settings;
    // `workers=2,3` picks the worker counts (default 3 and 6); `rounds=N` alternates shared and
    // balanced N times and prints the medians (runs on a 2-core VM vary a lot).
    let (settings, args): (Vec<String>, Vec<String>) =
        all.into_iter().partition(|a| a.contains('='));
    let pairs: Vec<(&str, &str)> = settings.iter().filter_map(|a| a.split_once('=')).collect();
    let own = |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let counts: Vec<usize> = own("workers")
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![3, 6]);
    let rounds: usize = own("rounds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let settings: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "workers" && *k != "rounds" && *k != "pin")
        .collect();
    if own("pin") == Some("1") {
        PINNED.store(true, std::sync::atomic::Ordering::Relaxed);
        forkline_tests::cpu::pin_to(1);
    }
    let seconds = args.first().and_then(|a| a.parse().ok()).unwrap_or(10);
    let connections = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(8);
    let threads = args.get(2).cloned().unwrap_or_default();
    println!(
        "worker_balance: {connections} keep-alive connections, {seconds} s per run, {rounds} \
         round(s), runtime threads per worker: {}, balanced settings: {settings:?}",
        if threads.is_empty() {
            "default"
        } else {
            &threads
        }
    );
    println!(
        "{:<8} {:<10} {:>10} {:>9}  requests per worker",
        "workers", "accept", "requests/s", "max/min"
    );
    for workers in counts {
        let (mut ratios, mut spreads, mut shared_spreads) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let mut baseline = 0.0;
            for balanced in [false, true] {
                let o = run(workers, balanced, seconds, connections, &threads, &settings);
                let spread = max_over_min(&o.per_worker);
                let vs = if balanced {
                    ratios.push(o.per_second / baseline);
                    spreads.push(spread);
                    format!(
                        " ({:.2}x the shared socket's rate)",
                        o.per_second / baseline
                    )
                } else {
                    baseline = o.per_second;
                    shared_spreads.push(spread);
                    String::new()
                };
                println!(
                    "{:<8} {:<10} {:>10.0} {:>9.2}  {:?}{vs}",
                    workers,
                    if balanced { "balanced" } else { "shared" },
                    o.per_second,
                    spread,
                    o.per_worker
                );
            }
        }
        if rounds > 1 {
            println!(
                "{workers} workers, median of {rounds}: balanced/shared rate {:.2}x; max/min \
                 balanced {:.2}, shared {:.2}",
                median(ratios),
                median(spreads),
                median(shared_spreads)
            );
        }
    }
}
