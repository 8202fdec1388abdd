//! The propagation fuzz target shared by `tests/tests/propagation_fuzz.rs` (bounded in time, in the
//! suite) and `benches/propagation_fuzz.rs` (bounded in cases, ≥ 10 million): header sets
//! mutated from valid `traceparent`, `tracestate`, `baggage` and `sentry-trace` values go through
//! the global propagators the way the HTTP layer feeds them, and generated baggage goes out and
//! back in. Every case is deterministic from its seed, which each failure names.
//!
//! The properties, each of which a wrong propagator breaks:
//! - a header set that small reference parsers, written from the W3C Trace Context and Sentry
//!   `sentry-trace` specifications, both reject never becomes a parent; a parent that is made
//!   carries the ids and sampled flag the reference read;
//! - a continued parent re-injects to headers that extract to the same ids and flags;
//! - baggage within the W3C limits (64 members, 8192 bytes) round-trips: what was extracted
//!   re-injects to the same entries, and so does generated baggage of arbitrary values.

use forkline::config::PropagatorKind;
use forkline::opentelemetry::baggage::{Baggage, BaggageExt};
use forkline::opentelemetry::trace::TraceContextExt;
use forkline::opentelemetry::{global, Context, KeyValue};
use std::collections::BTreeMap;

/// The W3C Baggage limits a propagator must support (<https://www.w3.org/TR/baggage/#limits>).
pub const BAGGAGE_MAX_MEMBERS: usize = 64;
pub const BAGGAGE_MAX_BYTES: usize = 8192;

/// xorshift64*: a small deterministic generator (no dependency, reproducible from the seed).
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
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
    b"%41",
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
    b"A",
    b"+",
];

fn mutate(rng: &mut Rng, value: &str) -> Vec<u8> {
    let mut bytes = value.as_bytes().to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(8) {
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
                bytes.extend((0..n).map(|_| rng.next_u64() as u8));
            }
            6 if !bytes.is_empty() => {
                // Cuts inside the value: short ids and fields are what lenient parsers accept.
                let at = rng.below(bytes.len());
                let end = (at + 1 + rng.below(3)).min(bytes.len());
                bytes.drain(at..end);
            }
            _ => bytes.reverse(),
        }
    }
    bytes
}

/// What a reference parser read: the parent's ids (lowercase hex) and its sampled flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefParent {
    pub trace_id: String,
    pub span_id: String,
    pub sampled: bool,
}

