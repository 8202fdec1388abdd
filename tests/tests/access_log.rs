//! Gunicorn's access log: one line per request in Gunicorn's default format (or one made of its
//! atoms, with the request's trace id), to a file every worker appends to, reopened on USR1 for
//! logrotate; a bad format is a start-up error naming the atom.

use forkline_examples::http_get_with;
use forkline_tests::harness::{wait_until, Fixture};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn each_request_gets_a_line_in_gunicorns_format_and_usr1_reopens_the_file() {
    let dir = forkline_tests::harness::scratch_dir("access");
    let log = dir.join("access.log");
    let path = log.to_str().expect("utf-8").to_string();
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "2"),
            ("FORKLINE_ACCESS_LOG", &path),
            ("SENTRY_DSN", ""),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    for _ in 0..10 {
        let (status, _) = http_get_with(
            addr,
            "/work?x=1",
            &[
                ("User-Agent", "probe/1"),
                ("Referer", "http://from.example/"),
            ],
        )
        .expect("GET");
        assert_eq!(status, 200);
    }
    let (status, _) = http_get_with(addr, "/nope", &[]).expect("GET /nope");
    assert_eq!(status, 404);
    let seen = wait_until(BOOT, || Some(lines(&log)).filter(|l| l.len() >= 11))
        .unwrap_or_else(|| panic!("11 lines in {path}: {:?}", lines(&log)));
    let line = &seen[0];
    // 127.0.0.1 - - [07/Dec/2026:10:15:02 +0000] "GET /work?x=1 HTTP/1.1" 200 8 "http://from.example/" "probe/1"
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.contains(" +0000] \"GET /work?x=1 HTTP/1.1\" 200 "),
        "{line}"
    );
    assert!(
        line.ends_with(" \"http://from.example/\" \"probe/1\""),
        "{line}"
    );
    assert!(
        seen.iter()
            .any(|l| l.contains("\"GET /nope HTTP/1.1\" 404 ") && l.ends_with("\"-\" \"-\"")),
        "{seen:#?}"
    );
    // logrotate: move the file, USR1, and the next lines go to a new one.
    let rotated = dir.join("access.log.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    fx.signal(libc::SIGUSR1);
    wait_until(BOOT, || {
        (fx.stderr()
            .matches("USR1: the access log is reopened")
            .count()
            == 2)
            .then_some(())
    })
    .unwrap_or_else(|| panic!("both workers reopen:\n{}", fx.stderr()));
    for _ in 0..4 {
        assert_eq!(http_get_with(addr, "/work", &[]).expect("GET").0, 200);
    }
    wait_until(BOOT, || Some(lines(&log)).filter(|l| l.len() == 4))
        .unwrap_or_else(|| panic!("4 lines in the new file: {:?}", lines(&log)));
    assert_eq!(lines(&rotated).len(), 11);
    fx.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_custom_format_carries_the_trace_id_and_a_bad_one_is_refused() {
    let mut fx = Fixture::start(
        BIN,
        &[
            ("FORKLINE_WORKERS", "1"),
            ("FORKLINE_ACCESS_LOG", "-"),
            (
                "FORKLINE_ACCESS_LOG_FORMAT",
                "access %(m)s %(U)s %(s)s trace=%(trace_id)s",
            ),
            ("SENTRY_DSN", ""),
        ],
    );
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(1, BOOT);
    assert_eq!(http_get_with(addr, "/work", &[]).expect("GET").0, 200);
    let line = wait_until(BOOT, || {
        fx.stderr()
            .lines()
            .find(|l| l.starts_with("access GET /work 200 trace="))
            .map(str::to_string)
    })
    .unwrap_or_else(|| panic!("a line on stderr:\n{}", fx.stderr()));
    let trace = line.rsplit('=').next().unwrap_or("");
    assert_eq!(trace.len(), 32, "a trace id: {line}");
    assert!(trace.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
    fx.stop();

    let mut bad = Fixture::start(
        BIN,
        &[
            ("FORKLINE_ACCESS_LOG", "-"),
            ("FORKLINE_ACCESS_LOG_FORMAT", "%(h)s %(who)s"),
        ],
    );
    assert!(!bad.wait_exit(BOOT).expect("exits").success());
    assert!(
        bad.stderr().contains("FORKLINE_ACCESS_LOG_FORMAT")
            && bad.stderr().contains("unknown atom %(who)s"),
        "{}",
        bad.stderr()
    );
}
