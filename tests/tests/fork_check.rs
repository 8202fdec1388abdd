//! Telemetry built in the master before fork is never silently inherited: forkline's own has an
//! export thread, so it stops start-up unless threads at fork are allowed, and then it is
//! detected and rebuilt in every worker; hand-made SDK state stops start-up with a message that
//! names the hook to move it to.

use forkline_tests::harness::{read_sentry, read_spans, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_fork_check_server");
const BOOT: Duration = Duration::from_secs(30);

#[test]
fn forkline_telemetry_built_in_the_master_is_refused_by_default_naming_post_fork() {
    let (stderr, booted) = refused("forkline");
    // The embedded sink's batch processor thread, named by the SDK.
    assert!(
        stderr.contains("\"OpenTelemetry.T\" (tid")
            && stderr.contains("let #[forkline::post_fork(...)] build the provider"),
        "{stderr}"
    );
    assert_eq!(booted, 0);
}

#[test]
fn with_threads_allowed_forkline_telemetry_built_in_the_master_is_rebuilt_in_every_worker() {
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FIXTURE_MODE", "forkline"),
            ("FORKLINE_WORKERS", "2"),
            ("FORKLINE_ALLOW_THREADS_AT_FORK", "1"),
        ],
    );
    fx.addr(BOOT);
    let workers = fx.wait_for_workers(2, BOOT);
    fx.signal(libc::SIGTERM);
    let status = fx.wait_exit(Duration::from_secs(15)).expect("exits");
    assert!(status.success(), "{}", fx.stderr());

    let stderr = fx.stderr();
    assert!(
        stderr.contains("every worker will rebuild it in post_fork"),
        "{stderr}"
    );
    let run_dir = fx.run_dir();
    let reports = forkline::read_reports(&run_dir).expect("reports");
    for pid in workers {
        assert!(
            stderr.contains(&format!("forkline[{pid}] warn: the tracer provider built in pid {} before fork() was detected", fx.pid)),
            "{stderr}"
        );
        // Rebuilt: the worker's own spans arrive, with its own pid, linked to its Sentry event.
        let spans = read_spans(&run_dir, pid);
        let boot = spans
            .iter()
            .find(|s| s["name"] == "worker.boot")
            .expect("boot span from a rebuilt provider");
        assert_eq!(boot["resource"]["process.pid"], pid as i64);
        let event = read_sentry(&run_dir, pid)
            .into_iter()
            .find(|e| e["type"] == "event")
            .expect("event");
        assert_eq!(
            event["event"]["contexts"]["trace"]["trace_id"],
            boot["traceId"]
        );
        // The span ended on the tracer kept from the master cannot be exported; it is counted.
        let report = reports.iter().find(|r| r.pid == pid).expect("report");
        assert_eq!(report.stats.spans_dropped_inherited, 1);
        assert!(!spans
            .iter()
            .any(|s| s["name"] == "on-a-tracer-from-the-master"));
        assert!(stderr.contains(&format!(
            "forkline[{pid}] warn: a span ended on a tracer provider built in pid {}",
            fx.pid
        )));
    }
}

fn refused(mode: &str) -> (String, usize) {
    let mut fx = Fixture::start(BIN, &[("FIXTURE_MODE", mode)]);
    let status = fx
        .wait_exit(Duration::from_secs(20))
        .expect("start-up fails promptly");
    assert!(!status.success());
    let booted = fx.booted_workers().len();
    (fx.stderr(), booted)
}

#[test]
fn sentry_initialised_in_the_master_stops_start_up_naming_worker_init() {
    let (stderr, booted) = refused("raw_sentry");
    assert!(
        stderr.contains(&forkline::ForkHazard::SentryInMaster.to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("#[forkline::worker_init(sentry(...))]"));
    assert_eq!(booted, 0, "no worker may start with inherited Sentry state");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_tracer_provider_installed_in_the_master_stops_start_up_naming_post_fork() {
    let (stderr, booted) = refused("raw_otel");
    assert!(
        stderr.contains(&forkline::ForkHazard::TracerProviderInMaster.to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("#[forkline::post_fork(...)]"));
    assert_eq!(booted, 0);
}

#[test]
fn a_meter_provider_installed_in_the_master_stops_start_up_naming_post_fork() {
    let (stderr, booted) = refused("raw_otel_metrics");
    assert!(
        stderr.contains(&forkline::ForkHazard::MeterProviderInMaster.to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("#[forkline::post_fork(...)]"));
    assert_eq!(booted, 0);
}

#[test]
fn a_logger_provider_built_in_the_master_stops_start_up_naming_its_thread_and_post_fork() {
    let (stderr, booted) = refused("raw_otel_logs");
    assert!(
        stderr.contains("\"OpenTelemetry.L\" (tid")
            && stderr.contains("an OpenTelemetry batch log processor")
            && stderr.contains("#[forkline::post_fork(...)] build the logger provider")
            && stderr.contains("forkline::manual::logger_provider()"),
        "{stderr}"
    );
    assert_eq!(booted, 0);
}

#[test]
fn forking_with_other_threads_in_the_master_is_warned_about_once_when_allowed() {
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FIXTURE_MODE", "thread"),
            ("FORKLINE_WORKERS", "2"),
            ("FORKLINE_ALLOW_THREADS_AT_FORK", "1"),
        ],
    );
    fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    fx.signal(libc::SIGTERM);
    assert!(
        fx.wait_exit(Duration::from_secs(15))
            .is_some_and(|s| s.success()),
        "{}",
        fx.stderr()
    );
    let stderr = fx.stderr();
    let warning = format!(
        "forkline[{}] warn: the master has 1 other thread(s) at fork(), allowed by allow_threads_at_fork",
        fx.pid
    );
    assert_eq!(
        stderr.matches(&warning).count(),
        1,
        "warned once:\n{stderr}"
    );
}
