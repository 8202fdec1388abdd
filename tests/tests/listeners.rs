//! Listeners as Gunicorn's `bind` has them, against real sockets: several addresses at once (TCP
//! and Unix), Unix socket files (their mode, a stale one replaced, a live one refused, removed
//! at the last stop and not before), `fd://N` and `Server::listener` for sockets the program was
//! handed or made, and systemd socket activation through `systemd-socket-activate`. Every
//! socket is served by every worker, with balanced accept, through HUP, TTIN / TTOU and a
//! binary upgrade, with no request lost on kept-alive connections.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{scratch_dir, signal_pid, wait_until, Fixture, HANDED_FROM};
use forkline_tests::load::{
    get_once, next_answer, stop_and_assert_nothing_lost, wait_for_answers, Connection, Load,
    Request, Target,
};
use forkline_tests::processes::{
    alive, become_subreaper, lines_of, reap, retire_old_master, start_new_master,
};
use std::collections::BTreeSet;
use std::io::{BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

/// Waits until the server answers on `target`.
fn wait_served(target: &Target, fx: &Fixture) {
    wait_until(BOOT, || {
        get_once(target, "/work").ok().filter(|(s, _)| *s == 200)
    })
    .unwrap_or_else(|| panic!("no answer on {target:?}:\n{}", fx.stderr()));
}

/// The pid of the worker that answers a kept-alive GET on `connection`.
fn answering_pid(connection: &mut BufReader<Connection>) -> u32 {
    connection
        .get_mut()
        .write_all(b"GET /work HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("send");
    let (_, body) = next_answer(connection).expect("an answer");
    body.strip_prefix("pid=")
        .and_then(|p| p.parse().ok())
        .expect("pid=N")
}

#[test]
fn tcp_and_unix_sockets_are_served_by_every_worker_through_hup_ttin_and_ttou() {
    let dir = scratch_dir("both");
    let unix = dir.join("app.sock");
    let bind = format!("127.0.0.1:0,unix:{}", unix.display());
    let mut fx = quiet_server(
        BIN,
        "2",
        &[("FORKLINE_BIND", &bind), ("FORKLINE_WORKER_THREADS", "2")],
    );
    let tcp = fx.addr(BOOT);
    fx.wait_for_workers(2, BOOT);
    assert!(
        fx.stderr().contains(&format!(
            "listening on {tcp}, unix:{} with 2 workers",
            unix.display()
        )),
        "{}",
        fx.stderr()
    );
    let mode = std::fs::metadata(&unix)
        .expect("the socket file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o666, "systemd's SocketMode default");

    // Balanced accept on the Unix socket: kept-alive connections spread over both workers.
    let kept: Vec<_> = (0..4)
        .map(|_| BufReader::new(Target::Unix(unix.clone()).connect().expect("connect")))
        .collect();
    let pids: BTreeSet<u32> = kept
        .into_iter()
        .map(|mut connection| answering_pid(&mut connection))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        pids.len(),
        2,
        "four kept connections on one worker: {pids:?}"
    );

    let over_tcp = Load::sending(tcp, 3, Request::post("/work", true));
    let over_unix = Load::sending(unix.clone(), 3, Request::post("/work", true));
    let both = [&over_tcp, &over_unix];
    wait_for_answers(&both, 300, "the load runs on both sockets");
    fx.signal(libc::SIGHUP);
    fx.wait_for_log("stopped after HUP", 2);
    wait_for_answers(&both, 300, "the load goes on after HUP");
    fx.signal(libc::SIGTTIN);
    // The HUP's first new worker was the third ready one too.
    fx.wait_for_log("is ready [ready=3]", 2);
    fx.signal(libc::SIGTTOU);
    fx.wait_for_log("stopped after TTOU", 1);
    wait_for_answers(&both, 300, "the load goes on after TTIN and TTOU");
    assert!(over_tcp.so_far().ok > 0 && over_unix.so_far().ok > 0);
    stop_and_assert_nothing_lost("TCP and Unix, HUP, TTIN, TTOU", over_tcp, over_unix);
    fx.stop();
    assert!(!unix.exists(), "the socket file goes with the server");
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_live_one_refused() {
    let dir = scratch_dir("stale");
    let path = dir.join("app.sock");
    // What a killed master leaves: a socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    let bind = format!("unix:{}", path.display());
    let env = [
        ("FORKLINE_BIND", bind.as_str()),
        ("FORKLINE_UNIX_SOCKET_MODE", "600"),
    ];
    let mut fx = quiet_server(BIN, "1", &env);
    fx.wait_for_workers(1, BOOT);
    wait_served(&Target::Unix(path.clone()), &fx);
    assert!(
        fx.stderr().contains("removing the stale socket file"),
        "{}",
        fx.stderr()
    );
    let mode = std::fs::metadata(&path)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // A second server on the same path: refused, and the first one's socket is untouched.
    let mut second = quiet_server(BIN, "1", &env);
    let status = second.wait_exit(BOOT).expect("the second server exits");
    assert_eq!(status.code(), Some(1), "{}", second.stderr());
    assert!(
        second
            .stderr()
            .contains("a live process listens on this socket"),
        "{}",
        second.stderr()
    );
    wait_served(&Target::Unix(path.clone()), &fx);
    fx.stop();
    assert!(!path.exists());

    // A path that is not a socket is never removed.
    std::fs::write(&path, "data").expect("a plain file");
    let mut third = quiet_server(BIN, "1", &env);
    assert_eq!(third.wait_exit(BOOT).and_then(|s| s.code()), Some(1));
    assert!(
        third.stderr().contains("not a socket"),
        "{}",
        third.stderr()
    );
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), "data");
}

#[test]
fn sockets_handed_over_as_descriptors_or_in_code_are_served() {
    // fd://N: a program that starts the server passes listening sockets as descriptors.
    let dir = scratch_dir("fd");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let tcp_addr = tcp.local_addr().expect("addr");
    let unix_path = dir.join("handed.sock");
    let unix = std::os::unix::net::UnixListener::bind(&unix_path).expect("bind");
    let bind = format!("fd://{},fd://{}", HANDED_FROM, HANDED_FROM + 1);
    let env = [
        ("FORKLINE_WORKERS", "2"),
        ("OTEL_TRACES_EXPORTER", "none"),
        ("SENTRY_DSN", ""),
        ("FORKLINE_BIND", bind.as_str()),
    ];
    let mut fx = Fixture::handing(BIN, &env, &[tcp.as_raw_fd(), unix.as_raw_fd()]);
    // The server's copies are its own: the test's go.
    drop((tcp, unix));
    for target in [Target::Tcp(tcp_addr), Target::Unix(unix_path.clone())] {
        wait_served(&target, &fx);
    }
    fx.signal(libc::SIGHUP);
    fx.wait_for_log("stopped after HUP", 2);
    wait_served(&Target::Unix(unix_path.clone()), &fx);
    fx.stop();
    assert!(
        unix_path.exists(),
        "a socket handed over is not the server's to remove"
    );

    // Server::listener: the program binds a socket itself and hands it to the server.
    let own = dir.join("own.sock");
    let own_text = own.display().to_string();
    let mut fx = quiet_server(BIN, "2", &[("FIXTURE_OWN_LISTENER", own_text.as_str())]);
    fx.wait_for_workers(2, BOOT);
    wait_served(&Target::Unix(own.clone()), &fx);
    fx.stop();

    // FORKLINE_BIND replaces it: the program's own socket is closed, not left taking
    // connections nobody answers.
    let replaced = dir.join("replaced.sock");
    let deployed = dir.join("deployed.sock");
    let (replaced_text, bind) = (
        replaced.display().to_string(),
        format!("unix:{}", deployed.display()),
    );
    let mut fx = quiet_server(
        BIN,
        "1",
        &[
            ("FIXTURE_OWN_LISTENER", replaced_text.as_str()),
            ("FORKLINE_BIND", bind.as_str()),
        ],
    );
    fx.wait_for_workers(1, BOOT);
    wait_served(&Target::Unix(deployed), &fx);
    let refused = std::os::unix::net::UnixStream::connect(&replaced).expect_err("closed");
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{refused}"
    );
    fx.stop();
}

