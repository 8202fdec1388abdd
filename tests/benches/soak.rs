//! Soak: a pre-fork server under steady load for a bounded time while a fault script kills
//! random workers (KILL), sends HUP, TTIN and TTOU, blocks a worker's only runtime thread (its
//! timeout aborts it), and takes the OTLP collector and the Sentry host down and back up. Then it
//! stops the server and prints requests served, request errors, the longest request, worker exits
//! by cause, and the spans: created = delivered + dropped + lost with killed workers, summed over
//! every worker (the master's report, which reads each worker's counters from the shared
//! scoreboard, killed ones included), beside what the collector received. It exits non-zero if
//! the spans do not add up exactly or a worker that exited by itself left spans unaccounted.
//!
//! `cargo bench -p forkline-tests --bench soak -- [SECONDS=180] [WORKERS=4] [SEED=1]`

use forkline_tests::faults::{Behaviour, FaultServer};
use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{http_get, signal_pid, wait_until};
use forkline_tests::load::Load;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");

/// A backend that goes down and comes back on the same port, counting what every incarnation
/// received.
struct Flaky {
    addr: SocketAddr,
    server: Option<FaultServer>,
    spans_before: usize,
    accepted_before: usize,
    outages: u32,
}

impl Flaky {
    fn start() -> Self {
        let server = FaultServer::start(Behaviour::Healthy);
        Self {
            addr: server.addr,
            server: Some(server),
            spans_before: 0,
            accepted_before: 0,
            outages: 0,
        }
    }

    fn down(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop();
            self.spans_before += server.span_ids().len();
            self.accepted_before += server.delivered();
            self.outages += 1;
        }
    }

    fn up(&mut self) {
        if self.server.is_none() {
            self.server = Some(FaultServer::start_on(self.addr, Behaviour::Healthy));
        }
    }

    fn is_up(&self) -> bool {
        self.server.is_some()
    }

    /// OTLP spans in requests answered with 200, over every incarnation.
    fn spans(&self) -> usize {
        self.spans_before + self.server.as_ref().map_or(0, |s| s.span_ids().len())
    }

    /// Requests answered with 200, over every incarnation.
    fn accepted(&self) -> usize {
        self.accepted_before + self.server.as_ref().map_or(0, FaultServer::delivered)
    }
}

