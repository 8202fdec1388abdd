//! What a panic and a handler's error cost their request, the first in a fresh worker and warm,
//! under each Sentry setup, against Sentry off in the same run: one-worker servers of the
//! fixture, requests timed from outside on a kept connection path (`/work` first).
//!
//! The setups: Sentry off (`SENTRY_DSN=""`), local files (the embedded default), a healthy host,
//! a black-holed host. Per setup, two fresh servers: one times its first `/panic` then the
//! median of 10 more; the other its first `/err` (a `#[forkline::handler(err)]` error, with its
//! capture-site stack) then the median of 10 more. Medians of `ROUNDS` rounds of all that.
//!
//! ```text
//! cargo bench -p forkline-tests --bench first_panic [-- ROUNDS]                 # release
//! cargo bench -p forkline-tests --profile dev --bench first_panic [-- ROUNDS]   # debug
//! ```

use forkline_tests::faults::{Behaviour, FaultServer};
use forkline_tests::harness::{http_get, Fixture};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);
const WARM: usize = 10;

fn timed(addr: std::net::SocketAddr, path: &str, status: u16) -> Duration {
    let started = Instant::now();
    let (got, _) = http_get(addr, path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let took = started.elapsed();
    assert_eq!(got, status, "{path}");
    took
}

/// The first `path` in a fresh worker, then the median of `WARM` more.
fn first_and_warm(dsn: &str, path: &str, status: u16) -> (Duration, Duration) {
    let mut env = vec![("FORKLINE_WORKERS", "1"), ("RUST_BACKTRACE", "0")];
    // No DSN at all is the embedded default (local files); an empty one turns Sentry off.
    if dsn != "files" {
        env.push(("SENTRY_DSN", dsn));
    }
    let mut fx = Fixture::start(BIN, &env);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    timed(addr, "/work", 200);
    let first = timed(addr, path, status);
    let mut warm: Vec<Duration> = (0..WARM).map(|_| timed(addr, path, status)).collect();
    warm.sort();
    fx.stop();
    (first, warm[WARM / 2])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let healthy = FaultServer::start(Behaviour::Healthy);
    let hole = FaultServer::start(Behaviour::BlackHole);
    let setups = [
        ("Sentry off", String::new()),
        ("local files", "files".to_string()),
        ("healthy host", format!("http://k@{}/1", healthy.addr)),
        ("black-holed host", format!("http://k@{}/1", hole.addr)),
    ];
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("first_panic ({profile} build), median of {rounds} rounds, ms per request:\n");
    println!("| Sentry | first panic | warm panic | first handler error | warm handler error |");
    println!("|---|---|---|---|---|");
    let mut control = None;
    for (name, dsn) in &setups {
        let mut cells: [Vec<Duration>; 4] = Default::default();
        for _ in 0..rounds {
            let (first, warm) = first_and_warm(dsn, "/panic", 500);
            cells[0].push(first);
            cells[1].push(warm);
            let (first, warm) = first_and_warm(dsn, "/err", 500);
            cells[2].push(first);
            cells[3].push(warm);
        }
        let medians: Vec<Duration> = cells.into_iter().map(median).collect();
        let base = control.get_or_insert_with(|| medians.clone()).clone();
        let cell = |i: usize| {
            if *name == "Sentry off" {
                ms(medians[i])
            } else {
                format!(
                    "{} (+{})",
                    ms(medians[i]),
                    ms(medians[i].saturating_sub(base[i]))
                )
            }
        };
        println!(
            "| {name} | {} | {} | {} | {} |",
            cell(0),
            cell(1),
            cell(2),
            cell(3)
        );
    }
}
