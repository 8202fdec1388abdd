//! Gunicorn's binary upgrade: a new build is put where the running one was started from; USR2
//! makes the master start it as a new master on the same socket (the pid file moves to
//! `.oldbin`), WINCH stops the old master's workers gracefully, TERM stops the old master. Under
//! load, no request fails, the new build answers, and no process or zombie is left. A new master
//! that cannot start, or that dies after WINCH, leaves the old master serving.
//!
//! This test process is a child subreaper: the new master is the old master's child, and when
//! the old master exits the new one becomes ours, so the test can reap it and see no zombie.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{http_get, signal_pid, wait_until, Fixture};
use forkline_tests::load::{stop_and_assert_nothing_lost, wait_for_answers, Load};
use forkline_tests::processes::{
    alive, become_subreaper, lines_of, read_pid, reap, zombies, KillOnDrop,
};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const V1: &str = env!("CARGO_BIN_EXE_upgrade_v1");
const V2: &str = env!("CARGO_BIN_EXE_upgrade_v2");
const BOOT: Duration = Duration::from_secs(30);

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A folder holding the deployed executable `app` and the pid file `app.pid`.
struct Deploy {
    dir: PathBuf,
}

impl Deploy {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "forkline-upgrade-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("deploy folder");
        Self { dir }
    }

    fn app(&self) -> PathBuf {
        self.dir.join("app")
    }

    fn pidfile(&self) -> PathBuf {
        self.dir.join("app.pid")
    }

    fn oldbin(&self) -> PathBuf {
        self.dir.join("app.pid.oldbin")
    }

    /// Puts `build` in place of `app` the way a deploy does: a new file renamed over the old
    /// one, so the running master keeps its own.
    fn install(&self, build: &Path) {
        let staged = self.dir.join("app.staged");
        std::fs::copy(build, &staged).expect("copy the build");
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&staged, self.app()).expect("install the build");
    }

    fn install_script(&self, script: &str) {
        let staged = self.dir.join("app.staged");
        std::fs::write(&staged, script).expect("write the script");
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::rename(&staged, self.app()).expect("install the script");
    }

    fn start(&self) -> Fixture {
        let pidfile = self.pidfile();
        quiet_server(
            self.app().to_str().expect("utf-8 path"),
            "2",
            &[("FORKLINE_PIDFILE", pidfile.to_str().expect("utf-8 path"))],
        )
    }
}

fn version(addr: SocketAddr) -> String {
    let (status, body) = http_get(addr, "/version").expect("GET /version");
    assert_eq!(status, 200, "{body}");
    body
}

fn wait_for_log(fx: &Fixture, what: &str, check: impl Fn(&str) -> bool) {
    wait_until(BOOT, || check(&fx.stderr()).then_some(()))
        .unwrap_or_else(|| panic!("{what}:\n{}", fx.stderr()));
}

