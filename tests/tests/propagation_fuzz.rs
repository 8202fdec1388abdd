//! The propagation fuzz target (`forkline_tests::propagation_fuzz`), run for a bounded time by
//! the test suite (`FORKLINE_FUZZ_SECS`, default 3): nothing may panic, no header set the W3C and
//! Sentry specifications reject may become a parent, a parent re-injects to the same ids and
//! flags, and baggage within the W3C limits round-trips. Deterministic per seed
//! (`FORKLINE_FUZZ_SEED`); a failure names its case's seed. The bench runs ten million cases
//! (`cargo bench -p forkline-tests --bench propagation_fuzz`).

use forkline_tests::propagation_fuzz::{
    install, reference_sentry_trace, reference_traceparent, run_case, Rng, Totals,
};
use std::time::{Duration, Instant};

#[test]
fn the_extractor_survives_mutated_headers_and_agrees_with_the_specifications() {
    install();
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
    let mut totals = Totals::default();
    while Instant::now() < end {
        for _ in 0..256 {
            run_case(rng.next_u64(), &mut totals);
        }
    }
    println!("propagation fuzz: {secs} s (seed {seed}): {totals:?}");
    assert!(totals.cases > 1_000, "the fuzz loop ran: {totals:?}");
    // Each property was exercised, not only vacuously true.
    assert!(
        totals.valid_parents > 0,
        "some mutations keep a valid parent"
    );
    assert!(
        totals.rejected_by_reference > 0,
        "some mutations break both headers"
    );
    assert!(totals.baggage_round_trips > totals.cases, "{totals:?}");
}

/// The reference parsers themselves, on the specifications' own examples and edge cases: a
/// reference that rejected everything would make the fuzz property vacuous.
#[test]
fn the_reference_parsers_follow_the_specifications() {
    const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const S: &str = "00f067aa0ba902b7";
    let tp = |v: &str| reference_traceparent(v).map(|p| (p.trace_id, p.span_id, p.sampled));
    let ids = |sampled| Some((T.to_string(), S.to_string(), sampled));
    assert_eq!(tp(&format!("00-{T}-{S}-01")), ids(true));
    assert_eq!(tp(&format!(" 00-{T}-{S}-00\t")), ids(false));
    assert_eq!(tp(&format!("00-{T}-{S}-03")), ids(true));
    assert_eq!(tp(&format!("01-{T}-{S}-01-future")), ids(true));
    for bad in [
        format!("00-{T}-{S}-01-"),
        format!("00-{T}-{S}-0"),
        format!("00-{T}-{S}-1"),
        format!("ff-{T}-{S}-01"),
        format!("0-{T}-{S}-01"),
        format!("00-{}-{S}-01", T.to_uppercase()),
        format!("00-{}-{S}-01", &T[1..]),
        format!("00-+{}-{S}-01", &T[1..]),
        format!("00-{T}-{}-01", &S[1..]),
        format!("00-{}-{S}-01", "0".repeat(32)),
        format!("00-{T}-{}-01", "0".repeat(16)),
        format!("01-{T}-{S}-01x"),
    ] {
        assert_eq!(tp(&bad), None, "{bad}");
    }
    let st = |v: &str| reference_sentry_trace(v).map(|p| (p.trace_id, p.span_id, p.sampled));
    assert_eq!(st(&format!("{T}-{S}-1")), ids(true));
    assert_eq!(st(&format!("{T}-{S}-0")), ids(false));
    assert_eq!(st(&format!("{T}-{S}")), ids(true), "deferred");
    for bad in [
        T.to_string(),
        format!("{T}-{S}-2"),
        format!("{T}-{S}-1-"),
        format!("{}-{S}-1", T.to_uppercase()),
        format!("{T}-{}-1", &S[1..]),
        format!("+{}-{S}-1", &T[1..]),
    ] {
        assert_eq!(st(&bad), None, "{bad}");
    }
}
