//! A real nginx in front of a forkline server, with upstream `keepalive`, as services are
//! deployed: under a bounded keep-alive load of GETs and POSTs through nginx, every graceful
//! change of workers (a HUP storm, `max_requests` recycling, TTOU, and a binary upgrade's USR2 →
//! WINCH → TERM) gives clients no error and nginx no upstream failure: no 502 or 504, and no
//! request that nginx had to send again (it would for a GET, never for a POST). Over TCP and
//! over a Unix socket.

use forkline_tests::fixture_env::quiet_server;
use forkline_tests::harness::{signal_pid, wait_until, Fixture};
use forkline_tests::load::{wait_for_answers, Load, LoadOutcome, Request};
use forkline_tests::nginx::Nginx;
use forkline_tests::processes::{
    become_subreaper, lines_of, reap, retire_old_master, start_new_master,
};
use std::net::SocketAddr;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_master_state_server");
const BOOT: Duration = Duration::from_secs(30);

/// A server of `workers` workers (two runtime threads each) behind nginx with `keepalive 16`.
fn behind_nginx(workers: &str, extra: &[(&str, &str)]) -> (Fixture, Nginx) {
    let mut env = vec![("FORKLINE_WORKER_THREADS", "2")];
    env.extend_from_slice(extra);
    let fx = quiet_server(BIN, workers, &env);
    let upstream = fx.addr(BOOT);
    fx.wait_for_workers(workers.parse().expect("a count"), BOOT);
    let nginx = Nginx::start(upstream, 16);
    (fx, nginx)
}

/// Eight keep-alive clients through nginx: four POST, four GET.
struct Clients {
    posts: Load,
    gets: Load,
}

impl Clients {
    fn start(addr: SocketAddr) -> Self {
        Self {
            posts: Load::sending(addr, 4, Request::post("/work", true)),
            gets: Load::sending(addr, 4, Request::get("/work", true)),
        }
    }

    /// Waits until `more` requests more were answered.
    fn answered(&self, more: u64, what: &str) {
        wait_for_answers(&[&self.posts, &self.gets], more, what);
    }

    /// Stops the clients and asserts that neither they nor nginx saw any failure.
    fn stop_and_assert_no_failure(self, what: &str, nginx: &Nginx, fx: &Fixture) {
        let (posts, _) = self.posts.stop();
        let (gets, _) = self.gets.stop();
        let statuses = nginx.statuses();
        let upstream_errors = nginx.upstream_errors();
        eprintln!(
            "{what}: POST {posts:?}; GET {gets:?}; nginx statuses {statuses:?}, {} upstream \
             failures, {} upstream errors logged",
            nginx.upstream_failures(),
            upstream_errors.len()
        );
        let clean = |seen: &LoadOutcome| seen.failed == 0 && seen.refused == 0 && seen.ok > 0;
        assert!(
            clean(&posts) && clean(&gets),
            "{what}: POST {posts:?}; GET {gets:?}"
        );
        assert_eq!(
            statuses.keys().copied().collect::<Vec<_>>(),
            vec![200],
            "{what}: nginx answered {statuses:?}\n{}",
            fx.stderr()
        );
        assert_eq!(nginx.upstream_failures(), 0, "{what}: {upstream_errors:#?}");
        assert!(upstream_errors.is_empty(), "{what}: {upstream_errors:#?}");
    }
}

#[test]
fn through_nginx_a_hup_storm_fails_no_request() {
    let (mut fx, nginx) = behind_nginx("2", &[]);
    let clients = Clients::start(nginx.addr);
    clients.answered(500, "the load runs");
    // 20 HUPs in 5 s: the spacing is the scenario, not a synchronisation.
    for _ in 0..20 {
        fx.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(250));
    }
    wait_until(Duration::from_secs(60), || {
        let stderr = fx.stderr();
        let asked = stderr.matches("its replacement is ready (HUP)").count();
        (asked >= 2 && stderr.matches("stopped after HUP").count() == asked).then_some(())
    })
    .unwrap_or_else(|| panic!("the HUPs' old workers all stop:\n{}", fx.stderr()));
    clients.answered(500, "the load goes on after the storm");
    clients.stop_and_assert_no_failure("nginx, 20 HUPs in 5 s", &nginx, &fx);
    fx.stop();
}

