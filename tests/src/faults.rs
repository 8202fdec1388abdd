//! Misbehaving HTTP servers on 127.0.0.1 for fault tests: each counts the requests it answered
//! with success, and stops (closing every connection) when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The guard settings of the fault tests: short enough that every fault plays out in a
/// second or two, with the breaker opening after three failures.
pub fn test_policy() -> forkline::config::GuardConfig {
    let mut policy = forkline::config::GuardConfig::for_profile(forkline::Profile::Development);
    policy.connect_timeout = Duration::from_millis(200);
    policy.attempt_timeout = Duration::from_millis(300);
    policy.max_retries = 2;
    policy.backoff_base = Duration::from_millis(20);
    policy.backoff_cap = Duration::from_millis(400);
    policy.breaker_failures = 3;
    policy.breaker_cooldown = Duration::from_millis(300);
    policy.queue_capacity = 4096;
    policy.buffer_budget_bytes = 64 << 20;
    policy
}

/// How the server answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 at once.
    Healthy,
    /// Reads the request and never answers.
    BlackHole,
    /// 200 after a delay.
    Slow(Duration),
    /// Always this status, with this `Retry-After` (and `X-Sentry-Rate-Limits`) if given.
    Status {
        code: u16,
        retry_after: Option<String>,
        sentry_limits: Option<String>,
    },
    /// This status for the first `failures` requests, then 200.
    Flapping { failures: usize, code: u16 },
}

/// A running fault server.
#[derive(Debug)]
pub struct FaultServer {
    pub addr: SocketAddr,
    answered_ok: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    spans: Arc<Mutex<Vec<Vec<u8>>>>,
    bodies: Bodies,
    connections: Arc<AtomicUsize>,
    acceptor: Option<std::thread::JoinHandle<()>>,
}

/// An address on which nothing listens: connecting is refused at once.
pub fn refusing_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

impl FaultServer {
    pub fn start(behaviour: Behaviour) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), behaviour)
    }

    /// A server answering every request with 503 and `Retry-After: 1` (one second).
    pub fn throttling() -> Self {
        Self::start(Behaviour::Status {
            code: 503,
            retry_after: Some("1".into()),
            sentry_limits: None,
        })
    }

    /// On a given address (to bring a "restarted" server back on the same port).
    pub fn start_on(addr: SocketAddr, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind(addr).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let answered_ok = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let bodies = Bodies::default();
        let (ok, seen, halt, open, ids, collections) = (
            answered_ok.clone(),
            requests.clone(),
            stop.clone(),
            connections.clone(),
            spans.clone(),
            bodies.clone(),
        );
        let acceptor = std::thread::spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (b, ok, seen, halt, open, ids, collections) = (
                            behaviour.clone(),
                            ok.clone(),
                            seen.clone(),
                            halt.clone(),
                            open.clone(),
                            ids.clone(),
                            collections.clone(),
                        );
                        open.fetch_add(1, Ordering::SeqCst);
                        std::thread::spawn(move || {
                            let kept = Kept {
                                spans: &ids,
                                bodies: &collections,
                            };
                            serve(stream, &b, &ok, &seen, &halt, kept);
                            open.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            answered_ok,
            requests,
            stop,
            spans,
            bodies,
            connections,
            acceptor: Some(acceptor),
        }
    }

    /// Stops listening and closes every connection, waiting until it is done: afterwards the
    /// port refuses connections and `delivered()` no longer changes.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Connection threads notice within one read timeout (200 ms).
        crate::harness::wait_until(Duration::from_secs(5), || {
            (self.connections.load(Ordering::SeqCst) == 0).then_some(())
        });
    }

    /// Requests answered with 200 (what a real backend would have stored).
    pub fn delivered(&self) -> usize {
        self.answered_ok.load(Ordering::Relaxed)
    }

    /// Span ids of every OTLP span in the requests answered with 200, in arrival order.
    pub fn span_ids(&self) -> Vec<Vec<u8>> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The OTLP metrics requests (`POST .../v1/metrics`) answered with 200, in arrival order.
    pub fn metrics(
        &self,
    ) -> Vec<opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest> {
        decode_all(&self.bodies.metrics)
    }

    /// Every OTLP metrics request received (`POST .../v1/metrics`), whatever the answer, with
    /// when it arrived, in arrival order: how far apart a client's retries were.
    pub fn metrics_attempts(
        &self,
    ) -> Vec<(
        Instant,
        opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
    )> {
        decode_timed(&self.bodies.metrics_attempts)
    }

    /// Every OTLP logs request received (`POST .../v1/logs`), as [`Self::metrics_attempts`].
    pub fn logs_attempts(
        &self,
    ) -> Vec<(
        Instant,
        opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest,
    )> {
        decode_timed(&self.bodies.logs_attempts)
    }

    /// The OTLP logs requests (`POST .../v1/logs`) answered with 200, in arrival order.
    pub fn logs(
        &self,
    ) -> Vec<opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest> {
        decode_all(&self.bodies.logs)
    }

    /// The OTLP trace requests (any other path) answered with 200, in arrival order.
    pub fn traces(
        &self,
    ) -> Vec<opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest> {
        decode_all(&self.bodies.traces)
    }

    /// Requests received, whatever the answer.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// For a wait on workers' pipeline figures (each given with the worker's pid): true once
