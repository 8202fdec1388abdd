//! A small HTTP/1.1 load generator for the balance bench, the soak and the stop-under-load
//! tests: a fixed number of client threads, each sending one request after another, until
//! stopped. Every request that gets no answer counts as failed, whatever connection it went out
//! on: nginx does not retry a POST on a new connection, and Python's `http.client` retries
//! nothing. The requests that went unanswered on a kept-alive connection are also counted apart
//! (`unanswered_kept`): those are the ones an HTTP client that does retry would send again.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the clients saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOutcome {
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests sent and answered with anything else (`not_ok` of them), or not answered.
    pub failed: u64,
    /// Of `failed`: answered with a status other than 200 (a proxy's 502, for one).
    pub not_ok: u64,
    /// Of `failed`: sent on a kept-alive connection that was closed before any byte of the
    /// answer came back (a client that retries would send these again).
    pub unanswered_kept: u64,
    /// Connects refused (nobody listening): never accepted, so nothing lost.
    pub refused: u64,
    /// The longest exchange answered with 200, in microseconds.
    pub longest_ok_us: u64,
}

#[derive(Debug, Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    not_ok: AtomicU64,
    unanswered_kept: AtomicU64,
    refused: AtomicU64,
    longest_ok_us: AtomicU64,
}

/// Where clients connect: a TCP address or a Unix socket's path.
#[derive(Debug, Clone)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl From<SocketAddr> for Target {
    fn from(addr: SocketAddr) -> Self {
        Self::Tcp(addr)
    }
}

impl From<PathBuf> for Target {
    fn from(path: PathBuf) -> Self {
        Self::Unix(path)
    }
}

/// A client's connection, over TCP or a Unix socket.
#[derive(Debug)]
pub enum Connection {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Target {
    /// A new connection, with a 10 s read timeout.
    pub fn connect(&self) -> std::io::Result<Connection> {
        let connection = match self {
            Self::Tcp(addr) => {
                let stream = TcpStream::connect_timeout(addr, Duration::from_secs(2))?;
                let _ = stream.set_nodelay(true);
                Connection::Tcp(stream)
            }
            Self::Unix(path) => Connection::Unix(UnixStream::connect(path)?),
        };
        let timeout = Some(Duration::from_secs(10));
        match &connection {
            Connection::Tcp(s) => s.set_read_timeout(timeout)?,
            Connection::Unix(s) => s.set_read_timeout(timeout)?,
        }
        Ok(connection)
    }
}

impl Read for Connection {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Connection {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Self::Tcp(s) => s.flush(),
            Self::Unix(s) => s.flush(),
        }
    }
}

/// One answer read off a kept-alive connection: its status and body; `None` once the server has
/// closed the connection.
pub fn next_answer(reader: &mut impl BufRead) -> Option<(u16, String)> {
    let mut status_line = String::new();
    if reader.read_line(&mut status_line).ok()? == 0 {
        return None;
    }
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((status, String::from_utf8_lossy(&body).into_owned()))
}

/// One GET of `path` on a new connection to `target` (`Connection: close`): its status and body.
pub fn get_once(target: &Target, path: &str) -> std::io::Result<(u16, String)> {
    let mut connection = target.connect()?;
    write!(
        connection,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    connection.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    Ok((status, body))
}

/// What each client sends, over and over.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET` or `POST` (a POST carries a small body).
    pub method: &'static str,
    /// The path.
    pub path: String,
    /// Whether connections are kept alive between requests.
    pub keep_alive: bool,
}

impl Request {
    /// `GET path`.
    pub fn get(path: &str, keep_alive: bool) -> Self {
        Self {
            method: "GET",
            path: path.into(),
            keep_alive,
        }
    }

    /// `POST path` with a small body: what a proxy will not retry on a new connection.
    pub fn post(path: &str, keep_alive: bool) -> Self {
        Self {
            method: "POST",
            ..Self::get(path, keep_alive)
        }
    }