fn lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// HTTP drops optional whitespace (SP, HTAB) around a field value before any parser sees it.
fn ows_trimmed(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// W3C Trace Context level 1, `traceparent` (<https://www.w3.org/TR/trace-context/#traceparent-header>):
/// `version-traceid-parentid-flags`, lowercase hex of 2, 32, 16 and 2 digits; version `ff` is
/// invalid; version `00` is exactly 55 characters, a later version at least 55 with a `-` after
/// the flags if longer; an all-zero trace or parent id is invalid.
pub fn reference_traceparent(value: &str) -> Option<RefParent> {
    let v = ows_trimmed(value);
    let (version, rest) = (v.get(..2)?, v.get(2..)?);
    if !lower_hex(version) || version == "ff" {
        return None;
    }
    let fields = rest.get(..53)?;
    let tail = rest.get(53..)?;
    let (trace_id, span_id, flags) = (fields.get(1..33)?, fields.get(34..50)?, fields.get(51..53)?);
    let dashes = [&fields[0..1], &fields[33..34], &fields[50..51]];
    if dashes.iter().any(|d| *d != "-") || !lower_hex(trace_id) || !lower_hex(span_id) {
        return None;
    }
    if !lower_hex(flags) {
        return None;
    }
    let tail_ok = if version == "00" {
        tail.is_empty()
    } else {
        tail.is_empty() || tail.starts_with('-')
    };
    if !tail_ok || trace_id.bytes().all(|b| b == b'0') || span_id.bytes().all(|b| b == b'0') {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(RefParent {
        trace_id: trace_id.into(),
        span_id: span_id.into(),
        sampled: flags & 1 == 1,
    })
}

/// Whether a part of a `sentry-trace` value has the right characters.
type PartCheck = fn(&str) -> bool;

/// Sentry's `sentry-trace` (<https://develop.sentry.dev/sdk/telemetry/traces/#header-sentry-trace>),
/// as its SDKs match it: `^[ \t]*([0-9a-f]{32})?-?([0-9a-f]{16})?-?([01])?[ \t]*$`, tried the way
/// a backtracking regex engine does (each optional part present before absent). A parent needs
/// both ids, not all zeros (OTel's invalid ids); without the sampled part the decision is
/// deferred, which OTel can only continue as sampled.
pub fn reference_sentry_trace(value: &str) -> Option<RefParent> {
    let v = ows_trimmed(value);
    for layout in 0u8..32 {
        let present = |bit: u8| layout & (1 << (4 - bit)) == 0;
        let mut rest = v;
        let mut take = |n: usize, ok: PartCheck| -> Option<Option<String>> {
            let part = rest.get(..n).filter(|p| ok(p))?;
            rest = &rest[n..];
            Some(Some(part.to_string()))
        };
        let mut parts: [Option<String>; 5] = Default::default();
        let specs: [(usize, PartCheck); 5] = [
            (32, lower_hex),
            (1, |p| p == "-"),
            (16, lower_hex),
            (1, |p| p == "-"),
            (1, |p| p == "0" || p == "1"),
        ];
        let mut matched = true;
        for (i, (n, ok)) in specs.iter().enumerate() {
            if present(i as u8) {
                match take(*n, *ok) {
                    Some(part) => parts[i] = part,
                    None => {
                        matched = false;
                        break;
                    }
                }
            }
        }
        if !matched || !rest.is_empty() {
            continue;
        }
        let [trace_id, _, span_id, _, sampled] = parts;
        let (trace_id, span_id) = (trace_id?, span_id?);
        if trace_id.bytes().all(|b| b == b'0') || span_id.bytes().all(|b| b == b'0') {
            return None;
        }
        return Some(RefParent {
            trace_id,
            span_id,
            sampled: sampled.as_deref() != Some("0"),
        });
    }
    None
}

/// The global propagators a worker installs with every kind on.
pub fn install() {
    forkline::manual::install_propagators(&[
        PropagatorKind::TraceContext,
        PropagatorKind::Baggage,
        PropagatorKind::Sentry,
    ]);
}

/// What the cases found, summed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    pub cases: u64,
    pub valid_parents: u64,
    pub rejected_by_reference: u64,
    pub refused_values: u64,
    pub baggage_round_trips: u64,
    pub baggage_over_limit: u64,
}

fn inject(cx: &Context) -> axum::http::HeaderMap {
    let mut out = axum::http::HeaderMap::new();
    global::get_text_map_propagator(|p| {
        p.inject_context(cx, &mut forkline::http::HeaderInjector(&mut out))
    });
    out
}

fn entries(baggage: &Baggage) -> BTreeMap<String, String> {
    baggage
        .iter()
        .map(|(k, (v, _))| (k.to_string(), v.to_string()))
        .collect()
}

/// Sends `cx`'s baggage out and back in; `false` if the header it makes is past the W3C limit
/// (then nothing is checked: a receiver may drop it whole).
fn baggage_round_trips(cx: &Context, seed: u64, what: &str) -> bool {
    let out = inject(cx);
    let header_len = out.get("baggage").map_or(0, |v| v.len());
    if header_len > BAGGAGE_MAX_BYTES {
        return false;
    }
    let back = forkline::http::extract(&out);
    assert_eq!(
        entries(back.baggage()),
        entries(cx.baggage()),
        "seed {seed}: {what} baggage did not round-trip through {:?}",
        out.get("baggage")
    );
    true
}

/// A baggage value of arbitrary characters: ASCII punctuation the header uses as syntax,
/// percent signs, whitespace inside, non-ASCII. Surrounding whitespace is left out: the W3C
/// format strips it, so it is not part of a value.
fn arbitrary_value(rng: &mut Rng) -> String {
    const PARTS: &[&str] = &[
        "a",
        "Z",
        "0",
        "=",
        ",",
        ";",
        "%",
        "%41",
        "%zz",
        " ",
        "\"",
        "\\",
        "é",
        "\u{1F4A5}",
        "+",
        "/",
        "-",
        "~",
    ];
    let s: String = (0..rng.below(12))
        .map(|_| PARTS[rng.below(PARTS.len())])
        .collect();
    s.trim().to_string()
}

/// Keys are RFC 7230 tokens (the W3C `key` production).
fn token(rng: &mut Rng) -> String {
    const TCHAR: &[u8] =
        b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    (0..=rng.below(10))
        .map(|_| TCHAR[rng.below(TCHAR.len())] as char)
        .collect()
}

/// Generated baggage within the limits, as the encoded header will weigh it.
fn generated_baggage(rng: &mut Rng) -> Vec<KeyValue> {
    let mut members = BTreeMap::new();
    let mut bytes = 0;
    // Mostly a few members, sometimes up to the limit: the full size is the slow case.
    let members_wanted = if rng.below(16) == 0 {
        BAGGAGE_MAX_MEMBERS
    } else {
        rng.below(8)
    };
    for _ in 0..members_wanted {
        let (key, value) = (token(rng), arbitrary_value(rng));
        // Percent-encoding at most triples a byte; `=` and `,` add two.
        let weight = 3 * (key.len() + value.len()) + 2;
        if bytes + weight > BAGGAGE_MAX_BYTES {
            break;
        }
        bytes += weight;
        members.insert(key, value);
    }
    members
        .into_iter()
        .map(|(k, v)| KeyValue::new(k, v))
        .collect()
}

/// One case from `case_seed`: panics, naming the seed, if a property fails.
pub fn run_case(case_seed: u64, totals: &mut Totals) {
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
            Err(_) => totals.refused_values += 1,
        }
    }
    let cx = forkline::http::extract(&headers);
    let span = cx.span();
    let sc = span.span_context();

    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let expected = text("traceparent")
        .and_then(reference_traceparent)
        .or_else(|| text("sentry-trace").and_then(reference_sentry_trace));
    match &expected {
        None => {
            totals.rejected_by_reference += 1;
            assert!(
                !sc.is_valid(),
                "seed {case_seed}: {sc:?} became a parent from headers the specifications reject: \
                 {headers:?}"
            );
        }
        Some(parent) if sc.is_valid() => {
            let got = RefParent {
                trace_id: sc.trace_id().to_string(),
                span_id: sc.span_id().to_string(),
                sampled: sc.is_sampled(),
            };
            assert_eq!(
                (&got, sc.is_remote()),
                (parent, true),
                "seed {case_seed}: the parent differs from what the specification reads in \
                 {headers:?}"
            );
        }
        Some(_) => {} // stricter than the specification: ignoring a header is allowed
    }

    if sc.is_valid() {
        totals.valid_parents += 1;
        let again = forkline::http::extract(&inject(&cx));
        let again = again.span();
        let sc2 = again.span_context();
        assert_eq!(
            (
                sc2.trace_id(),
                sc2.span_id(),
                sc2.trace_flags(),
                sc2.is_remote()
            ),
            (sc.trace_id(), sc.span_id(), sc.trace_flags(), true),
            "seed {case_seed}: the continued parent did not survive re-injection"
        );
    }

    if baggage_round_trips(&cx, case_seed, "extracted") {
        totals.baggage_round_trips += 1;
    } else {
        totals.baggage_over_limit += 1;
    }
    let generated = Context::new().with_baggage(generated_baggage(&mut case));
    if baggage_round_trips(&generated, case_seed, "generated") {
        totals.baggage_round_trips += 1;
    } else {
        totals.baggage_over_limit += 1;
    }
    totals.cases += 1;
}
