//! What `#[forkline::handler]` and `#[derive(SpanAttributes)]` cost, against hand-written OTel
//! code doing the same, measured in the same run (interleaved samples, medians of ns per call).
//!
//!     cargo bench -p forkline-tests --bench handler_overhead [-- SAMPLES]
//!
//! `-- --only=handler N` or `--only=hand N` runs one path N times and nothing else, for a
//! profiler: `valgrind --tool=callgrind <bench binary> --only=handler 20000` counts the
//! instructions of each path and what they are spent in.
//!
//! 1. A sampled handler span with three attributes vs a hand-written span with the same
//!    attributes, through the same provider (its processor discards ended spans, so the
//!    figures are the span path, not an exporter). Target: ≤ 1.05×.
//! 2. The same handler under an unsampled parent vs the bare function plus one sampler
//!    decision (the cost floor of any instrumentation). Target: ≤ 2×.
//! 3. A derived `SpanAttributes` struct of five attributes vs the same `KeyValue`s written by
//!    hand: flat, and with one nested struct (whose keys are joined once per prefix and shared);
//!    and the nested derive against the flat one. Target: ≤ 1.3×.
//! 4. The success path of `#[handler(err)]` vs the same handler without `err`: the same
//!    (nothing of the error path runs on `Ok`).
//! 5. The error path: an `Err` (a cause chain of two) through `#[handler(err)]` to a Sentry
//!    client whose transport discards envelopes, with the capture site's stack and without
//!    (`forkline::handler::capture_stacks(false)`).

use forkline::opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer,
    TracerProvider as _,
};
use forkline::opentelemetry::{global, Context, KeyValue};
use forkline::SpanAttributes;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SdkTracerProvider, ShouldSample, Span, SpanData, SpanProcessor,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Ends spans into nothing: the comparison is about the span path, not an exporter.
#[derive(Debug)]
struct Discard;

impl SpanProcessor for Discard {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn work(n: u64) -> u64 {
    black_box(n).wrapping_mul(31).rotate_left(7)
}

#[forkline::handler(fields(http.route = "/orders/{id}", tenant = "acme"))]
fn handled(order_id: u64) -> u64 {
    work(order_id)
}

#[derive(Debug)]
struct Cause;

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the cause")
    }
}

impl std::error::Error for Cause {}

#[derive(Debug)]
struct Failed(Cause);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call failed")
    }
}

impl std::error::Error for Failed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[forkline::handler(err)]
fn reported(order_id: u64, fail: bool) -> Result<u64, Failed> {
    if fail {
        return Err(Failed(Cause));
    }
    Ok(work(order_id))
}

#[forkline::handler]
fn unreported(order_id: u64, fail: bool) -> Result<u64, Failed> {
    if fail {
        return Err(Failed(Cause));
    }
    Ok(work(order_id))
}

/// Sends envelopes nowhere: the error path is measured up to the transport, not a network.
struct DiscardEnvelopes;

impl sentry::Transport for DiscardEnvelopes {
    fn send_envelope(&self, envelope: sentry::Envelope) {
        black_box(envelope);
    }
}

fn hand_written(tracer: &global::BoxedTracer, order_id: u64) -> u64 {
    let span = tracer
        .span_builder("handled")
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("order_id", order_id as i64),
            KeyValue::new("http.route", "/orders/{id}"),
            KeyValue::new("tenant", "acme"),
        ])
        .start(tracer);
    let cx = Context::current_with_span(span);
    let out = {
        let _active = cx.clone().attach();
        work(order_id)
    };
    cx.span().end();
    out
}

#[derive(SpanAttributes)]
struct Customer {
    id: u64,
    tier: &'static str,
}

#[derive(SpanAttributes)]
#[span(prefix = "order")]
struct Order {
    id: u64,
    total_cents: i64,
    express: bool,
    customer: Customer,
}

#[derive(SpanAttributes)]
#[span(prefix = "order")]
struct FlatOrder {
    id: u64,
    total_cents: i64,
    express: bool,
    customer_id: u64,
    #[span(name = "customer.tier")]
    tier: &'static str,
}