    /// The request as it goes on the wire.
    pub fn bytes(&self) -> Vec<u8> {
        let close = if self.keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        let body = if self.method == "POST" {
            "{\"order\":1}"
        } else {
            ""
        };
        let length = if body.is_empty() {
            String::new()
        } else {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )
        };
        format!(
            "{} {} HTTP/1.1\r\nHost: load\r\n{close}{length}\r\n{body}",
            self.method, self.path
        )
        .into_bytes()
    }
}

/// Clients running against a server.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    threads: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
}

enum Answer {
    Ok {
        close: bool,
    },
    /// Answered, not with 200.
    NotOk,
    /// Closed before any byte of the answer.
    Nothing,
    Broken,
}

/// One answer read off a connection.
enum Reply {
    Answered {
        status: u16,
        close: bool,
    },
    /// Closed before any byte of the answer.
    Nothing,
    /// Cut off part way.
    Broken,
}

fn read_answer(reader: &mut impl BufRead) -> Reply {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => return Reply::Nothing,
        Ok(_) => {}
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut length, mut close) = (0usize, false);
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return Reply::Broken,
            Ok(_) => {}
        }
        let lower = line.to_ascii_lowercase();
        if lower == "\r\n" {
            break;
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        close |= lower.starts_with("connection:") && lower.contains("close");
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return Reply::Broken;
    }
    Reply::Answered { status, close }
}

fn exchange<S: Read + Write>(reader: &mut BufReader<S>, request: &[u8]) -> Answer {
    if reader.get_mut().write_all(request).is_err() {
        return Answer::Nothing;
    }
    match read_answer(reader) {
        Reply::Answered { status: 200, close } => Answer::Ok { close },
        Reply::Answered { .. } => Answer::NotOk,
        Reply::Nothing => Answer::Nothing,
        Reply::Broken => Answer::Broken,
    }
}

fn client(target: &Target, request: &Request, stop: &AtomicBool, counts: &Counts) {
    let bytes = request.bytes();
    while !stop.load(Ordering::Relaxed) {
        let stream = match target.connect() {
            Ok(s) => s,
            Err(_) => {
                counts.refused.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1)); // Nobody listening: do not spin.
                continue;
            }
        };
        let mut reader = BufReader::new(stream);
        let mut fresh = true;
        loop {
            let sent = Instant::now();
            let answer = exchange(&mut reader, &bytes);
            if !matches!(answer, Answer::Ok { .. }) {
                counts.failed.fetch_add(1, Ordering::Relaxed);
            }
            match answer {
                Answer::Ok { close } => {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                    let took = sent.elapsed().as_micros() as u64;
                    counts.longest_ok_us.fetch_max(took, Ordering::Relaxed);
                    if close || !request.keep_alive || stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                Answer::Nothing if !fresh => {
                    counts.unanswered_kept.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Answer::NotOk => {
                    counts.not_ok.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Answer::Nothing | Answer::Broken => break,
            }
            fresh = false;
        }
    }
}

impl Load {
    /// `connections` clients sending `GET path`, each on keep-alive connections or on a new
    /// connection per request.
    pub fn start(
        target: impl Into<Target>,
        connections: usize,
        keep_alive: bool,
        path: &str,
    ) -> Self {
        Self::sending(target, connections, Request::get(path, keep_alive))
    }

    /// `connections` clients sending `request` one after another.
    pub fn sending(target: impl Into<Target>, connections: usize, request: Request) -> Self {
        let target = target.into();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let threads = (0..connections)
            .map(|_| {
                let (stop, counts, request, target) = (
                    stop.clone(),
                    counts.clone(),
                    request.clone(),
                    target.clone(),
                );
                std::thread::spawn(move || client(&target, &request, &stop, &counts))
            })
            .collect();
        Self {
            stop,
            counts,
            threads,
            started: Instant::now(),
        }
    }

    /// What the clients have seen so far.
    pub fn so_far(&self) -> LoadOutcome {
        let c = &self.counts;
        LoadOutcome {
            ok: c.ok.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            not_ok: c.not_ok.load(Ordering::Relaxed),
            unanswered_kept: c.unanswered_kept.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            longest_ok_us: c.longest_ok_us.load(Ordering::Relaxed),
        }
    }

    /// Stops the clients (each finishes the request it is on) and says what they saw and for
    /// how long they ran.
    pub fn stop(mut self) -> (LoadOutcome, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }
        (self.so_far(), self.started.elapsed())
    }
}

