//! A worker's operational metrics, observed at each collection of its meter provider (on the
//! reader's thread, never on the request path):
//! - the process, with the semantic conventions' names: `process.memory.usage` (resident
//!   bytes), `process.memory.virtual`, `process.cpu.time` by `cpu.mode` (user, system) and
//!   `process.thread.count`, so that a leaking worker shows before `max_requests` is tuned;
//! - each guarded export pipeline (`forkline.pipeline`: spans, metrics, logs, sentry), from
//!   `forkline::health()`: `forkline.export.items` by `forkline.outcome` (accepted, delivered,
//!   retried), `forkline.export.dropped` by `forkline.drop.reason`, `forkline.export.pending`
//!   and `forkline.export.breaker` (1 for the state it is in, by `forkline.breaker.state`).

use crate::export::breaker::BreakerState;
use crate::export::figures::PipelineHealth;
use opentelemetry::metrics::{Meter, MeterProvider};
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::SdkMeterProvider;

/// Registers the observable instruments on `provider` (they live as long as it does).
pub(crate) fn register(provider: &SdkMeterProvider) {
    let meter = provider.meter("forkline");
    process(&meter);
    pipelines(&meter);
}

fn process(meter: &Meter) {
    meter
        .i64_observable_up_down_counter("process.memory.usage")
        .with_unit("By")
        .with_description("The amount of physical memory in use")
        .with_callback(|observer| {
            if let Some(memory) = Memory::read() {
                observer.observe(memory.resident_bytes, &[]);
            }
        })
        .build();
    meter
        .i64_observable_up_down_counter("process.memory.virtual")
        .with_unit("By")
        .with_description("The amount of committed virtual memory")
        .with_callback(|observer| {
            if let Some(memory) = Memory::read() {
                observer.observe(memory.virtual_bytes, &[]);
            }
        })
        .build();
    meter
        .f64_observable_counter("process.cpu.time")
        .with_unit("s")
        .with_description("Total CPU seconds broken down by different CPU modes")
        .with_callback(|observer| {
            if let Some((user, system)) = cpu_seconds() {
                observer.observe(user, &[KeyValue::new("cpu.mode", "user")]);
                observer.observe(system, &[KeyValue::new("cpu.mode", "system")]);
            }
        })
        .build();
    meter
        .i64_observable_up_down_counter("process.thread.count")
        .with_unit("{thread}")
        .with_description("Process threads count")
        .with_callback(|observer| observer.observe(crate::sys::thread_count() as i64, &[]))
        .build();
}

/// Each registered pipeline, by name.
fn each_pipeline(mut f: impl FnMut(&'static str, &PipelineHealth)) {
    let health = crate::health::health();
    for (name, pipeline) in [
        ("spans", &health.traces),
        ("metrics", &health.metrics),
        ("logs", &health.logs),
        ("sentry", &health.sentry),
    ] {
        if let Some(pipeline) = pipeline {
            f(name, pipeline);
        }
    }
}

fn pipelines(meter: &Meter) {
    meter
        .u64_observable_counter("forkline.export.items")
        .with_unit("{item}")
        .with_description(
            "Items handed to a guarded export pipeline, delivered, and retry attempts (spans, \
             metric collections, Sentry envelopes)",
        )
        .with_callback(|observer| {
            each_pipeline(|name, p| {
                for (outcome, n) in [
                    ("accepted", p.accepted),
                    ("delivered", p.delivered),
                    ("retried", p.retried),
                ] {
                    observer.observe(
                        n,
                        &[
                            KeyValue::new("forkline.pipeline", name),
                            KeyValue::new("forkline.outcome", outcome),
                        ],
                    );
                }
            })
        })
        .build();
    meter
        .u64_observable_counter("forkline.export.dropped")
        .with_unit("{item}")
        .with_description("Items a guarded export pipeline dropped, by reason")
        .with_callback(|observer| {
            each_pipeline(|name, p| {
                let d = &p.dropped;
                for (reason, n) in [
                    ("queue_full", d.queue_full),
                    ("breaker_open", d.breaker_open),
                    ("timeout", d.timeout),
                    ("network", d.network),
                    ("throttled", d.throttled),
                    ("server_error", d.server_error),
                    ("rejected", d.rejected),
                    ("rate_limited", d.rate_limited),
                    ("shutdown", d.shutdown),
                    ("buffer_full", d.buffer_full),
                    ("encode_failed", d.encode_failed),
                ] {
                    observer.observe(
                        n,
                        &[
                            KeyValue::new("forkline.pipeline", name),
                            KeyValue::new("forkline.drop.reason", reason),
                        ],
                    );
                }
            })
        })
        .build();
    meter
        .i64_observable_gauge("forkline.export.pending")
        .with_unit("{item}")
        .with_description("Items accepted and not yet delivered or dropped")
        .with_callback(|observer| {
            each_pipeline(|name, p| {
                observer.observe(
                    i64::try_from(p.pending).unwrap_or(i64::MAX),
                    &[KeyValue::new("forkline.pipeline", name)],
                )
            })
        })
        .build();
    meter
        .i64_observable_gauge("forkline.export.breaker")
        .with_description("1 for the state the pipeline's circuit breaker is in, 0 for the others")
        .with_callback(|observer| {
            each_pipeline(|name, p| {
                for (state, label) in [
                    (BreakerState::Closed, "closed"),
                    (BreakerState::Open, "open"),
                    (BreakerState::HalfOpen, "half_open"),
                ] {
                    observer.observe(
                        i64::from(p.breaker == state),
                        &[
                            KeyValue::new("forkline.pipeline", name),
                            KeyValue::new("forkline.breaker.state", label),
                        ],
                    );
                }
            })
        })
        .build();
}

/// This process's memory, from `/proc/self/statm` (pages).
struct Memory {
    virtual_bytes: i64,
    resident_bytes: i64,
}

impl Memory {
    fn read() -> Option<Self> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let mut pages = statm.split_whitespace().map(|p| p.parse::<i64>().ok());
        let (size, resident) = (pages.next()??, pages.next()??);
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1);
        Some(Self {
            virtual_bytes: size * page,
            resident_bytes: resident * page,
        })
    }
}

/// User and system CPU seconds of this process (all its threads).
fn cpu_seconds() -> Option<(f64, f64)> {
    // SAFETY: a zeroed rusage is valid; getrusage fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some((seconds(usage.ru_utime), seconds(usage.ru_stime)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_cpu_of_this_process_are_read() {
        let memory = Memory::read().expect("statm");
        assert!(memory.resident_bytes > 1 << 20, "{}", memory.resident_bytes);
        assert!(memory.virtual_bytes >= memory.resident_bytes);
        // Burn a little CPU so that user time is not zero.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let (user, system) = cpu_seconds().expect("rusage");
        assert!(user > 0.0 && system >= 0.0, "{user} {system}");
    }
}
