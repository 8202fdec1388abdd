//! A TLS front for the real backends: a test CA and a server certificate for 127.0.0.1 made with
//! the `openssl` command, and the distribution's nginx terminating TLS on two ports of 127.0.0.1,
//! one in front of otelite's OTLP/HTTP port and one in front of Bugsink. So an `https://` OTLP
//! endpoint and an `https://` DSN are tested against real servers, trusting only the test CA.

use crate::harness::{scratch_dir, wait_until};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// nginx serving TLS in front of two plain HTTP backends; stopped when dropped.
#[derive(Debug)]
pub struct TlsFront {
    /// The https port in front of the first backend (otelite's OTLP/HTTP).
    pub otlp: SocketAddr,
    /// The https port in front of the second backend (Bugsink).
    pub sentry: SocketAddr,
    /// The test CA's certificate (PEM), the only root that signs the server's.
    pub ca: PathBuf,
    dir: PathBuf,
    child: Child,
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a certificate for 127.0.0.1 and localhost signed by it: `ca.pem`, `server.pem`,
/// `server.key` in `dir`.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=forkline test CA",
    ];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut request = vec!["req", "-subj", "/CN=127.0.0.1"];
    request.extend(ec);
    request.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &request);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("server.ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

impl TlsFront {
    /// TLS on two free ports of 127.0.0.1, in front of `otlp` and `sentry` (plain HTTP).
    pub fn start(otlp_backend: SocketAddr, sentry_backend: SocketAddr) -> Self {
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let dir = scratch_dir(&format!(
            "tls-front-{}",
            STARTED.fetch_add(1, Ordering::Relaxed)
        ));
        certificates(&dir);
        let (otlp, sentry) = (free_port(), free_port());
        let d = dir.display();
        let server = |listen: SocketAddr, backend: SocketAddr| {
            format!(
                r#"    server {{
        listen {listen} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.key;
        client_max_body_size 64m;
        location / {{
            proxy_pass http://{backend};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
"#
            )
        };
        let config = format!(
            "{}\n{}{}}}\n",
            crate::nginx::head(&dir, "$server_port $status"),
            server(otlp, otlp_backend),
            server(sentry, sentry_backend)
        );
        std::fs::write(dir.join("nginx.conf"), config).expect("nginx.conf");
        let child = crate::nginx::spawn(&dir);
        let front = Self {
            otlp,
            sentry,
            ca: dir.join("ca.pem"),
            dir,
            child,
        };
        for addr in [otlp, sentry] {
            wait_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(addr).ok()
            })
            .unwrap_or_else(|| panic!("nginx did not listen on {addr}: {}", front.logs()));
        }
        front
    }

    /// nginx's error output and log.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
            + &std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// Requests answered on `port` by status, from the access log.
    pub fn answered(&self, port: u16) -> Vec<u16> {
        std::fs::read_to_string(self.dir.join("access.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (p, status) = line.split_once(' ')?;
                (p.parse() == Ok(port)).then(|| status.parse().ok())?
            })
            .collect()
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        crate::nginx::stop(&mut self.child, &self.dir);
    }
}