/// `workers` distinct workers have been told to wait, a retry scheduled (counted in `retried`).
pub fn until_each_retried(
    workers: usize,
) -> impl FnMut(u32, &forkline::report::PipelineHealth) -> bool {
    let mut retried = std::collections::BTreeSet::new();
    move |pid, figures| {
        if figures.retried >= 1 {
            retried.insert(pid);
        }
        retried.len() == workers
    }
}

/// The gaps between each worker's successive attempts (given with when they arrived and the
/// pid they carry), checked: every worker in `pids` tried, tried again, and never sooner than
/// `at_least` after its previous attempt (a backend's `Retry-After`). Returns the gaps.
pub fn assert_retries_waited(
    attempts: impl IntoIterator<Item = (Instant, u32)>,
    pids: &[u32],
    at_least: Duration,
) -> std::collections::BTreeMap<u32, Vec<Duration>> {
    let mut times: std::collections::BTreeMap<u32, Vec<Instant>> = Default::default();
    for (at, pid) in attempts {
        times.entry(pid).or_default().push(at);
    }
    let gaps: std::collections::BTreeMap<u32, Vec<Duration>> = times
        .iter()
        .map(|(pid, times)| (*pid, times.windows(2).map(|w| w[1] - w[0]).collect()))
        .collect();
    let mut expected = pids.to_vec();
    expected.sort_unstable();
    assert_eq!(
        gaps.keys().copied().collect::<Vec<_>>(),
        expected,
        "each worker tried the backend: {gaps:?}"
    );
    for (pid, gaps) in &gaps {
        assert!(!gaps.is_empty(), "worker {pid} tried again: {gaps:?}");
        assert!(
            gaps.iter().all(|g| *g >= at_least),
            "worker {pid} tried again sooner than {at_least:?}: {gaps:?}"
        );
    }
    gaps
}

/// The bodies a server answered with 200, by OTLP signal (the path's end), and when each
/// metrics and logs request arrived with its body, whatever the answer.
#[derive(Debug, Clone, Default)]
struct Bodies {
    metrics: Arc<Mutex<Vec<Vec<u8>>>>,
    logs: Arc<Mutex<Vec<Vec<u8>>>>,
    traces: Arc<Mutex<Vec<Vec<u8>>>>,
    metrics_attempts: Arc<Mutex<Vec<TimedBody>>>,
    logs_attempts: Arc<Mutex<Vec<TimedBody>>>,
}

/// A request body and when it arrived.
type TimedBody = (Instant, Vec<u8>);

fn decode_timed<M: prost::Message + Default>(bodies: &Mutex<Vec<TimedBody>>) -> Vec<(Instant, M)> {
    let bodies = bodies.lock().map(|b| b.clone()).unwrap_or_default();
    bodies
        .into_iter()
        .filter_map(|(at, body)| Some((at, M::decode(body.as_slice()).ok()?)))
        .collect()
}

