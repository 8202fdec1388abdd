//! A small HTTP/1.1 load generator for the balance bench and the stop-under-load tests: a fixed
//! number of client threads, each sending `GET path` over and over, until stopped. It tells
//! apart what a server must never do (take a connection and then drop a request on it) from what
//! clients handle anyway (a refused connect, or a keep-alive connection the server closed while
//! idle, on which the request is simply sent again, as HTTP clients do).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the clients saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOutcome {
    /// Requests answered with 200.
    pub ok: u64,
    /// Requests sent on a fresh connection and answered with anything else, or not answered.
    pub failed: u64,
    /// Connects refused (nobody listening): never accepted, so nothing lost.
    pub refused: u64,
    /// Requests sent again because an idle keep-alive connection was closed before any byte
    /// of the answer came back.
    pub resent: u64,
    /// The longest exchange answered with 200, in microseconds.
    pub longest_ok_us: u64,
}

#[derive(Debug, Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    resent: AtomicU64,
    longest_ok_us: AtomicU64,
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

fn exchange(reader: &mut BufReader<TcpStream>, request: &[u8]) -> Answer {
    if reader.get_mut().write_all(request).is_err() {
        return Answer::Nothing;
    }
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => return Answer::Nothing,
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
            Ok(0) | Err(_) => return Answer::Broken,
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
        return Answer::Broken;
    }
    match status {
        200 => Answer::Ok { close },
        _ => Answer::NotOk,
    }
}

fn client(addr: SocketAddr, path: &str, keep_alive: bool, stop: &AtomicBool, counts: &Counts) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: load\r\n{}\r\n",
        if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        }
    );
    let mut pending_resend = false;
    while !stop.load(Ordering::Relaxed) || pending_resend {
        let stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => s,
            Err(_) => {
                counts.refused.fetch_add(1, Ordering::Relaxed);
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1)); // Nobody listening: do not spin.
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(stream);
        let mut fresh = true;
        pending_resend = false;
        loop {
            let sent = Instant::now();
            match exchange(&mut reader, request.as_bytes()) {
                Answer::Ok { close } => {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                    let took = sent.elapsed().as_micros() as u64;
                    counts.longest_ok_us.fetch_max(took, Ordering::Relaxed);
                    if close || !keep_alive || stop.load(Ordering::Relaxed) {
                        break;
                    }
                }
                Answer::Nothing if !fresh => {
                    counts.resent.fetch_add(1, Ordering::Relaxed);
                    pending_resend = true;
                    break;
                }
                Answer::Nothing | Answer::Broken | Answer::NotOk => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            fresh = false;
        }
    }
}

impl Load {
    /// `connections` clients sending `GET path`, each on keep-alive connections or on a new
    /// connection per request.
    pub fn start(addr: SocketAddr, connections: usize, keep_alive: bool, path: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let threads = (0..connections)
            .map(|_| {
                let (stop, counts, path) = (stop.clone(), counts.clone(), path.to_string());
                std::thread::spawn(move || client(addr, &path, keep_alive, &stop, &counts))
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
            refused: c.refused.load(Ordering::Relaxed),
            resent: c.resent.load(Ordering::Relaxed),
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

/// Stops a load of new connections and one of keep-alive connections that ran through `what`
/// (a HUP, a recycle), and asserts that no request was lost and the socket never closed.
pub fn stop_and_assert_nothing_lost(what: &str, fresh: Load, kept: Load) {
    let (fresh, _) = fresh.stop();
    let (kept, _) = kept.stop();
    eprintln!("{what}: new connections {fresh:?}; keep-alive {kept:?}");
    for seen in [fresh, kept] {
        assert_eq!(seen.failed, 0, "{what}: {seen:?}");
        assert_eq!(seen.refused, 0, "{what}: the socket never closed: {seen:?}");
    }
}
