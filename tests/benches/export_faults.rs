//! A span loop under each backend fault, for the plain SDK (batch processor + OTLP exporter,
//! defaults) and for forkline's guarded pipeline (its defaults), in the same run. Each scenario
//! runs in its own forked child (its own threads, its own peak RSS) against a fault server on
//! 127.0.0.1 started in that child.
//!
//!     cargo bench -p forkline-tests --bench export_faults [-- SECONDS]
//!
//! Printed per scenario: span start+end p50 / p99 / max, CPU seconds of the export thread(s),
//! peak RSS, shutdown time (5 s budget), spans created / delivered (acknowledged by the server)
//! / dropped (created − delivered), and the ratios forkline / plain.

use forkline::opentelemetry::trace::{Span as _, Tracer, TracerProvider};
use forkline_tests::faults::{refusing_addr, Behaviour, FaultServer};
use forkline_tests::pipelines;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

const RATE: u64 = 2_000; // spans per second

/// CPU seconds of this process's threads whose name starts with one of `prefixes`.
fn thread_cpu(prefixes: &[&str]) -> f64 {
    let ticks = 100.0; // USER_HZ
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !prefixes.iter().any(|p| comm.trim().starts_with(p)) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the ")" of the command: state is 3rd, utime 14th, stime 15th overall.
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        total += (utime + stime) / ticks;
    }
    total
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn scenario(fault: &str, pipeline: &str, secs: f64) -> Value {
    let server = match fault {
        "healthy" => Some(FaultServer::start(Behaviour::Healthy)),
        "black hole" => Some(FaultServer::start(Behaviour::BlackHole)),
        "slow 2 s" => Some(FaultServer::start(Behaviour::Slow(Duration::from_secs(2)))),
        "503 + Retry-After" => Some(FaultServer::start(Behaviour::Status {
            code: 503,
            retry_after: Some("1".into()),
            sentry_limits: None,
        })),
        _ => None,
    };
    let addr = server
        .as_ref()
        .map(|s| s.addr)
        .unwrap_or_else(refusing_addr);
    let provider = if pipeline == "plain" {
        pipelines::plain(addr)
    } else {
        pipelines::forkline(addr)
    };
    let tracer = provider.tracer("faults");
    let mut latencies = Vec::new();
    let start = Instant::now();
    let duration = Duration::from_secs_f64(secs);
    let mut created = 0u64;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * RATE as f64) as u64;
        while created < due {
            let t = Instant::now();
            tracer.start("handler").end();
            latencies.push(t.elapsed());
            created += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let cpu = thread_cpu(&["OpenTelemetry", "forkline-otlp", "reqwest"]);
    let t = Instant::now();
    let _ = provider.shutdown_with_timeout(Duration::from_secs(5));
    let shutdown = t.elapsed();
    let delivered = server
        .as_ref()
        .map(|s| s.span_ids().len() as u64)
        .unwrap_or(0);
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    json!({
        "p50_us": pct(0.5), "p99_us": pct(0.99), "max_us": pct(1.0),
        "cpu_s": cpu, "rss_mib": peak_rss_mib(), "shutdown_ms": shutdown.as_secs_f64() * 1e3,
        "created": created, "delivered": delivered, "dropped": created.saturating_sub(delivered),
    })
}

fn in_child(fault: &str, pipeline: &str, secs: f64) -> Value {
    let mut fds = [0; 2];
    // SAFETY: a valid array for pipe(2).
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the parent has no threads of its own at this point; the child only runs `scenario`.
    match unsafe { libc::fork() } {
        0 => {
            let result = scenario(fault, pipeline, secs).to_string();
            // SAFETY: the child's write end.
            let mut w = unsafe { std::fs::File::from_raw_fd(fds[1]) };
            let _ = w.write_all(result.as_bytes());
            drop(w);
            // SAFETY: exit without joining export threads a fault may have stuck.
            unsafe { libc::_exit(0) }
        }
        pid if pid > 0 => {
            // SAFETY: the parent closes its write end and owns the read end.
            unsafe { libc::close(fds[1]) };
            let mut r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
            let mut out = String::new();
            let _ = r.read_to_string(&mut out);
            let mut status = 0;
            // SAFETY: waits for the child just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            serde_json::from_str(&out).unwrap_or(Value::Null)
        }
        _ => panic!("fork failed"),
    }
}

fn main() {
    let secs: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(3.0);
    println!("span loop at {RATE} spans/s for {secs} s under each fault; each scenario in its own process");
    println!(
        "{:<18} {:<9} {:>8} {:>8} {:>9} {:>7} {:>8} {:>10} {:>8} {:>9} {:>8}",
        "fault",
        "pipeline",
        "p50 µs",
        "p99 µs",
        "max µs",
        "cpu s",
        "RSS MiB",
        "shutdown",
        "created",
        "delivered",
        "dropped"
    );
    for fault in [
        "healthy",
        "refused",
        "black hole",
        "slow 2 s",
        "503 + Retry-After",
    ] {
        let mut row = Vec::new();
        for pipeline in ["plain", "forkline"] {
            let r = in_child(fault, pipeline, secs);
            println!(
                "{fault:<18} {pipeline:<9} {:>8.2} {:>8.2} {:>9.1} {:>7.3} {:>8.1} {:>8.0}ms {:>8} {:>9} {:>8}",
                r["p50_us"].as_f64().unwrap_or(0.0),
                r["p99_us"].as_f64().unwrap_or(0.0),
                r["max_us"].as_f64().unwrap_or(0.0),
                r["cpu_s"].as_f64().unwrap_or(0.0),
                r["rss_mib"].as_f64().unwrap_or(0.0),
                r["shutdown_ms"].as_f64().unwrap_or(0.0),
                r["created"], r["delivered"], r["dropped"]
            );
            row.push(r);
        }
        let ratio = |k: &str| {
            row[1][k].as_f64().unwrap_or(0.0) / row[0][k].as_f64().unwrap_or(1.0).max(1e-9)
        };
        println!(
            "{:<18} {:<9} {:>8.2} {:>8.2} {:>9.2} {:>7.2} {:>8.2} {:>9.2}   (ratios forkline / plain)",
            "", "ratio", ratio("p50_us"), ratio("p99_us"), ratio("max_us"), ratio("cpu_s"), ratio("rss_mib"), ratio("shutdown_ms")
        );
    }
}
