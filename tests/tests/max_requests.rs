//! Gunicorn's `max_requests` with jitter, under load: each worker draws its limit from
//! `[max_requests, max_requests + jitter]`, answers that many requests (and those already in
//! flight), runs `worker_exit` and is replaced, and no client request fails because of it.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{assert_no_worker_left, wait_until};
use forkline_tests::load::{stop_and_assert_nothing_lost, Load};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);
const MAX: u64 = 150;
const JITTER: u64 = 50;
const CONNECTIONS: u64 = 4;

#[test]
fn workers_recycle_at_their_drawn_limits_and_no_request_fails() {
    let (max, jitter) = (MAX.to_string(), JITTER.to_string());
    let mut fx = quiet_server(
        BIN,
        "2",
        &[
            ("FORKLINE_MAX_REQUESTS", &max),
            ("FORKLINE_MAX_REQUESTS_JITTER", &jitter),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let fresh = Load::start(addr, 2, false, "/work");
    let kept = Load::start(addr, 2, true, "/work");
    // Four recycles: the master logs each as it replaces the worker.
    let recycles = |fx: &forkline_tests::harness::Fixture| {
        fx.stderr()
            .matches("(max_requests); starting its replacement")
            .count()
    };
    wait_until(Duration::from_secs(60), || {
        (recycles(&fx) >= 4).then_some(())
    })
    .unwrap_or_else(|| panic!("four workers recycled:\n{}", fx.stderr()));
    stop_and_assert_nothing_lost("max_requests under load", fresh, kept);
    fx.stop();
    assert_no_worker_left(&fx);

    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    let mut limits = Vec::new();
    let mut recycled = 0;
    for report in &reports {
        let limit = report.max_requests.expect("every worker drew a limit");
        assert!((MAX..=MAX + JITTER).contains(&limit), "{limit}");
        limits.push(limit);
        let served = report.serving.requests_served;
        if served >= limit {
            recycled += 1;
            // The request that reaches the limit stops the worker; what the other connections
            // already sent is still answered, and nothing much more.
            assert!(
                served <= limit + 4 * CONNECTIONS,
                "worker {} served {served} with a limit of {limit}",
                report.pid
            );
        }
    }
    eprintln!("limits drawn: {limits:?}");
    assert!(recycled >= 4, "{recycled} of {} reports", reports.len());
    assert!(
        reports.len() >= 6,
        "the two last workers stopped by TERM report too"
    );
}
