//! systemd's notify protocol, against a Unix datagram socket the test owns acting as
//! `NOTIFY_SOCKET` (no running systemd needed): `READY=1` once every worker serves,
//! `RELOADING=1` and `READY=1` around a HUP, `WATCHDOG=1` at half of `WATCHDOG_USEC`,
//! `STOPPING=1` on TERM, and, in a binary upgrade, `MAINPID=` of the new master when the old one
//! is stopped.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{signal_pid, wait_until, Fixture};
use forkline_tests::processes::{alive, become_subreaper, read_pid, reap, KillOnDrop};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

/// The test's notify socket.
struct Systemd {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Systemd {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("forkline-{name}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Self { socket, path }
    }

    /// The next datagram within `within`, if any.
    fn next(&self, within: Duration) -> Option<String> {
        let end = Instant::now() + within;
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.socket.recv(&mut buf) {
                return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        None
    }

    /// Waits for a datagram with the line `line`, skipping watchdog pings; everything else
    /// seen before it is returned with it.
    fn until(&self, line: &str) -> Vec<String> {
        let mut seen = Vec::new();
        let end = Instant::now() + BOOT;
        while Instant::now() < end {
            let Some(message) = self.next(Duration::from_secs(1)) else {
                continue;
            };
            let found = message.lines().any(|l| l == line);
            if message != "WATCHDOG=1" {
                seen.push(message);
            }
            if found {
                return seen;
            }
        }
        panic!("no {line:?} from the master; seen {seen:?}");
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn server(systemd: &Systemd, extra: &[(&str, &str)]) -> Fixture {
    let path = systemd.path.to_str().expect("a UTF-8 path").to_string();
    let mut env: Vec<(&str, &str)> = vec![("NOTIFY_SOCKET", &path)];
    env.extend_from_slice(extra);
    quiet_server(BIN, "2", &env)
}

#[test]
fn the_master_tells_systemd_ready_reloading_stopping_and_pings_its_watchdog() {
    let systemd = Systemd::new("notify");
    let mut fx = server(&systemd, &[("WATCHDOG_USEC", "300000")]);
    let seen = systemd.until("READY=1");
    assert_eq!(seen.len(), 1, "READY=1 first: {seen:?}");
    assert!(
        fx.stderr().matches("is ready [ready=").count() >= 2,
        "READY=1 comes once both workers serve:\n{}",
        fx.stderr()
    );
    // The watchdog: pings at half of 300 ms.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_secs(1) {
        if systemd.next(Duration::from_millis(50)).as_deref() == Some("WATCHDOG=1") {
            pings += 1;
        }
    }
    assert!(pings >= 4, "{pings} watchdog pings in 1 s");

    fx.signal(libc::SIGHUP);
    let seen = systemd.until("RELOADING=1");
    assert!(
        seen.last().is_some_and(|m| m.contains("MONOTONIC_USEC=")),
        "{seen:?}"
    );
    systemd.until("READY=1");
    assert!(
        fx.stderr().matches("stopped after HUP").count() == 2,
        "READY=1 again once the old workers are replaced:\n{}",
        fx.stderr()
    );
    fx.signal(libc::SIGTERM);
    systemd.until("STOPPING=1");
    assert!(fx.wait_exit(BOOT).is_some_and(|s| s.success()));
}

#[test]
fn a_binary_upgrade_hands_the_main_pid_to_the_new_master() {
    become_subreaper();
    let systemd = Systemd::new("notify-upgrade");
    let pidfile = std::env::temp_dir().join(format!("forkline-notify-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    let mut old = server(
        &systemd,
        &[("FORKLINE_PIDFILE", pidfile.to_str().expect("utf-8"))],
    );
    systemd.until("READY=1");
    old.signal(libc::SIGUSR2);
    let new = wait_until(BOOT, || {
        read_pid(&pidfile).filter(|&p| p != old.pid && alive(p))
    })
    .unwrap_or_else(|| panic!("a new master:\n{}", old.stderr()));
    let _cleanup = KillOnDrop(new);
    // The new master's workers serve, and it says so too.
    systemd.until("READY=1");
    old.signal(libc::SIGWINCH);
    old.signal(libc::SIGTERM);
    let seen = systemd.until(&format!("MAINPID={new}"));
    assert!(
        !seen.iter().any(|m| m.contains("STOPPING=1")),
        "the old master hands over, it does not say the service stops: {seen:?}"
    );
    assert!(old.wait_exit(BOOT).is_some_and(|s| s.success()));
    signal_pid(new, libc::SIGTERM);
    systemd.until("STOPPING=1");
    assert_eq!(reap(new, BOOT), Some(0));
}
