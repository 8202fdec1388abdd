//! Every worker does its share: keep-alive load over one shared socket is spread over the
//! workers (balanced accept plus the keep-alive limit). Alone in its test binary, so that no
//! other test's load skews what each worker gets.

use forkline_tests::harness::wait_until;
use forkline_tests::load::Load;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);
/// About 30 rounds of reconnection per client at the limit below.
const REQUESTS: u64 = 27_000;

use forkline_tests::fixture_env::quiet_server;

#[test]
fn keep_alive_load_is_shared_by_every_worker() {
    // A limit well under the run's requests per connection, so connections are taken again.
    let mut fx = quiet_server(BIN, "3", &[("FORKLINE_MAX_REQUESTS_PER_CONNECTION", "100")]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(3, BOOT);
    let load = Load::start(addr, 9, true, "/work");
    wait_until(Duration::from_secs(60), || {
        (load.so_far().ok >= REQUESTS).then_some(())
    })
    .expect("the load runs");
    let (seen, _) = load.stop();
    assert_eq!(seen.failed, 0, "{seen:?}");
    fx.signal(libc::SIGTERM);
    assert!(fx
        .wait_exit(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    let mut served: Vec<u64> = reports.iter().map(|r| r.serving.requests_served).collect();
    served.sort_unstable();
    let mut accepted: Vec<u64> = reports
        .iter()
        .map(|r| r.serving.connections_accepted)
        .collect();
    accepted.sort_unstable();
    eprintln!("requests per worker: {served:?}, connections {accepted:?} ({seen:?})");
    assert_eq!(served.len(), 3);
    assert_eq!(
        served.iter().sum::<u64>(),
        seen.ok,
        "every request counted once"
    );
    let (min, max) = (served[0], served[2]);
    assert!(
        min > 0 && max as f64 / min as f64 <= 2.0,
        "requests per worker {served:?}: max/min over 2"
    );
    for r in &reports {
        assert!(r.serving.connections_accepted >= 3, "{:?}", r.serving);
        assert_eq!(r.serving.connections_open, 0, "all closed at exit");
    }
}