#[test]
fn through_nginx_max_requests_recycling_fails_no_request() {
    let (mut fx, nginx) = behind_nginx("2", &[("FORKLINE_MAX_REQUESTS", "300")]);
    let clients = Clients::start(nginx.addr);
    fx.wait_for_log("(max_requests); starting its replacement", 6);
    clients.answered(300, "the load goes on");
    clients.stop_and_assert_no_failure("nginx, max_requests=300", &nginx, &fx);
    fx.stop();
}

#[test]
fn through_nginx_ttou_fails_no_request() {
    let (mut fx, nginx) = behind_nginx("3", &[]);
    let clients = Clients::start(nginx.addr);
    clients.answered(500, "the load runs");
    for retired in 1..=2 {
        fx.signal(libc::SIGTTOU);
        fx.wait_for_log("stopped after TTOU", retired);
        clients.answered(300, "the load goes on after TTOU");
    }
    clients.stop_and_assert_no_failure("nginx, TTOU twice", &nginx, &fx);
    fx.stop();
}

#[test]
fn through_nginx_a_binary_upgrade_fails_no_request() {
    become_subreaper();
    let pidfile = std::env::temp_dir().join(format!("forkline-proxy-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pidfile);
    let path = pidfile.to_str().expect("a UTF-8 temp path");
    let (mut old, nginx) = behind_nginx("2", &[("FORKLINE_PIDFILE", path)]);
    let clients = Clients::start(nginx.addr);
    clients.answered(500, "the load runs");

    // USR2: a new master from the same executable, on the same socket.
    let upgraded = start_new_master(&old, &pidfile, 2, BOOT);
    let new = upgraded.0;
    clients.answered(300, "both masters serve");

    // WINCH: the old master's workers stop gracefully; TERM: the old master exits.
    old.signal(libc::SIGWINCH);
    wait_until(BOOT, || {
        (lines_of(&old.stderr(), old.pid, "stopped after WINCH") == 2).then_some(())
    })
    .unwrap_or_else(|| panic!("the old workers stop after WINCH:\n{}", old.stderr()));
    clients.answered(300, "the new master serves alone");
    old.signal(libc::SIGTERM);
    assert!(
        old.wait_exit(BOOT).is_some_and(|s| s.success()),
        "{}",
        old.stderr()
    );
    clients.answered(300, "the load goes on after the old master");
    clients.stop_and_assert_no_failure("nginx, USR2 → WINCH → TERM", &nginx, &old);

    signal_pid(new, libc::SIGTERM);
    assert_eq!(reap(new, BOOT), Some(0), "{}", old.stderr());
}

/// A GET of `path` with `headers`, from the loopback address `from` (nginx sees it as the client).
fn get_from(from: std::net::Ipv4Addr, to: SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let SocketAddr::V4(to) = to else {
        panic!("nginx listens on IPv4 here")
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls with valid, correctly sized addresses; the descriptor is owned
    // by the TcpStream from here on.
    let mut stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let local = sockaddr(from, 0);
        assert_eq!(
            libc::bind(fd, (&raw const local).cast(), len),
            0,
            "bind {from}"
        );
        let remote = sockaddr(*to.ip(), to.port());
        assert_eq!(
            libc::connect(fd, (&raw const remote).cast(), len),
            0,
            "connect"
        );
        std::net::TcpStream::from_raw_fd(fd)
    };
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n{extra}\r\n"
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn through_nginx_the_span_has_the_real_clients_address_whatever_it_claims() {
    let trusted = forkline_tests::nginx::PROXY_SOURCE;
    let (mut fx, nginx) = behind_nginx(
        "1",
        &[
            ("FORKLINE_FORWARDED_ALLOW_IPS", trusted),
            ("OTEL_TRACES_EXPORTER", "embedded"),
        ],
    );
    let worker = fx.booted_workers()[0];
    let client = std::net::Ipv4Addr::new(127, 0, 0, 3);
    // The client claims another address; nginx appends the one it saw.
    let status = get_from(
        client,
        nginx.addr,
        "/work",
        &[("X-Forwarded-For", "6.6.6.6")],
    );
    assert_eq!(status, 200);
    fx.stop();
    let span = forkline_tests::harness::read_spans(&fx.run_dir(), worker)
        .iter()
        .map(|s| forkline_tests::harness::attributes(&s["attributes"]))
        .find(|a| a.get("client.address").is_some())
        .unwrap_or_else(|| panic!("a server span:\n{}", fx.stderr()));
    assert_eq!(span["client.address"], "127.0.0.3", "{span:#}");
    assert_eq!(span["server.address"], "shop.example", "{span:#}");
    assert_eq!(span["url.scheme"], "http", "{span:#}");
}

#[test]
fn through_nginx_over_a_unix_socket_hup_and_upgrade_fail_no_request_and_spans_have_the_client() {
    become_subreaper();
    let dir = forkline_tests::harness::scratch_dir("proxy-unix");
    let (socket, pidfile) = (dir.join("app.sock"), dir.join("app.pid"));
    let bind = format!("unix:{}", socket.display());
    let pidfile_text = pidfile.display().to_string();
    let mut old = quiet_server(
        BIN,
        "2",
        &[
            ("FORKLINE_BIND", bind.as_str()),
            ("FORKLINE_PIDFILE", pidfile_text.as_str()),
            ("FORKLINE_WORKER_THREADS", "2"),
            ("OTEL_TRACES_EXPORTER", "embedded"),
        ],
    );
    old.wait_for_workers(2, BOOT);
    let nginx = Nginx::start(socket.clone(), 16);
    let clients = Clients::start(nginx.addr);
    clients.answered(500, "the load runs");
    for _ in 0..5 {
        fx_hup(&old);
    }
    clients.answered(300, "the load goes on after the HUPs");

    // USR2 → WINCH → TERM: the new master serves the same socket file.
    let upgraded = start_new_master(&old, &pidfile, 2, BOOT);
    let new = upgraded.0;
    retire_old_master(&mut old, 2, BOOT);
    clients.answered(300, "the new master serves alone");
    clients.stop_and_assert_no_failure("nginx over a Unix socket, 5 HUPs, USR2", &nginx, &old);

    // The client's address, not the proxy's (a Unix socket peer has none): nginx's
    // X-Forwarded-For is believed from the socket, as Gunicorn believes it.
    let status = get_from(
        std::net::Ipv4Addr::new(127, 0, 0, 3),
        nginx.addr,
        "/work",
        &[],
    );
    assert_eq!(status, 200);
    signal_pid(new, libc::SIGTERM);
    assert_eq!(reap(new, BOOT), Some(0), "{}", old.stderr());
    assert!(!socket.exists(), "the last master removes its socket file");
    let clients_seen: Vec<String> = old
        .booted_workers()
        .into_iter()
        .flat_map(|pid| forkline_tests::harness::read_spans(&old.run_dir(), pid))
        .filter_map(|span| {
            let a = forkline_tests::harness::attributes(&span["attributes"]);
            a.get("client.address")
                .and_then(|c| c.as_str())
                .map(str::to_string)
        })
        .collect();
    assert!(
        clients_seen.iter().any(|c| c == "127.0.0.3"),
        "the server spans' client.address: {:?}",
        clients_seen
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(
        clients_seen
            .iter()
            .all(|c| c == "127.0.0.1" || c == "127.0.0.3"),
        "only the clients' loopback addresses: {:?}",
        clients_seen
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
    );
}

/// One HUP, waited for: every old worker has stopped.
fn fx_hup(fx: &Fixture) {
    let before = fx.stderr().matches("stopped after HUP").count();
    fx.signal(libc::SIGHUP);
    fx.wait_for_log("stopped after HUP", before + 2);
}
