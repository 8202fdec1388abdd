//! Requests lost to graceful restarts, the way they reach a service behind a load balancer:
//! keep-alive clients that send their next request as soon as they read an answer.
//!
//! `cargo bench -p forkline-tests --bench restarts -- [seconds=10]`
//!
//! For each scenario (a storm of 20 HUPs in 5 s, or `max_requests=300` recycling), each path
//! (straight to the server, or through nginx with upstream `keepalive 16`) and each client
//! (`wrk -t1 -c8` with POSTs, when `wrk` is installed; and 4 persistent connections of
//! back-to-back GETs that retry nothing, like Python's `http.client`), it prints the requests
//! answered and those that failed: wrk's socket errors and non-2xx answers, the persistent
//! clients' requests with no answer or a non-200 one, and nginx's 502/504s. The goal is 0 failed
//! everywhere. Two workers of two runtime threads each.
//!
//! Then what the drain costs a stop: the time from TERM to the master's exit with 8 busy
//! kept-alive connections (each is told to close on its next answer, so the drain ends at
//! once), with 8 kept-alive connections idle in a pool (they are held for the drain window,
//! 1 s by default), and with none.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{wait_until, Fixture};
use forkline_tests::load::{kept_idle, Load, Request};
use forkline_tests::nginx::Nginx;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy)]
enum Scenario {
    HupStorm,
    MaxRequests,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::HupStorm => "20 HUPs in 5 s",
            Self::MaxRequests => "max_requests=300",
        }
    }

    fn env(self) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![("FORKLINE_WORKER_THREADS", "2")];
        if let Self::MaxRequests = self {
            env.push(("FORKLINE_MAX_REQUESTS", "300"));
        }
        env
    }

    /// Drives the scenario while the clients run for `seconds`.
    fn drive(self, fx: &Fixture, seconds: u64) {
        let end = Instant::now() + Duration::from_secs(seconds);
        if let Self::HupStorm = self {
            std::thread::sleep(Duration::from_secs(1));
            for _ in 0..20 {
                fx.signal(libc::SIGHUP);
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
    }
}

/// What one client kind saw.
struct Seen {
    answered: u64,
    failed: u64,
    detail: String,
}

/// `wrk -t1 -c8` sending POSTs for `seconds`, while `scenario` runs.
fn wrk(addr: SocketAddr, seconds: u64, fx: &Fixture, scenario: Scenario) -> Option<Seen> {
    let script = std::env::temp_dir().join(format!("forkline-wrk-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = \"{\\\"order\\\":1}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )
    .ok()?;
    let child = Command::new("wrk")
        .args(["-t1", "-c8", &format!("-d{seconds}s"), "-s"])
        .arg(&script)
        .arg(format!("http://{addr}/work"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    scenario.drive(fx, seconds);
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let number_after = |label: &str| -> u64 {
        text.split(label)
            .nth(1)
            .and_then(|rest| {
                rest.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    };
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let socket_errors = number_after("connect ")
        + number_after("read ")
        + number_after("write ")
        + number_after("timeout ");
    let non_2xx = number_after("Non-2xx or 3xx responses:");
    Some(Seen {
        answered: requests - non_2xx.min(requests),
        failed: socket_errors + non_2xx,
        detail: format!("socket errors {socket_errors}, non-2xx {non_2xx}"),
    })
}

/// Four persistent connections of back-to-back GETs that retry nothing.
fn persistent(addr: SocketAddr, seconds: u64, fx: &Fixture, scenario: Scenario) -> Seen {
    let load = Load::sending(addr, 4, Request::get("/work", true));
    scenario.drive(fx, seconds);
    let (seen, _) = load.stop();
    Seen {
        answered: seen.ok,
        failed: seen.failed,
        detail: format!(
            "unanswered on a kept connection {}, non-200 {}",
            seen.unanswered_kept, seen.not_ok
        ),
    }
}

fn run(scenario: Scenario, through_nginx: bool, client: &str, seconds: u64) {
    let mut fx = quiet_server(BIN, "2", &scenario.env());
    let upstream = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let nginx = through_nginx.then(|| Nginx::start(upstream, 16));
    let addr = nginx.as_ref().map_or(upstream, |n| n.addr);
    let seen = match client {
        "wrk -c8 POST" => wrk(addr, seconds, &fx, scenario),
        _ => Some(persistent(addr, seconds, &fx, scenario)),
    };
    let path = if through_nginx { "nginx" } else { "direct" };
    match seen {
        Some(seen) => {
            let proxy = nginx.as_ref().map_or(String::new(), |n| {
                format!(
                    "; nginx: {:?}, upstream retries/failures {}",
                    n.statuses(),
                    n.upstream_failures()
                )
            });
            println!(
                "| {} | {path} | {client} | {} | {} | {}{proxy} |",
                scenario.name(),
                seen.answered,
                seen.failed,
                seen.detail
            );
        }
        None => println!(
            "| {} | {path} | {client} | - | - | wrk is not installed |",
            scenario.name()
        ),
    }
    let _ = wait_until(Duration::from_secs(60), || {
        let s = fx.stderr();
        (s.matches("its replacement is ready (HUP)").count()
            == s.matches("stopped after HUP").count())
        .then_some(())
    });
    fx.stop();
}

/// TERM to exit, with `connections` kept-alive connections that are `busy` (back-to-back
/// requests) or idle.
fn stop_time(connections: usize, busy: bool) -> Duration {
    let mut fx = quiet_server(BIN, "2", &Scenario::HupStorm.env());
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let request = Request::get("/work", true);
    let load = busy.then(|| Load::sending(addr, connections, request.clone()));
    let idle: Vec<_> = if busy {
        Vec::new()
    } else {
        (0..connections)
            .map(|_| kept_idle(addr, &request))
            .collect()
    };
    if let Some(load) = &load {
        let _ = wait_until(BOOT, || (load.so_far().ok >= 1000).then_some(()));
    }
    let took = fx.stop();
    drop(idle);
    if let Some(load) = load {
        load.stop();
    }
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    println!("restarts: {seconds} s per run, 2 workers of 2 runtime threads\n");
    println!("| scenario | path | client | answered | failed | detail |");
    println!("|---|---|---|---|---|---|");
    for scenario in [Scenario::HupStorm, Scenario::MaxRequests] {
        for through_nginx in [false, true] {
            for client in ["wrk -c8 POST", "4 persistent GET"] {
                run(scenario, through_nginx, client, seconds);
            }
        }
    }
    println!("\n| TERM to exit, median of 5 | ms |\n|---|---|");
    for (what, connections, busy) in [
        ("no connection", 0, false),
        ("8 busy kept-alive connections", 8, true),
        ("8 idle kept-alive connections", 8, false),
    ] {
        let took = median((0..5).map(|_| stop_time(connections, busy)).collect());
        println!("| {what} | {} |", took.as_millis());
    }
}