#[test]
fn usr2_winch_term_hand_the_socket_to_a_new_build_and_fail_no_request() {
    become_subreaper();
    let deploy = Deploy::new();
    deploy.install(Path::new(V1));
    let mut old = deploy.start();
    let addr = old.addr(BOOT);
    let old_workers = old.wait_for_workers(2, BOOT);
    assert_eq!(read_pid(&deploy.pidfile()), Some(old.pid));
    assert_eq!(version(addr), "v1");

    deploy.install(Path::new(V2));
    let fresh = Load::start(addr, 4, false, "/work");
    let kept = Load::start(addr, 4, true, "/work");
    wait_for_answers(&[&fresh, &kept], 500, "the load runs");

    old.signal(libc::SIGUSR2);
    let new = wait_until(BOOT, || {
        read_pid(&deploy.pidfile()).filter(|&p| p != old.pid && alive(p))
    })
    .unwrap_or_else(|| panic!("a new master writes the pid file:\n{}", old.stderr()));
    let _cleanup = KillOnDrop(new);
    assert_eq!(
        read_pid(&deploy.oldbin()),
        Some(old.pid),
        "the old pid file"
    );
    wait_for_log(&old, "the new master's two workers are ready", |log| {
        lines_of(log, new, "is ready [ready=") >= 2
    });
    assert!(
        lines_of(&old.stderr(), new, "serving the socket") == 1,
        "the new master took the socket:\n{}",
        old.stderr()
    );
    // Both builds serve the one socket for now.
    wait_until(BOOT, || (version(addr) == "v2").then_some(()))
        .unwrap_or_else(|| panic!("the new build answers:\n{}", old.stderr()));

    old.signal(libc::SIGWINCH);
    wait_for_log(&old, "the old workers stop after WINCH", |log| {
        lines_of(log, old.pid, "stopped after WINCH") == 2
    });
    for pid in &old_workers {
        wait_until(BOOT, || (!alive(*pid)).then_some(()))
            .unwrap_or_else(|| panic!("old worker {pid} is gone"));
    }
    for _ in 0..20 {
        assert_eq!(version(addr), "v2", "only the new build serves");
    }
    wait_for_answers(&[&fresh, &kept], 500, "the load goes on after WINCH");

    old.signal(libc::SIGTERM);
    let status = old.wait_exit(BOOT).expect("the old master stops");
    assert!(status.success(), "{}", old.stderr());
    assert!(
        !deploy.oldbin().exists(),
        "the old master removed its pid file"
    );
    assert_eq!(read_pid(&deploy.pidfile()), Some(new), "the new master's");
    wait_for_log(&old, "the new master sees it is the only one", |log| {
        lines_of(log, new, "has exited: this master is the only one") == 1
    });
    wait_for_answers(
        &[&fresh, &kept],
        500,
        "the load goes on after the old master",
    );
    stop_and_assert_nothing_lost("binary upgrade", fresh, kept);

    signal_pid(new, libc::SIGTERM);
    let code = reap(new, BOOT).unwrap_or_else(|| panic!("the new master stops:\n{}", old.stderr()));
    assert_eq!(code, 0, "{}", old.stderr());
    assert!(
        !deploy.pidfile().exists(),
        "the new master removed its pid file"
    );
    let new_workers: Vec<u32> = old
        .booted_workers()
        .into_iter()
        .filter(|p| !old_workers.contains(p))
        .collect();
    assert_eq!(new_workers.len(), 2, "{new_workers:?}");
    for pid in old_workers.iter().chain(&new_workers) {
        assert!(!alive(*pid), "worker {pid} is gone");
    }
    assert_eq!(zombies(&[old.pid, new]), Vec::<u32>::new());
    assert!(!alive(new), "the new master was reaped");
    assert!(!old.stderr().contains("crashed"), "{}", old.stderr());
}

#[test]
fn a_new_build_that_cannot_start_leaves_the_old_master_serving() {
    become_subreaper();
    let deploy = Deploy::new();
    deploy.install(Path::new(V1));
    let mut old = deploy.start();
    let addr = old.addr(BOOT);
    old.wait_for_workers(2, BOOT);

    // A build that exits at once.
    deploy.install_script("#!/bin/sh\nexit 3\n");
    old.signal(libc::SIGUSR2);
    wait_for_log(&old, "the failed new master is noticed", |log| {
        log.contains("exited (Exited(3)) while this one runs: the binary upgrade did not complete")
    });
    assert_eq!(
        read_pid(&deploy.pidfile()),
        Some(old.pid),
        "the pid file is back"
    );
    assert!(!deploy.oldbin().exists());
    // Without an upgrade in progress, WINCH stops nothing.
    old.signal(libc::SIGWINCH);
    wait_for_log(&old, "WINCH is ignored", |log| {
        log.contains("WINCH ignored")
    });

    // No file at all: exec fails, and the master says so.
    std::fs::remove_file(deploy.app()).expect("remove the build");
    old.signal(libc::SIGUSR2);
    wait_for_log(&old, "the missing build is reported", |log| {
        log.contains("USR2: cannot start a new master from")
    });
    assert_eq!(read_pid(&deploy.pidfile()), Some(old.pid));
    for _ in 0..10 {
        assert_eq!(version(addr), "v1");
    }

    old.signal(libc::SIGTERM);
    assert!(
        old.wait_exit(BOOT).is_some_and(|s| s.success()),
        "{}",
        old.stderr()
    );
    assert!(!deploy.pidfile().exists());
    assert_eq!(zombies(&old.booted_workers()), Vec::<u32>::new());
}

