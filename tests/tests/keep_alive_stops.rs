//! Every graceful stop of a worker loses no request that reached it, on kept-alive connections
//! too, with clients that retry nothing (Python's `http.client`, or nginx with a POST): HUP
//! storms, `max_requests` recycling, TTOU and TERM, on workers of two runtime threads (the
//! machine's default here). A stopping worker tells each connection to close on a response
//! after which nothing more is pending, answers what its client already sent (pipelined or not),
//! and keeps an idle connection open for its next request within the drain window.
//!
//! And no hook and no signal stops a healthy server: a HUP or TTIN whose workers cannot be
//! forked leaves the serving workers as they were, and the next one tries again.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{assert_no_worker_left, wait_until, Fixture};
use forkline_tests::load::{
    answers, stop_and_assert_nothing_lost, until_told_to_close, wait_for_answers, Load, Request,
};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

/// Keep-alive clients that retry nothing: GETs and POSTs, four connections each.
fn kept_load(addr: SocketAddr) -> (Load, Load) {
    (
        Load::sending(addr, 4, Request::get("/work", true)),
        Load::sending(addr, 4, Request::post("/work", true)),
    )
}

fn server(workers: &str, extra: &[(&str, &str)]) -> (Fixture, SocketAddr) {
    let mut env = vec![("FORKLINE_WORKER_THREADS", "2")];
    env.extend_from_slice(extra);
    let fx = quiet_server(BIN, workers, &env);
    let addr = fx.addr(BOOT);
    fx.wait_for_workers(workers.parse().expect("a count"), BOOT);
    (fx, addr)
}

#[test]
fn a_hup_storm_loses_no_request_on_kept_alive_connections() {
    let (mut fx, addr) = server("2", &[]);
    let (gets, posts) = kept_load(addr);
    wait_for_answers(&[&gets, &posts], 500, "the load runs");
    // The storm: 20 HUPs in 5 s (the spacing is the scenario, not a synchronisation).
    for _ in 0..20 {
        fx.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(250));
    }
    // Every old worker of every HUP is retired: 2 per HUP, however the HUPs coalesced.
    wait_until(Duration::from_secs(60), || {
        let stderr = fx.stderr();
        let retired = stderr.matches("stopped after HUP").count();
        let asked = stderr.matches("its replacement is ready (HUP)").count();
        (asked >= 2 && retired == asked).then_some(())
    })
    .unwrap_or_else(|| panic!("the HUPs' old workers all stop:\n{}", fx.stderr()));
    wait_for_answers(&[&gets, &posts], 500, "the load goes on after the storm");
    stop_and_assert_nothing_lost("20 HUPs in 5 s, kept-alive GET and POST", gets, posts);
    fx.stop();
    assert_no_worker_left(&fx);
}

#[test]
fn max_requests_recycling_loses_no_request_on_kept_alive_connections() {
    let (mut fx, addr) = server("2", &[("FORKLINE_MAX_REQUESTS", "100")]);
    let (gets, posts) = kept_load(addr);
    fx.wait_for_log("(max_requests); starting its replacement", 8);
    stop_and_assert_nothing_lost("max_requests=100, kept-alive GET and POST", gets, posts);
    fx.stop();
    assert_no_worker_left(&fx);
}

#[test]
fn ttou_loses_no_request_on_kept_alive_connections() {
    let (mut fx, addr) = server("3", &[]);
    let (gets, posts) = kept_load(addr);
    wait_for_answers(&[&gets, &posts], 500, "the load runs");
    for retired in 1..=2 {
        fx.signal(libc::SIGTTOU);
        fx.wait_for_log("stopped after TTOU", retired);
        wait_for_answers(&[&gets, &posts], 300, "the load goes on after TTOU");
    }
    stop_and_assert_nothing_lost("TTOU twice, kept-alive GET and POST", gets, posts);
    fx.stop();
    assert_no_worker_left(&fx);
}

#[test]
fn term_answers_every_request_sent_on_a_kept_alive_connection() {
    let (mut fx, addr) = server("2", &[]);
    let progress = Arc::new(AtomicU64::new(0));
    // Four back-to-back clients, and one that idles 200 ms between requests (a pooled
    // connection): each must be told to close, none may see a request go unanswered.
    let clients: Vec<_> = [0, 0, 0, 0, 200]
        .into_iter()
        .map(|pause_ms| {
            let progress = progress.clone();
            std::thread::spawn(move || {
                let pause = Duration::from_millis(pause_ms);
                until_told_to_close(
                    addr,
                    &Request::post("/work", true),
                    pause,
                    u64::MAX,
                    &progress,
                )
            })
        })
        .collect();
    wait_until(BOOT, || {
        (progress.load(Ordering::Relaxed) >= 500).then_some(())
    })
    .expect("the clients run");
    fx.stop();
    for client in clients {
        let seen = client.join().expect("client");
        assert!(
            seen.told_to_close,
            "a request went unanswered after {} answers: {seen:?}\n{}",
            seen.answered,
            fx.stderr()
        );
    }
    assert_no_worker_left(&fx);
}