fn decode_all<M: prost::Message + Default>(bodies: &Mutex<Vec<Vec<u8>>>) -> Vec<M> {
    let bodies = bodies.lock().map(|b| b.clone()).unwrap_or_default();
    bodies
        .iter()
        .filter_map(|b| M::decode(b.as_slice()).ok())
        .collect()
}

/// What a server keeps of the bodies it answered with 200: span ids, and every body by signal.
struct Kept<'a> {
    spans: &'a Mutex<Vec<Vec<u8>>>,
    bodies: &'a Bodies,
}

fn serve(
    stream: TcpStream,
    behaviour: &Behaviour,
    ok: &AtomicUsize,
    seen: &AtomicUsize,
    halt: &AtomicBool,
    kept: Kept<'_>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    while !halt.load(Ordering::Relaxed) {
        // Request line and headers, then the body by Content-Length.
        let mut length = 0usize;
        let mut line = String::new();
        let mut started = false;
        let mut path = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if halt.load(Ordering::Relaxed) {
                        return;
                    }
                    continue;
                }
                Err(_) => return,
            }
            if line == "\r\n" && started {
                break;
            }
            if !started {
                // The request line: `POST /v1/metrics HTTP/1.1`.
                path = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
            }
            started = true;
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let n = seen.fetch_add(1, Ordering::Relaxed);
        let attempts = if path.ends_with("/v1/metrics") {
            Some(&kept.bodies.metrics_attempts)
        } else if path.ends_with("/v1/logs") {
            Some(&kept.bodies.logs_attempts)
        } else {
            None
        };
        if let Some(Ok(mut attempts)) = attempts.map(|a| a.lock()) {
            attempts.push((Instant::now(), body.clone()));
        }
        let (code, extra) = match behaviour {
            Behaviour::Healthy => (200, String::new()),
            Behaviour::BlackHole => {
                while !halt.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Behaviour::Slow(delay) => {
                std::thread::sleep(*delay);
                (200, String::new())
            }
            Behaviour::Status {
                code,
                retry_after,
                sentry_limits,
            } => {
                let mut extra = String::new();
                if let Some(r) = retry_after {
                    extra.push_str(&format!("Retry-After: {r}\r\n"));
                }
                if let Some(l) = sentry_limits {
                    extra.push_str(&format!("X-Sentry-Rate-Limits: {l}\r\n"));
                }
                (*code, extra)
            }
            Behaviour::Flapping { failures, code } => {
                (if n < *failures { *code } else { 200 }, String::new())
            }
        };
        if code == 200 {
            // Counted before the answer is written: a client that saw the 200 finds it counted.
            ok.fetch_add(1, Ordering::Relaxed);
            let kind = if path.ends_with("/v1/metrics") {
                &kept.bodies.metrics
            } else if path.ends_with("/v1/logs") {
                &kept.bodies.logs
            } else {
                record_spans(&body, kept.spans);
                &kept.bodies.traces
            };
            if let Ok(mut bodies) = kind.lock() {
                bodies.push(body);
            }
        }
        let response = format!("HTTP/1.1 {code} X\r\nContent-Length: 2\r\n{extra}\r\n{{}}");
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// Decodes an OTLP/HTTP protobuf body and records its span ids (other bodies are ignored).
fn record_spans(body: &[u8], spans: &Mutex<Vec<Vec<u8>>>) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return;
    };
    if let Ok(mut ids) = spans.lock() {
        for rs in request.resource_spans {
            for ss in rs.scope_spans {
                ids.extend(ss.spans.into_iter().map(|s| s.span_id));
            }
        }
    }
}

/// A collector and a Sentry host that both behave as `behaviour`, with the OTLP endpoint and the
/// DSN that point a fixture at them.
#[derive(Debug)]
pub struct Backends {
    pub collector: FaultServer,
    pub sentry: FaultServer,
    pub otlp_endpoint: String,
    pub dsn: String,
}

impl Backends {
    pub fn start(behaviour: Behaviour) -> Self {
        let collector = FaultServer::start(behaviour.clone());
        let sentry = FaultServer::start(behaviour);
        Self {
            otlp_endpoint: format!("http://{}", collector.addr),
            dsn: format!("http://publickey@{}/1", sentry.addr),
            collector,
            sentry,
        }
    }
}
