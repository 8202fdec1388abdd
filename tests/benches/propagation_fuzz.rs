//! The propagation fuzz target (`forkline_tests::propagation_fuzz`) for a bounded number of
//! cases, 10 million by default: every case checks the same properties as the suite's
//! time-bounded run (`tests/tests/propagation_fuzz.rs`), and the run prints its throughput.
//!
//!     cargo bench -p forkline-tests --bench propagation_fuzz [-- CASES [SEED]]
//!
//! A failing case panics with its own seed; the run is reproduced from the run's SEED.

use forkline_tests::propagation_fuzz::{install, run_case, Rng, Totals};
use std::time::Instant;

fn main() {
    // `cargo bench` passes `--bench`; positional arguments are ours.
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let cases = args.first().copied().unwrap_or(10_000_000);
    let seed = args.get(1).copied().unwrap_or(0x5EED_F0B4_11CE);
    install();
    let mut rng = Rng(seed | 1);
    let mut totals = Totals::default();
    let started = Instant::now();
    let mut next_report = 1_000_000;
    while totals.cases < cases {
        run_case(rng.next_u64(), &mut totals);
        if totals.cases == next_report {
            eprintln!(
                "  {} cases, {:.0} cases/s",
                totals.cases,
                totals.cases as f64 / started.elapsed().as_secs_f64()
            );
            next_report += 1_000_000;
        }
    }
    let took = started.elapsed();
    println!(
        "propagation fuzz: {} cases in {:.1} s = {:.0} cases/s (seed {seed}); {} continued a \
         trace, {} rejected by the reference parsers, {} header values refused by the http \
         crate, {} baggage round trips, {} baggage headers past the W3C limit",
        totals.cases,
        took.as_secs_f64(),
        totals.cases as f64 / took.as_secs_f64(),
        totals.valid_parents,
        totals.rejected_by_reference,
        totals.refused_values,
        totals.baggage_round_trips,
        totals.baggage_over_limit,
    );
    assert!(totals.valid_parents > 0 && totals.rejected_by_reference > 0);
}