/// One worker, a connection with `/slow` in flight when TERM comes, and `then` written to it.
fn stop_during_slow(pipelined: bool) -> Vec<(u16, bool)> {
    let (mut fx, addr) = server("1", &[]);
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let slow = Request::get("/slow", true).bytes();
    let next = Request::post("/work", true).bytes();
    if pipelined {
        stream
            .write_all(&[slow, next.clone()].concat())
            .expect("write");
    } else {
        stream.write_all(&slow).expect("write");
    }
    fx.wait_for_hook("slow_started", 1, BOOT);
    fx.signal(libc::SIGTERM);
    if !pipelined {
        // Sent while /slow runs and the worker stops: it arrives before /slow's answer is ready.
        stream.write_all(&next).expect("write");
    }
    let seen = answers(stream);
    assert!(fx
        .wait_exit(Duration::from_secs(20))
        .is_some_and(|s| s.success()));
    seen
}

#[test]
fn a_request_pipelined_behind_one_in_flight_at_a_stop_is_answered() {
    let seen = stop_during_slow(true);
    assert_eq!(
        seen,
        vec![(200, false), (200, true)],
        "both answered, the last with Connection: close"
    );
}

#[test]
fn a_request_sent_during_a_stop_behind_one_in_flight_is_answered() {
    let seen = stop_during_slow(false);
    assert_eq!(
        seen,
        vec![(200, false), (200, true)],
        "both answered, the last with Connection: close"
    );
}

/// Keep-alive load through a HUP that cannot fork its new workers: the old workers go on,
/// nothing is lost, and the master is still there.
fn hup_refused(fx: &Fixture, addr: SocketAddr) -> (Load, Load) {
    let old = fx.booted_workers();
    let (gets, posts) = kept_load(addr);
    wait_for_answers(&[&gets, &posts], 300, "the load runs");
    fx.signal(libc::SIGHUP);
    fx.wait_for_log("cannot start worker", 1);
    wait_for_answers(&[&gets, &posts], 300, "the old workers go on serving");
    assert!(
        fx.stderr().contains("the HUP is called off"),
        "{}",
        fx.stderr()
    );
    assert_eq!(
        fx.booted_workers(),
        old,
        "no worker started or replaced:\n{}",
        fx.stderr()
    );
    assert!(
        !fx.stderr().contains("stopped after HUP"),
        "{}",
        fx.stderr()
    );
    (gets, posts)
}

#[test]
fn a_thread_left_by_on_reload_does_not_stop_the_server() {
    let (mut fx, addr) = server("2", &[("FIXTURE_ON_RELOAD", "thread")]);
    let (gets, posts) = hup_refused(&fx, addr);
    // The next HUP tries again (and is refused again: the thread is still there).
    fx.signal(libc::SIGHUP);
    fx.wait_for_log("cannot start worker", 2);
    wait_for_answers(&[&gets, &posts], 300, "still serving after the second HUP");
    stop_and_assert_nothing_lost("HUP refused by the fork check", gets, posts);
    assert!(fx.wait_exit(Duration::ZERO).is_none(), "{}", fx.stderr());
    fx.stop();
    assert_no_worker_left(&fx);
}

/// Two workers whose `pre_fork` fails while the file at the returned path exists.
fn server_with_failing_pre_fork(name: &str) -> (Fixture, SocketAddr, std::path::PathBuf) {
    let flag = std::env::temp_dir().join(format!(
        "forkline-pre-fork-fails-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&flag);
    let path = flag.to_str().expect("a UTF-8 temp path");
    let (fx, addr) = server("2", &[("FIXTURE_PRE_FORK_FAILS", path)]);
    (fx, addr, flag)
}

#[test]
fn a_failing_pre_fork_calls_off_a_hup_and_the_next_hup_succeeds() {
    let (mut fx, addr, flag) = server_with_failing_pre_fork("hup");
    std::fs::write(&flag, "").expect("flag");
    let (gets, posts) = hup_refused(&fx, addr);
    std::fs::remove_file(&flag).expect("flag");
    fx.signal(libc::SIGHUP);
    fx.wait_for_log("stopped after HUP", 2);
    wait_for_answers(&[&gets, &posts], 300, "the new workers serve");
    stop_and_assert_nothing_lost("HUP refused by pre_fork, then a good one", gets, posts);
    assert_eq!(fx.booted_workers().len(), 4, "{}", fx.stderr());
    fx.stop();
    assert_no_worker_left(&fx);
}

#[test]
fn a_ttin_whose_worker_cannot_be_forked_is_given_up_and_the_next_one_succeeds() {
    let (mut fx, addr, flag) = server_with_failing_pre_fork("ttin");
    let (gets, posts) = kept_load(addr);
    std::fs::write(&flag, "").expect("flag");
    fx.signal(libc::SIGTTIN);
    fx.wait_for_log("TTIN given up: 2 workers instead of 3", 1);
    wait_for_answers(&[&gets, &posts], 300, "the two workers go on serving");
    assert_eq!(fx.booted_workers().len(), 2, "{}", fx.stderr());
    std::fs::remove_file(&flag).expect("flag");
    fx.signal(libc::SIGTTIN);
    fx.wait_for_workers(3, BOOT);
    wait_for_answers(&[&gets, &posts], 300, "three workers serve");
    stop_and_assert_nothing_lost("TTIN refused by pre_fork, then a good one", gets, posts);
    fx.stop();
    assert_no_worker_left(&fx);
}