const ORDER: Order = Order {
    id: 42,
    total_cents: 1999,
    express: true,
    customer: Customer {
        id: 7,
        tier: "gold",
    },
};

const FLAT: FlatOrder = FlatOrder {
    id: 42,
    total_cents: 1999,
    express: true,
    customer_id: 7,
    tier: "gold",
};

fn flat_by_hand(order: &FlatOrder, out: &mut Vec<KeyValue>) {
    out.push(KeyValue::new("order.id", order.id as i64));
    out.push(KeyValue::new("order.total_cents", order.total_cents));
    out.push(KeyValue::new("order.express", order.express));
    out.push(KeyValue::new("order.customer_id", order.customer_id as i64));
    out.push(KeyValue::new("order.customer.tier", order.tier));
}

fn keys_by_hand(order: &Order, out: &mut Vec<KeyValue>) {
    out.push(KeyValue::new("order.id", order.id as i64));
    out.push(KeyValue::new("order.total_cents", order.total_cents));
    out.push(KeyValue::new("order.express", order.express));
    out.push(KeyValue::new("order.customer.id", order.customer.id as i64));
    out.push(KeyValue::new("order.customer.tier", order.customer.tier));
}

/// Median ns per call of `f`, over `samples` samples of `batch` calls.
fn median_ns(samples: &mut [Vec<f64>], which: usize, batch: u32, f: &mut dyn FnMut(u64)) {
    let start = Instant::now();
    for i in 0..batch {
        f(u64::from(i));
    }
    samples[which].push(start.elapsed().as_nanos() as f64 / f64::from(batch));
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let samples_n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(60);
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        .with_span_processor(Discard)
        .build();
    global::set_tracer_provider(provider.clone());
    // What forkline's generated post_fork does for its own (parent-based) samplers.
    forkline::manual::provider_installed(true);
    let tracer = global::tracer("bench");
    let unsampled = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("id"),
        SpanId::from_hex("b7ad6b7169203331").expect("id"),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ));
    let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOn));
    let _ = provider.tracer("warm");
    // Each measured path is one closure, called only through `&mut dyn FnMut` (by the timed
    // loop, or by `--only`): one call site each, so the compiler treats the derived code and the
    // hand-written code alike (a second call site changed what it inlined).
    let recording = |record: fn(&mut Vec<KeyValue>)| {
        let mut out = Vec::with_capacity(8);
        move |_: u64| {
            out.clear();
            record(&mut out);
            black_box(&out);
        }
    };
    let mut derived_nested = recording(|out| {
        SpanAttributes::record(
            &ORDER,
            forkline::handler::AttributeKey::Argument("order"),
            out,
        )
    });
    let mut nested_by_hand = recording(|out| keys_by_hand(&ORDER, out));
    let mut derived_flat = recording(|out| {
        SpanAttributes::record(
            &FLAT,
            forkline::handler::AttributeKey::Argument("order"),
            out,
        )
    });
    let mut flat_by_hand_path = recording(|out| flat_by_hand(&FLAT, out));
    let mut hand_path = |i: u64| {
        black_box(hand_written(&tracer, i));
    };
    let mut handler_path = |i: u64| {
        black_box(handled(i));
    };
    if let Some(only) = std::env::args().find_map(|a| a.strip_prefix("--only=").map(str::to_string))
    {
        let calls: u64 = std::env::args()
            .filter_map(|a| a.parse().ok())
            .next()
            .unwrap_or(20_000);
        let path: &mut dyn FnMut(u64) = match only.as_str() {
            "handler" => &mut handler_path,
            "hand" => &mut hand_path,
            "nested" => &mut derived_nested,
            "flat" => &mut derived_flat,
            other => panic!("--only={other}: handler, hand, nested or flat"),
        };
        for i in 0..calls {
            path(i);
        }
        return;
    }

    let _sentry = sentry::init(
        sentry::ClientOptions::new()
            .dsn("https://public@sentry.invalid/1")
            .transport(std::sync::Arc::new(DiscardEnvelopes)),
    );
    // The first stack loads the binary's symbols: not what each error costs.
    black_box(reported(0, true).is_err());

    const BATCH: u32 = 2000;
    // An error event is thousands of times a span: fewer calls per sample.
    const ERR_BATCH: u32 = 20;
    let mut s: Vec<Vec<f64>> = vec![Vec::new(); 12];
    for sample in 0..samples_n {
        // Each pair in turn in either order: the second of two runs right after the first
        // (warm allocator, caches, clock) and must not always be the same one.
        if sample % 2 == 0 {
            median_ns(&mut s, 0, BATCH, &mut hand_path);
            median_ns(&mut s, 1, BATCH, &mut handler_path);
        } else {
            median_ns(&mut s, 1, BATCH, &mut handler_path);
            median_ns(&mut s, 0, BATCH, &mut hand_path);
        }
        {
            let _parent = unsampled.clone().attach();
            median_ns(&mut s, 2, BATCH, &mut |i| {
                black_box(handled(i));
            });
            median_ns(&mut s, 3, BATCH, &mut |i| {
                let cx = Context::current();
                let decision = sampler.should_sample(
                    Some(&cx),
                    TraceId::from(u128::from(i) + 1),
                    "handled",
                    &SpanKind::Server,
                    &[],
                    &[],
                );
                black_box(decision.decision == SamplingDecision::Drop);
                black_box(work(i));
            });
        }
        median_ns(&mut s, 4, BATCH, &mut derived_nested);
        median_ns(&mut s, 5, BATCH, &mut nested_by_hand);
        median_ns(&mut s, 6, BATCH, &mut derived_flat);
        median_ns(&mut s, 7, BATCH, &mut flat_by_hand_path);
        median_ns(&mut s, 8, BATCH, &mut |i| {
            black_box(unreported(i, false).is_ok());
        });
        median_ns(&mut s, 9, BATCH, &mut |i| {
            black_box(reported(i, false).is_ok());
        });
        forkline::handler::capture_stacks(true);
        median_ns(&mut s, 10, ERR_BATCH, &mut |i| {
            black_box(reported(i, true).is_err());
        });
        forkline::handler::capture_stacks(false);
        median_ns(&mut s, 11, ERR_BATCH, &mut |i| {
            black_box(reported(i, true).is_err());
        });
    }
    let m: Vec<f64> = s.iter_mut().map(|v| median(v)).collect();
    println!("handler overhead ({samples_n} samples of {BATCH} calls each, interleaved; median ns per call)");
    println!(
        "  sampled span, 3 attributes : hand-written {:>8.1} ns   #[handler] {:>8.1} ns   ratio {:.3} (target <= 1.05)",
        m[0], m[1], m[1] / m[0]
    );
    println!(
        "  unsampled parent           : bare call + sampler {:>8.1} ns   #[handler] {:>8.1} ns   ratio {:.3} (target <= 2)",
        m[3], m[2], m[2] / m[3]
    );
    println!(
        "  5 attributes, flat struct  : KeyValue by hand {:>8.1} ns   derived SpanAttributes {:>8.1} ns   ratio {:.3}",
        m[7], m[6], m[6] / m[7]
    );
    println!(
        "  5 attributes, one nested   : KeyValue by hand {:>8.1} ns   derived SpanAttributes {:>8.1} ns   ratio {:.3}",
        m[5], m[4], m[4] / m[5]
    );
    println!(
        "  nested against flat        : derived flat {:>8.1} ns   derived nested {:>8.1} ns   ratio {:.3} (target <= 1.3)",
        m[6], m[4], m[4] / m[6]
    );
    println!(
        "  Ok through the handler     : #[handler] {:>8.1} ns   #[handler(err)] {:>8.1} ns   ratio {:.3} (target ~ 1)",
        m[8], m[9], m[9] / m[8]
    );
    println!(
        "  Err, #[handler(err)]       : no stack {:>10.1} ns   capture-site stack {:>10.1} ns   ratio {:.2}",
        m[11], m[10], m[10] / m[11]
    );
}