/// A tiny deterministic generator (xorshift): the same seed gives the same fault script.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn live_workers(fx: &forkline_tests::harness::Fixture) -> Vec<u32> {
    fx.booted_workers()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit_once(") ")
                    .is_some_and(|(_, r)| !r.starts_with('Z'))
            })
        })
        .collect()
}

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .filter(|a| !a.starts_with('-'))
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = arg(1, 180);
    let workers = arg(2, 4);
    let mut dice = Dice(arg(3, 1).max(1) * 0x9E37_79B9_7F4A_7C15);
    let mut collector = Flaky::start();
    let mut sentry = Flaky::start();
    let endpoint = format!("http://{}", collector.addr);
    let dsn = format!("http://public@{}/1", sentry.addr);
    let workers_s = workers.to_string();
    let mut fx = quiet_server(
        BIN,
        &workers_s,
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("SENTRY_DSN", &dsn),
            // Every request's spans, so the span figures can be checked against the requests.
            ("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
            ("SENTRY_TRACES_SAMPLE_RATE", "0.01"),
            ("FORKLINE_WORKER_THREADS", "1"),
            ("FORKLINE_TIMEOUT_MS", "2000"),
            ("FORKLINE_GRACEFUL_TIMEOUT_MS", "5000"),
            // Random kills right after a boot are not a crash loop to stop for.
            ("FORKLINE_CRASH_LOOP_LIMIT", "0"),
        ],
    );
    let boot = Duration::from_secs(60);
    let addr = fx.addr(boot);
    fx.wait_for_workers(workers as usize, boot);
    println!("soak: {workers} workers, {seconds} s, faults every 1-3 s");

    let kept = Load::start(addr, 6, true, "/work");
    let fresh = Load::start(addr, 2, false, "/work");
    // Sentry traffic: /fail answers 500 and captures an error event.
    let stop = Arc::new(AtomicBool::new(false));
    let (fails_sent, fail_errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let sentry_client = {
        let (stop, sent, errors) = (stop.clone(), fails_sent.clone(), fail_errors.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match http_get(addr, "/fail") {
                    Ok((500, _)) => sent.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let started = Instant::now();
    let end = started + Duration::from_secs(seconds);
    let mut target = workers;
    let mut faults: Vec<(&str, u32)> = [
        "kill",
        "hup",
        "ttin",
        "ttou",
        "block",
        "otlp down",
        "sentry down",
    ]
    .iter()
    .map(|&f| (f, 0))
    .collect();
    let mut backend_back_at: Vec<(Instant, bool)> = Vec::new();
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(1000 + dice.below(2000)));
        let now = Instant::now();
        backend_back_at.retain(|&(at, is_collector)| {
            if now < at {
                return true;
            }
            if is_collector {
                collector.up();
            } else {
                sentry.up();
            }
            false
        });
        let pick = dice.below(faults.len() as u64) as usize;
        let live = live_workers(&fx);
        let done = match faults[pick].0 {
            "kill" if !live.is_empty() => {
                signal_pid(live[dice.below(live.len() as u64) as usize], libc::SIGKILL);
                true
            }
            "hup" => {
                fx.signal(libc::SIGHUP);
                true
            }
            "ttin" if target < workers + 2 => {
                target += 1;
                fx.signal(libc::SIGTTIN);
                true
            }
            "ttou" if target > workers.saturating_sub(1).max(1) => {
                target -= 1;
                fx.signal(libc::SIGTTOU);
                true
            }
            "block" => {
                // Blocks the one runtime thread of whichever worker takes it: its timeout
                // aborts it. The client sees its connection die; that is the point.
                std::thread::spawn(move || {
                    let _ = http_get(addr, "/block");
                });
                true
            }
            "otlp down" if collector.is_up() => {
                collector.down();
                backend_back_at.push((now + Duration::from_millis(2000 + dice.below(4000)), true));
                true
            }
            "sentry down" if sentry.is_up() => {
                sentry.down();
                backend_back_at.push((now + Duration::from_millis(2000 + dice.below(4000)), false));
                true
            }
            _ => false,
        };
        if done {
            faults[pick].1 += 1;
        }
    }
    collector.up();
    sentry.up();
    stop.store(true, Ordering::Relaxed);
    let _ = sentry_client.join();
    let (kept, _) = kept.stop();
    let (fresh, ran) = fresh.stop();
    // Let the pipelines deliver what the outages held before the server stops.
    std::thread::sleep(Duration::from_secs(2));
    fx.signal(libc::SIGTERM);
    let status = fx.wait_exit(Duration::from_secs(60));
    let reports = forkline::read_master_reports(&fx.run_dir()).expect("the master's report");
    let report = reports.first().expect("a master report");
    let worker_reports = forkline::read_reports(&fx.run_dir()).unwrap_or_default();
    let sentry_events: u64 = worker_reports
        .iter()
        .filter_map(|r| r.sentry.as_ref())
        .map(|h| h.delivered)
        .sum();

    let requests = kept.ok + fresh.ok;
    let errors = kept.failed + fresh.failed;
    println!("ran {:.0} s; master exit {status:?}", ran.as_secs_f64());
    println!(
        "faults: {}",
        faults
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "requests: {requests} served ({:.0}/s), {errors} errors (requests in flight on a killed \
         or aborted worker), {} refused connects, longest {:.1} ms; /fail: {} answered, {} errors",
        requests as f64 / ran.as_secs_f64(),
        kept.refused + fresh.refused,
        kept.longest_ok_us.max(fresh.longest_ok_us) as f64 / 1000.0,
        fails_sent.load(Ordering::Relaxed),
        fail_errors.load(Ordering::Relaxed),
    );
    let e = report.exits;
    println!(
        "workers: {} started; exits: stopped {}, HUP {}, TTOU {}, recycled {}, timeout {}, killed \
         {}, crashes {}, boot failures {}",
        report.workers_started,
        e.stopped,
        e.replaced_by_hup,
        e.fewer_by_ttou,
        e.recycled,
        e.timed_out,
        e.killed,
        e.crashed,
        e.boot_failed
    );
    let s = report.spans;
    // /work makes three spans (the layer's, the fixture's server span and its child), /fail two.
    println!(
        "spans per request answered (workers' count, killed ones included): {:.3}",
        s.created as f64 / report.requests_served.max(1) as f64
    );
    println!(
        "spans: {} created = {} delivered + {} dropped + {} lost with killed workers + {} \
         unaccounted; the collector received {} ({} outages); Sentry: {} envelopes delivered, \
         the host took {} ({} outages)",
        s.created,
        s.delivered,
        s.dropped,
        s.lost_with_killed_workers,
        s.unaccounted,
        collector.spans(),
        collector.outages,
        sentry_events,
        sentry.accepted(),
        sentry.outages,
    );
    let mut broken = Vec::new();
    if s.created != s.delivered + s.dropped + s.lost_with_killed_workers + s.unaccounted {
        broken.push("created != delivered + dropped + lost + unaccounted");
    }
    if s.unaccounted != 0 {
        broken.push("a worker that exited by itself left spans unaccounted");
    }
    if (collector.spans() as u64) < s.delivered {
        broken.push("the collector received fewer spans than the workers counted delivered");
    }
    if e.total() != report.workers_started {
        broken.push("not every worker started was reaped and counted");
    }
    if !status.is_some_and(|s| s.success()) {
        broken.push("the master did not stop cleanly");
    }
    wait_until(Duration::from_secs(5), || {
        live_workers(&fx).is_empty().then_some(())
    });
    if !live_workers(&fx).is_empty() {
        broken.push("workers left running");
    }
    if broken.is_empty() {
        println!("accounting: exact");
    } else {
        println!("BROKEN: {}", broken.join("; "));
        std::process::exit(1);
    }
}
