//! Export throughput with a healthy backend: a fast local OTLP/HTTP sink that decodes every
//! request and counts spans (pinned to core 1), a paced span load (pinned to core 0), and the
//! plain SDK (batch processor + OTLP exporter, default settings) and forkline's guarded pipeline
//! (its defaults) measured in the same run.
//!
//!     cargo bench -p forkline-tests --bench export_throughput [-- SECONDS]
//!
//! For each rate: spans created, delivered (decoded by the sink), dropped (created − delivered:
//! the plain SDK does not count them) after a flush. Then an unpaced run gives the delivered
//! ceiling (spans/s delivered until the flush completes).

use forkline::opentelemetry::trace::{Span as _, Tracer, TracerProvider};
use forkline_tests::pipelines;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_sdk::trace::SdkTracerProvider;
use prost::Message;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity only read/write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The sink: HTTP/1.1 keep-alive, decode, count, answer 200.
fn sink() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let spans = Arc::new(AtomicU64::new(0));
    let counter = spans.clone();
    std::thread::spawn(move || {
        pin_to(1);
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || {
                pin_to(1);
                serve(stream, &counter);
            });
        }
    });
    (addr, spans)
}

fn serve(stream: TcpStream, spans: &AtomicU64) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(request) = ExportTraceServiceRequest::decode(body.as_slice()) {
            let n: usize = request
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum();
            spans.fetch_add(n as u64, Ordering::Relaxed);
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

struct Run {
    created: u64,
    delivered: u64,
    seconds: f64,
}

/// Creates spans at `rate` per second (0: as fast as possible) for `secs`, then flushes.
fn run(provider: SdkTracerProvider, delivered: &AtomicU64, rate: u64, secs: f64) -> Run {
    let tracer = provider.tracer("throughput");
    let before = delivered.load(Ordering::Relaxed);
    let start = Instant::now();
    let duration = Duration::from_secs_f64(secs);
    let mut created = 0u64;
    while start.elapsed() < duration {
        if rate > 0 {
            let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
            if created >= due {
                std::hint::spin_loop();
                continue;
            }
        }
        let mut span = tracer.start("load");
        span.end();
        created += 1;
    }
    let _ = provider.force_flush();
    let _ = provider.shutdown_with_timeout(Duration::from_secs(30));
    Run {
        created,
        delivered: delivered.load(Ordering::Relaxed) - before,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Builds a span pipeline exporting to a sink.
type Build = fn(SocketAddr) -> SdkTracerProvider;

/// The pipelines compared, in the order printed.
const PIPELINES: [(&str, Build); 2] = [
    ("plain", pipelines::plain),
    ("forkline", pipelines::forkline),
];

fn main() {
    let secs: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2.0);
    let (addr, delivered) = sink();
    pin_to(0);
    println!("export throughput, healthy local OTLP sink (sink on core 1, load on core 0), {secs} s per run");
    println!(
        "{:>10} {:>10} {:>12} {:>12} {:>10} {:>8}",
        "pipeline", "rate/s", "created", "delivered", "dropped", "drop %"
    );
    let mut zero_drop = [0u64; 2];
    for rate in [65_000u64, 100_000, 130_000, 160_000, 200_000] {
        for (i, (name, build)) in PIPELINES.iter().enumerate() {
            let r = run(build(addr), &delivered, rate, secs);
            let dropped = r.created.saturating_sub(r.delivered);
            if dropped == 0 {
                zero_drop[i] = zero_drop[i].max(rate);
            }
            println!(
                "{name:>10} {rate:>10} {:>12} {:>12} {dropped:>10} {:>7.2}%",
                r.created,
                r.delivered,
                dropped as f64 * 100.0 / r.created.max(1) as f64
            );
        }
    }
    let mut ceiling = [0f64; 2];
    for (i, (name, build)) in PIPELINES.iter().enumerate() {
        let r = run(build(addr), &delivered, 0, secs);
        ceiling[i] = r.delivered as f64 / r.seconds;
        println!(
            "{name:>10} {:>10} {:>12} {:>12} {:>10}   delivered {:.0} spans/s (unpaced)",
            "max",
            r.created,
            r.delivered,
            r.created.saturating_sub(r.delivered),
            ceiling[i]
        );
    }
    println!(
        "zero drops up to: plain {} /s, forkline {} /s (ratio {:.2})",
        zero_drop[0],
        zero_drop[1],
        zero_drop[1] as f64 / zero_drop[0].max(1) as f64
    );
    println!(
        "delivered ceiling: plain {:.0} /s, forkline {:.0} /s (ratio {:.2})",
        ceiling[0],
        ceiling[1],
        ceiling[1] / ceiling[0].max(1.0)
    );
}
