//! An app with its own hyper server (`Server::serve`), written as the README says, loses no
//! request on kept-alive connections through a HUP storm and a TERM either.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{assert_no_worker_left, wait_until};
use forkline_tests::load::{stop_and_assert_nothing_lost, wait_for_answers, Load, Request};
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
