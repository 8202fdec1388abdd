//! An app with its own hyper server (`Server::serve`), written as the README says, loses no
//! request on kept-alive connections through a HUP storm and a TERM either, and gets what
//! `serve_axum` gets: `max_requests`, the per-connection limit and its request counts. An app
//! that counts nothing is told so, not left with settings that silently do nothing.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{assert_no_worker_left, wait_until};
use forkline_tests::load::{
    stop_and_assert_nothing_lost, until_told_to_close, wait_for_answers, KeptConnection, Load,
    Request,
};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_custom_server");
const BOOT: Duration = Duration::from_secs(30);

#[test]
fn an_app_with_its_own_server_loses_nothing_through_a_hup_storm() {
    let mut fx = quiet_server(BIN, "2", &[("FORKLINE_WORKER_THREADS", "2")]);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    let gets = Load::sending(addr, 4, Request::get("/", true));
    let posts = Load::sending(addr, 4, Request::post("/", true));
    let answered = |more: u64| wait_for_answers(&[&gets, &posts], more, "the load runs");
    answered(500);
    for _ in 0..10 {
        fx.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(250)); // The storm's pace, not a synchronisation.
    }
    wait_until(Duration::from_secs(60), || {
        let stderr = fx.stderr();
        let asked = stderr.matches("its replacement is ready (HUP)").count();
        (asked >= 2 && stderr.matches("stopped after HUP").count() == asked).then_some(())
    })
    .unwrap_or_else(|| panic!("the old workers stop:\n{}", fx.stderr()));
    answered(500);
    stop_and_assert_nothing_lost(
        "Server::serve with its own hyper server, 10 HUPs",
        gets,
        posts,
    );
    fx.stop();
    assert_no_worker_left(&fx);
}

#[test]
fn an_app_with_its_own_server_gets_max_requests_the_connection_limit_and_counts() {
    let mut fx = quiet_server(
        BIN,
        "1",
        &[
            ("FORKLINE_MAX_REQUESTS", "10"),
            ("FORKLINE_MAX_REQUESTS_PER_CONNECTION", "3"),
        ],
    );
    let addr = fx.addr(BOOT);
    let first = fx.wait_for_workers(1, BOOT)[0];
    let progress = AtomicU64::new(0);
    let kept = || {
        until_told_to_close(
            addr,
            &Request::get("/", true),
            Duration::ZERO,
            50,
            &progress,
        )
    };
    // Three per connection, the third says close; the worker's tenth request closes its
    // connection too, and the worker recycles.
    for _ in 0..3 {
        let expected = KeptConnection {
            answered: 3,
            told_to_close: true,
        };
        assert_eq!(kept(), expected);
    }
    let expected = KeptConnection {
        answered: 1,
        told_to_close: true,
    };
    assert_eq!(kept(), expected, "the worker's tenth request is its last");
    let replacement = wait_until(BOOT, || {
        fx.booted_workers().into_iter().find(|&p| p != first)
    })
    .unwrap_or_else(|| panic!("a replacement after max_requests:\n{}", fx.stderr()));
    assert!(
        fx.stderr()
            .contains("(max_requests); starting its replacement"),
        "{}",
        fx.stderr()
    );
    assert_eq!(kept().answered, 3, "the replacement answers");
    fx.stop();
    let reports = forkline::read_reports(&fx.run_dir()).expect("reports");
    let served = |pid: u32| {
        reports
            .iter()
            .find(|r| r.pid == pid)
            .map(|r| r.serving.requests_served)
    };
    assert_eq!(served(first), Some(10), "{reports:#?}");
    assert_eq!(served(replacement), Some(3), "{reports:#?}");
    assert!(
        !fx.stderr().contains("counted no request"),
        "{}",
        fx.stderr()
    );
}

#[test]
fn an_app_that_counts_nothing_is_told_max_requests_has_no_effect() {
    let mut fx = quiet_server(
        BIN,
        "1",
        &[
            ("FORKLINE_MAX_REQUESTS", "2"),
            ("FIXTURE_COUNT_NOTHING", "1"),
        ],
    );
    let addr = fx.addr(BOOT);
    let first = fx.wait_for_workers(1, BOOT)[0];
    let progress = AtomicU64::new(0);
    let kept = until_told_to_close(addr, &Request::get("/", true), Duration::ZERO, 5, &progress);
    assert_eq!(kept.answered, 5, "nothing closes the connection: {kept:?}");
    wait_until(BOOT, || {
        fx.stderr().contains("counted no request").then_some(())
    })
    .unwrap_or_else(|| panic!("the worker says its app counts nothing:\n{}", fx.stderr()));
    assert_eq!(fx.booted_workers(), vec![first], "no recycle");
    fx.stop();
}