/// Waits (30 s at most) until `loads` together have `more` requests answered beyond what they
/// had; panics with `what` otherwise.
pub fn wait_for_answers(loads: &[&Load], more: u64, what: &str) {
    let ok = || loads.iter().map(|l| l.so_far().ok).sum::<u64>();
    let before = ok();
    crate::harness::wait_until(Duration::from_secs(30), || {
        (ok() >= before + more).then_some(())
    })
    .unwrap_or_else(|| panic!("{what}: no {more} more answers"));
}

/// Stops two loads that ran through `what` (a HUP, a recycle), and asserts that no request
/// was lost and the socket never closed.
pub fn stop_and_assert_nothing_lost(what: &str, one: Load, other: Load) {
    let (one, _) = one.stop();
    let (other, _) = other.stop();
    eprintln!("{what}: {one:?}; {other:?}");
    for seen in [one, other] {
        assert_eq!(seen.failed, 0, "{what}: {seen:?}");
        assert_eq!(seen.refused, 0, "{what}: the socket never closed: {seen:?}");
    }
}

/// How one kept-alive connection ended (see [`until_told_to_close`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptConnection {
    /// Requests answered with 200.
    pub answered: u64,
    /// Whether the last answer said `Connection: close`: the server ended the connection
    /// cleanly. `false`: a request went out and nothing came back (or a non-200 answer).
    pub told_to_close: bool,
}

/// One client on one kept-alive connection, the way Python's `http.client` is used: sends
/// `request`, reads the answer, and sends the next one at once (or after `pause`, a client
/// idle in a pool), retrying nothing, until the server says `Connection: close` or a request
/// gets no answer. Gives up after `limit` requests. Counts each answer in `progress`.
pub fn until_told_to_close(
    addr: SocketAddr,
    request: &Request,
    pause: Duration,
    limit: u64,
    progress: &AtomicU64,
) -> KeptConnection {
    let stream = TcpStream::connect(addr).expect("connect");
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let mut reader = BufReader::new(stream);
    let bytes = request.bytes();
    let mut answered = 0;
    while answered < limit {
        match exchange(&mut reader, &bytes) {
            Answer::Ok { close } => {
                answered += 1;
                progress.fetch_add(1, Ordering::Relaxed);
                if close {
                    return KeptConnection {
                        answered,
                        told_to_close: true,
                    };
                }
            }
            _ => break,
        }
        if !pause.is_zero() {
            std::thread::sleep(pause); // The client's own idle time, not a synchronisation.
        }
    }
    KeptConnection {
        answered,
        told_to_close: false,
    }
}

/// Reads the answers on `stream` until it closes: each as (status, whether it said
/// `Connection: close`).
pub fn answers(stream: TcpStream) -> Vec<(u16, bool)> {
    let mut reader = BufReader::new(stream);
    let mut seen = Vec::new();
    while let Reply::Answered { status, close } = read_answer(&mut reader) {
        seen.push((status, close));
    }
    seen
}

/// A kept-alive connection that has had one answer to `request` and is left idle, the way a
/// client pool keeps it.
pub fn kept_idle(addr: SocketAddr, request: &Request) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    let mut reader = BufReader::new(stream);
    assert!(
        matches!(
            exchange(&mut reader, &request.bytes()),
            Answer::Ok { close: false }
        ),
        "a kept-alive answer"
    );
    reader.into_inner()
}
