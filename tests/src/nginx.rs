//! A real nginx (the distribution's package; `./scripts/test` installs it) as a reverse proxy
//! in front of a fixture server, the way forkline services are deployed: HTTP/1.1 to the
//! upstream with `keepalive` connections, so nginx sends a request on a connection it kept as
//! soon as it has one. nginx retries a failed GET on another connection and never a POST, so a
//! worker that drops a request on a kept connection shows as a 502 for a POST. Its access log
//! records every answer's status with the upstream's (`502, 200` for a retried GET), and its
//! error log every upstream error.

use crate::harness::wait_until;
use crate::load::Target;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The nginx binary: `FORKLINE_NGINX`, else `nginx` on the PATH or in /usr/sbin.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("FORKLINE_NGINX") {
        return path.into();
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

/// An nginx proxying to one upstream; stopped (QUIT, then KILL) when dropped.
#[derive(Debug)]
pub struct Nginx {
    /// Where clients connect.
    pub addr: SocketAddr,
    dir: PathBuf,
    child: Child,
}

impl Nginx {
    /// nginx on a free port of 127.0.0.1, proxying to `upstream` (a TCP address or a Unix
    /// socket's path) with `keepalive` idle connections kept per nginx worker.
    pub fn start(upstream: impl Into<Target>, keepalive: u32) -> Self {
        let upstream = upstream.into();
        let dir = std::env::temp_dir().join(format!(
            "forkline-nginx-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("nginx folder");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
        std::fs::write(
            dir.join("nginx.conf"),
            config(&dir, addr, &upstream, keepalive),
        )
        .expect("nginx.conf");
        let child = spawn(&dir);
        let nginx = Self { addr, dir, child };
        wait_until(Duration::from_secs(20), || {
            std::net::TcpStream::connect(addr).ok()
        })
        .unwrap_or_else(|| panic!("nginx did not listen on {addr}: {}", nginx.stderr()));
        nginx
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Answers by status, from the access log: `502` is a 502 a client got.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        let mut seen = BTreeMap::new();
        for line in self.access_log().lines() {
            if let Some(status) = line.split_whitespace().next().and_then(|s| s.parse().ok()) {
                *seen.entry(status).or_insert(0) += 1;
            }
        }
        seen
    }

    /// Requests nginx had to send to the upstream again, or could not: the access log's
    /// lines with more than one upstream status, or an upstream status of 502 or 504.
    pub fn upstream_failures(&self) -> u64 {
        self.access_log()
            .lines()
            .filter(|line| {
                let upstream = line.split_once(' ').map_or("", |(_, u)| u);
                upstream.contains(',') || upstream.contains("502") || upstream.contains("504")
            })
            .count() as u64
    }

    /// The upstream errors nginx logged (a connection closed, reset or refused under it).
    pub fn upstream_errors(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("error.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("upstream"))
            .map(str::to_string)
            .collect()
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop(&mut self.child, &self.dir);
    }
}

/// Starts nginx on `dir/nginx.conf`, everything in `dir` (its error output in `stderr.log`).
pub fn spawn(dir: &Path) -> Child {
    Command::new(binary())
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).expect("stderr.log"))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start nginx ({}): {e}; install it (Debian: apt-get install \
                 nginx-light) or point FORKLINE_NGINX at it",
                binary().display()
            )
        })
}

/// Stops an nginx gracefully (QUIT), or with KILL after 5 s, and removes its folder.
pub fn stop(child: &mut Child, dir: &Path) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
    if wait_until(Duration::from_secs(5), || child.try_wait().ok().flatten()).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// The loopback address nginx connects to the upstream from (trust it with
/// `FORKLINE_FORWARDED_ALLOW_IPS`).
pub const PROXY_SOURCE: &str = "127.0.0.2";

/// The start of an nginx.conf: one worker in the foreground, everything in `dir`, the access
/// log's lines in `log_format`; the `http` block is left open for the servers.
pub fn head(dir: &Path, log_format: &str) -> String {
    let d = dir.display();
    // As root, nginx's worker would switch to `nobody`, who cannot write in the test's folder.
    // SAFETY: geteuid has no preconditions.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    format!(
        r#"{user}
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format line '{log_format}';
    access_log {d}/access.log line;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;"#
    )
}

/// One nginx worker (the machine has two cores, one of which runs the upstream), in the
/// foreground, everything in `dir`; the settings that matter are the upstream's `keepalive`
/// and HTTP/1.1 with the `Connection` header cleared, without which nginx closes every
/// upstream connection after one request; it forwards the client's address, scheme and host as
/// deployments do (`X-Forwarded-For`, `X-Forwarded-Proto`, `Host`).
fn config(dir: &Path, listen: SocketAddr, upstream: &Target, keepalive: u32) -> String {
    // From an address of its own, so a test can trust nginx and not its clients, which are on
    // loopback too; a Unix socket peer is trusted as such.
    let (upstream, bind) = match upstream {
        Target::Tcp(addr) => (addr.to_string(), format!("proxy_bind {PROXY_SOURCE};")),
        Target::Unix(path) => (format!("unix:{}", path.display()), String::new()),
    };
    let head = head(dir, "$status $upstream_status");
    format!(
        r#"{head}
    upstream app {{
        server {upstream};
        keepalive {keepalive};
    }}
    server {{
        listen {listen};
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            {bind}
        }}
    }}
}}
"#
    )
}
