//! Worker boot: the telemetry setup a freshly forked worker runs before it can serve, for the
//! plain SDK stack and for forkline, measured in the same run over many real forks.
//!
//!     cargo bench -p forkline-tests --bench worker_boot [-- FORKS]
//!
//! Plain: OTLP/HTTP exporter + batch processor + provider, `sentry::init` with its default
//! transport, Sentry span processor and propagator — all built after fork, as they must be.
//! forkline: the same pipeline through `post_fork`/`worker_init`'s generated setup, with the
//! HTTP clients (and their TLS trust store) prepared once in the parent before forking. With an
//! endpoint, forkline sets up all three signals by default; what each costs at boot is measured
//! too, from traces alone (what the plain stack sets up) to traces, metrics and logs.
//! Nothing connects: the endpoints are never contacted during boot.

use forkline::manual::{self, ProcessIdentity};
use forkline::opentelemetry::global;
use forkline::{config::Env, config::TelemetryConfig, Telemetry};
use opentelemetry_otlp::WithExportConfig;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

const ENDPOINT: &str = "http://127.0.0.1:9";
const DSN: &str = "http://publickey@127.0.0.1:9/1";

fn plain() {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{ENDPOINT}/v1/traces"))
        .build()
        .expect("exporter");
    // In the right order: Sentry first, so its span processor registers with a live hub.
    std::mem::forget(sentry::init((
        DSN,
        sentry::ClientOptions::new().traces_sample_rate(1.0),
    )));
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_span_processor(sentry::integrations::opentelemetry::SentrySpanProcessor::new())
        .build();
    global::set_tracer_provider(provider);
    global::set_text_map_propagator(sentry::integrations::opentelemetry::SentryPropagator::new());
}

/// Returns how long `post_fork`'s part took; `worker_init`'s is the rest.
fn forkline(config: &TelemetryConfig) -> Duration {
    let started = Instant::now();
    forkline_post_fork(config);
    let post_fork = started.elapsed();
    forkline_worker_init(config);
    post_fork
}

/// `post_fork`'s generated part: the OTel base.
fn forkline_post_fork(config: &TelemetryConfig) {
    let who = ProcessIdentity::new(Some(0), "bench");
    manual::install_otel(config, &who).expect("OTel base");
}

/// `worker_init`'s generated part: Sentry, its span processor, the propagators.
fn forkline_worker_init(config: &TelemetryConfig) {
    assert!(manual::init_sentry(config, std::process::id()).expect("sentry"));
    manual::bind_sentry_span_processor().expect("bind");
    manual::install_propagators(&config.propagators);
}