#[test]
fn systemd_socket_activation_serves_systemds_sockets_and_leaves_them_to_it() {
    let dir = scratch_dir("systemd");
    let path = dir.join("sd.sock");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let tcp: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let tcp_text = tcp.to_string();
    let path_text = path.display().to_string();
    let mut fx = Fixture::socket_activated(
        BIN,
        &[&tcp_text, &path_text],
        "web:local",
        &[
            ("FORKLINE_WORKERS", "2"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("SENTRY_DSN", ""),
            // Replaced by systemd's sockets, as in Gunicorn.
            ("FORKLINE_BIND", "127.0.0.1:1"),
        ],
    );
    // systemd-socket-activate starts the service at the first connection, which it then serves.
    let first = wait_until(BOOT, || std::net::TcpStream::connect(tcp).ok())
        .unwrap_or_else(|| panic!("systemd-socket-activate listens:\n{}", fx.stderr()));
    first.set_read_timeout(Some(BOOT)).expect("timeout");
    let mut first = BufReader::new(Connection::Tcp(first));
    let pid = answering_pid(&mut first);
    assert!(
        pid != fx.pid && alive(pid),
        "a worker answered the first connection"
    );
    fx.wait_for_workers(2, BOOT);
    let stderr = fx.stderr();
    assert!(
        stderr.contains(&format!(
            "systemd socket activation: serving {tcp} (web), unix:{} (local)",
            path.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("127.0.0.1:1) are not bound"), "{stderr}");
    wait_served(&Target::Unix(path.clone()), &fx);

    let over_tcp = Load::sending(tcp, 2, Request::post("/work", true));
    let over_unix = Load::sending(path.clone(), 2, Request::post("/work", true));
    wait_for_answers(&[&over_tcp, &over_unix], 200, "the load runs");
    fx.signal(libc::SIGHUP);
    fx.wait_for_log("stopped after HUP", 2);
    wait_for_answers(&[&over_tcp, &over_unix], 200, "the load goes on after HUP");
    stop_and_assert_nothing_lost("systemd's sockets, HUP", over_tcp, over_unix);
    fx.stop();
    assert!(
        path.exists(),
        "systemd's socket file is systemd's to remove"
    );
}

#[test]
fn a_binary_upgrade_hands_every_socket_over_and_the_last_master_removes_the_file() {
    become_subreaper();
    let dir = scratch_dir("upgrade");
    let unix = dir.join("app.sock");
    let pidfile = dir.join("app.pid");
    let bind = format!("127.0.0.1:0,unix:{}", unix.display());
    let pidfile_text = pidfile.display().to_string();
    let mut old = quiet_server(
        BIN,
        "2",
        &[
            ("FORKLINE_BIND", &bind),
            ("FORKLINE_PIDFILE", &pidfile_text),
        ],
    );
    let tcp = old.addr(BOOT);
    old.wait_for_workers(2, BOOT);
    let over_tcp = Load::sending(tcp, 2, Request::post("/work", true));
    let over_unix = Load::sending(unix.clone(), 2, Request::post("/work", true));
    let both = [&over_tcp, &over_unix];
    wait_for_answers(&both, 200, "the load runs");

    let upgraded = start_new_master(&old, &pidfile, 2, BOOT);
    let new = upgraded.0;
    assert_eq!(
        lines_of(
            &old.stderr(),
            new,
            &format!("serving the sockets {tcp}, unix:{}", unix.display())
        ),
        1,
        "{}",
        old.stderr()
    );
    retire_old_master(&mut old, 2, BOOT);
    assert!(
        unix.exists(),
        "the old master leaves the file to the new one"
    );
    wait_for_answers(&both, 200, "the new master serves both sockets alone");
    stop_and_assert_nothing_lost("USR2 → WINCH → TERM", over_tcp, over_unix);

    signal_pid(new, libc::SIGTERM);
    assert_eq!(reap(new, BOOT), Some(0), "{}", old.stderr());
    assert!(!unix.exists(), "the last master removes the file");
}
