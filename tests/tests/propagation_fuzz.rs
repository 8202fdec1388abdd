//! A fuzz target over forkline's propagation extractor, run for a bounded time by the test suite
//! (`FORKLINE_FUZZ_SECS`, default 3): header sets mutated from valid `traceparent`,
//! `tracestate`, `baggage` and `sentry-trace` values (bit flips, cuts, repeats, insertions of
//! separators, non-ASCII and control bytes, huge lengths) go through the global propagators the
//! way the HTTP layer feeds them. Nothing may panic, and whatever context comes out must be
//! either invalid (ignored) or a well-formed remote parent. Deterministic per seed
//! (`FORKLINE_FUZZ_SEED`), printed on failure.

use forkline::opentelemetry::trace::TraceContextExt;
use forkline::opentelemetry::{global, Context};
use forkline::PropagatorKind;
use std::time::{Duration, Instant};

/// xorshift64*: a small deterministic generator (no dependency, reproducible from the seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: &[(&str, &str)] = &[
    (
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ),
    ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    (
        "baggage",
        "tenant=acme,sentry-trace_id=4bf92f3577b34da6a3ce929d0e0e4736,sentry-sample_rate=0.5;prop=1",
    ),
    ("sentry-trace", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
];

const SPICE: &[&[u8]] = &[
    b"-",
    b",",
    b";",
    b"=",
    b"%",
    b"%zz",
    b"\0",
    b"\r\n",
    b" ",
    b"\t",
    "é".as_bytes(),
    "\u{202e}".as_bytes(),
    b"ff",
    b"00",
    b"-00-",
    b"ffffffffffffffffffffffffffffffff",
];

fn mutate(rng: &mut Rng, value: &str) -> Vec<u8> {
    let mut bytes = value.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(rng.below(bytes.len() + 1)),
            2 => {
                let at = rng.below(bytes.len() + 1);
                let spice = SPICE[rng.below(SPICE.len())];
                bytes.splice(at..at, spice.iter().copied());
            }
            3 if !bytes.is_empty() => {
                let start = rng.below(bytes.len());
                let end = (start + rng.below(16)).min(bytes.len());
                let part = bytes[start..end].to_vec();
                for _ in 0..rng.below(64) {
                    bytes.extend_from_slice(&part);
                }
            }
            4 => bytes.extend(std::iter::repeat_n(b'a', rng.below(20_000))),
            5 => {
                let n = rng.below(8);
                bytes.extend((0..n).map(|_| rng.next() as u8));
            }
            _ => bytes.reverse(),
        }
    }
    bytes
}

fn check(cx: &Context, seed: u64, headers: &axum::http::HeaderMap) {
    let span = cx.span();
    let sc = span.span_context();
    if sc.is_valid() {
        assert!(
            sc.is_remote() && sc.trace_id().to_string().len() == 32,
            "seed {seed}: malformed parent {sc:?} from {headers:?}"
        );
    }
}

#[test]
fn the_extractor_survives_mutated_headers() {
    forkline::telemetry::propagation::install(&[
        PropagatorKind::TraceContext,
        PropagatorKind::Baggage,
        PropagatorKind::Sentry,
    ]);
    let secs: u64 = std::env::var("FORKLINE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("FORKLINE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_F0B4_11CE);
    let mut rng = Rng(seed | 1);
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut cases, mut rejected_values, mut valid_parents) = (0u64, 0u64, 0u64);
    while Instant::now() < end {
        for _ in 0..256 {
            let case_seed = rng.next();
            let mut case = Rng(case_seed | 1);
            let mut headers = axum::http::HeaderMap::new();
            for (name, value) in SEEDS {
                if case.below(4) == 0 {
                    continue; // sometimes absent
                }
                let bytes = mutate(&mut case, value);
                // What HTTP would carry: a value the http crate refuses never reaches us.
                match axum::http::HeaderValue::from_bytes(&bytes) {
                    Ok(v) => {
                        headers.append(*name, v);
                    }
                    Err(_) => rejected_values += 1,
                }
            }
            let cx = forkline::http::extract(&headers);
            check(&cx, case_seed, &headers);
            if cx.span().span_context().is_valid() {
                valid_parents += 1;
            }
            let _ = global::get_text_map_propagator(|p| {
                let mut out = axum::http::HeaderMap::new();
                p.inject_context(&cx, &mut forkline::http::HeaderInjector(&mut out));
                out.len()
            });
            cases += 1;
        }
    }
    println!(
        "propagation fuzz: {cases} cases in {secs} s (seed {seed}); {valid_parents} continued a \
         trace, {rejected_values} header values refused by the http crate"
    );
    assert!(cases > 1_000, "the fuzz loop ran: {cases}");
    assert!(valid_parents > 0, "some mutations keep a valid parent");
}