/// Forks `n` children; each runs `setup` once and reports how long it took, and how long its
/// first part took (what `setup` returns).
fn measure(n: usize, setup: &dyn Fn() -> Duration) -> Vec<(Duration, Duration)> {
    (0..n)
        .map(|_| {
            let mut fds = [0; 2];
            // SAFETY: a valid two-element array for pipe(2).
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            // SAFETY: the parent is single-threaded here (no telemetry is ever set up in it).
            match unsafe { libc::fork() } {
                0 => {
                    let started = Instant::now();
                    let part = setup().as_micros() as u64;
                    let micros = started.elapsed().as_micros() as u64;
                    // SAFETY: the write end of the pipe, owned by this child.
                    let mut w = unsafe { std::fs::File::from_raw_fd(fds[1]) };
                    let _ = w.write_all(&[micros.to_le_bytes(), part.to_le_bytes()].concat());
                    // SAFETY: _exit has no preconditions; no destructor may run in the child.
                    unsafe { libc::_exit(0) }
                }
                pid if pid > 0 => {
                    // SAFETY: the parent's copy of the write end is closed; the read end is owned here.
                    unsafe { libc::close(fds[1]) };
                    let mut r = unsafe { std::fs::File::from_raw_fd(fds[0]) };
                    let mut buf = [0u8; 16];
                    r.read_exact(&mut buf).expect("a timing from the child");
                    let mut status = 0;
                    // SAFETY: waits for the child just forked.
                    unsafe { libc::waitpid(pid, &mut status, 0) };
                    let micros = |b: &[u8]| {
                        Duration::from_micros(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    };
                    (micros(&buf[..8]), micros(&buf[8..]))
                }
                _ => panic!("fork failed"),
            }
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let forks: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    let config_of = |metrics: &str, logs: &str| {
        let env = Env::from_pairs([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", ENDPOINT),
            ("SENTRY_DSN", DSN),
            ("SENTRY_TRACES_SAMPLE_RATE", "1.0"),
            ("OTEL_METRICS_EXPORTER", metrics),
            ("OTEL_LOGS_EXPORTER", logs),
        ]);
        let mut config = TelemetryConfig::from_env(&env, &Telemetry::new()).expect("config");
        let prepare = Instant::now();
        config.prepare().expect("prepare");
        (config, prepare.elapsed())
    };
    let (config, prepare) = config_of("otlp", "otlp");
    let (traces_only, _) = config_of("none", "none");
    let (with_metrics, _) = config_of("otlp", "none");

    // Interleaved rounds, so that machine noise hits both alike.
    let (mut plain_t, mut ours_t) = (Vec::new(), Vec::new());
    let (mut traces_t, mut metrics_t) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        plain_t.extend(measure(forks / 3, &|| {
            plain();
            Duration::ZERO
        }));
        ours_t.extend(measure(forks / 3, &|| forkline(&config)));
        traces_t.extend(measure(forks / 3, &|| forkline(&traces_only)));
        metrics_t.extend(measure(forks / 3, &|| forkline(&with_metrics)));
    }
    let median_ms = |runs: &[(Duration, Duration)]| {
        let mut all: Vec<Duration> = runs.iter().map(|(all, _)| *all).collect();
        all.sort();
        percentile(&all, 0.5).as_secs_f64() * 1e3
    };
    let (traces_ms, metrics_ms, all_ms) = (
        median_ms(&traces_t),
        median_ms(&metrics_t),
        median_ms(&ours_t),
    );
    // Where forkline's time goes, measured in the same children.
    let mut post: Vec<Duration> = ours_t.iter().map(|(_, post)| *post).collect();
    let mut init: Vec<Duration> = ours_t.iter().map(|(all, post)| *all - *post).collect();
    let mut plain_t: Vec<Duration> = plain_t.into_iter().map(|(all, _)| all).collect();
    let mut ours_t: Vec<Duration> = ours_t.into_iter().map(|(all, _)| all).collect();
    plain_t.sort();
    ours_t.sort();
    post.sort();
    init.sort();
    let (p50, o50) = (percentile(&plain_t, 0.5), percentile(&ours_t, 0.5));
    println!(
        "worker boot, telemetry setup after fork ({} forks each, interleaved)",
        plain_t.len()
    );
    println!(
        "  plain SDK stack : median {:>9.3} ms   p90 {:>9.3} ms",
        p50.as_secs_f64() * 1e3,
        percentile(&plain_t, 0.9).as_secs_f64() * 1e3
    );
    println!(
        "  forkline        : median {:>9.3} ms   p90 {:>9.3} ms",
        o50.as_secs_f64() * 1e3,
        percentile(&ours_t, 0.9).as_secs_f64() * 1e3
    );
    println!(
        "  ratio forkline/plain (median): {:.3}",
        o50.as_secs_f64() / p50.as_secs_f64()
    );
    println!(
        "  one-time preparation in the parent (not per worker): {:.3} ms",
        prepare.as_secs_f64() * 1e3
    );
    println!(
        "  forkline parts (medians, same children): post_fork {:.3} ms, worker_init {:.3} ms",
        percentile(&post, 0.5).as_secs_f64() * 1e3,
        percentile(&init, 0.5).as_secs_f64() * 1e3
    );
    println!(
        "  forkline by signal (medians): traces {traces_ms:.3} ms (ratio {:.3}), + metrics {:+.3} ms, + logs {:+.3} ms",
        traces_ms / (p50.as_secs_f64() * 1e3),
        metrics_ms - traces_ms,
        all_ms - metrics_ms
    );
}