#[test]
fn a_new_master_that_dies_after_winch_gives_the_socket_back_to_the_old_build() {
    become_subreaper();
    let deploy = Deploy::new();
    deploy.install(Path::new(V1));
    let mut old = deploy.start();
    let addr = old.addr(BOOT);
    old.wait_for_workers(2, BOOT);
    deploy.install(Path::new(V2));
    old.signal(libc::SIGUSR2);
    let new = wait_until(BOOT, || {
        read_pid(&deploy.pidfile()).filter(|&p| p != old.pid && alive(p))
    })
    .unwrap_or_else(|| panic!("a new master:\n{}", old.stderr()));
    let _cleanup = KillOnDrop(new);
    wait_for_log(&old, "the new workers are ready", |log| {
        lines_of(log, new, "is ready [ready=") >= 2
    });
    old.signal(libc::SIGWINCH);
    wait_for_log(&old, "the old workers stop", |log| {
        lines_of(log, old.pid, "stopped after WINCH") == 2
    });
    let fresh = Load::start(addr, 2, false, "/work");
    let kept = Load::start(addr, 2, true, "/work");

    // The new build turns out bad: stop it; the old master takes over again.
    signal_pid(new, libc::SIGTERM);
    wait_for_log(&old, "the old master starts its workers again", |log| {
        log.contains("starting this master's 2 workers again")
            && lines_of(log, old.pid, "is ready [ready=2]") >= 2
    });
    assert_eq!(
        read_pid(&deploy.pidfile()),
        Some(old.pid),
        "the pid file is back"
    );
    wait_for_answers(&[&fresh, &kept], 500, "the old build serves the load");
    stop_and_assert_nothing_lost("rollback", fresh, kept);
    for _ in 0..10 {
        assert_eq!(version(addr), "v1");
    }
    old.signal(libc::SIGTERM);
    assert!(
        old.wait_exit(BOOT).is_some_and(|s| s.success()),
        "{}",
        old.stderr()
    );
    // The old master reaped the new one, its child.
    assert!(!alive(new), "the new master was reaped");
    assert_eq!(zombies(&old.booted_workers()), Vec::<u32>::new());
}

#[test]
fn a_bad_listen_fd_or_a_live_pid_file_is_a_clear_start_up_error() {
    // Descriptor 0 is the fixture's stdin (/dev/null), not a socket.
    let mut fx = quiet_server(V1, "1", &[("FORKLINE_LISTEN_FD", "0")]);
    let status = fx.wait_exit(BOOT).expect("exits");
    assert!(!status.success());
    let stderr = fx.stderr();
    assert!(
        stderr.contains("FORKLINE_LISTEN_FD")
            && stderr.contains("descriptor 0 is not a listening socket"),
        "{stderr}"
    );
    assert!(!stderr.contains("worker 0 booted"), "{stderr}");

    // A pid file naming a live process (this test): another master would be using it.
    let deploy = Deploy::new();
    std::fs::write(deploy.pidfile(), format!("{}\n", std::process::id())).expect("pid file");
    let pidfile = deploy.pidfile();
    let mut fx = quiet_server(
        V1,
        "1",
        &[("FORKLINE_PIDFILE", pidfile.to_str().expect("utf-8 path"))],
    );
    let status = fx.wait_exit(BOOT).expect("exits");
    assert!(!status.success());
    assert!(
        fx.stderr().contains("another master uses this pid file"),
        "{}",
        fx.stderr()
    );
    assert_eq!(
        read_pid(&pidfile),
        Some(std::process::id()),
        "left as it was"
    );
}
