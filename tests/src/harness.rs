//! Starts a fixture binary as a real pre-fork server in its own folder and reads what it left:
//! the hook log, the embedded sink's files and the worker reports.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Spawns `command`; past `ETXTBSY`. A test that has just copied an executable (the binary
/// upgrade's new build) may find it "busy": another test's fork in this process, between the
/// copy's open and close, holds a copy of the written descriptor until its child executes. That
/// descriptor closes on its own within moments and nothing announces it, so the spawn is tried
/// again, a few times, 20 ms apart (as cargo and Go's os/exec do).
pub fn spawn_past_busy_text(command: &mut Command) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            spawned => return spawned,
        }
    }
}

/// A new, empty folder of a test's own, `name` in this test process's temporary folder; short,
/// since a Unix socket's path has at most 107 bytes.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

/// Waits (30 s at most) until the worker behind `addr` (one worker) has taken at least
/// `at_least` stacks and resolved, or given up, every one: a stack is resolved on a thread of
/// its own after the answer, and an event waits for it, so a test that stops the worker sooner
/// races the resolution (the first one loads the debug info: ~300 ms in a debug build, longer on
/// a loaded machine) against the stop's deadline.
pub fn stacks_settled(addr: SocketAddr, at_least: u64) {
    wait_until(Duration::from_secs(30), || {
        let (_, body) = http_get(addr, "/health").ok()?;
        let health: Value = serde_json::from_str(&body).ok()?;
        let stats = &health["health"]["spans"];
        let count = |name: &str| stats[name].as_u64().unwrap_or(0);
        let taken = count("stacks_taken");
        (taken >= at_least && count("stacks_resolved") + count("stacks_dropped") >= taken)
            .then_some(())
    })
    .expect("the worker's stacks are resolved");
}

/// The first descriptor number [`Fixture::handing`] gives the sockets it hands over.
pub const HANDED_FROM: std::os::fd::RawFd = 10;

/// A fixture server process and its folder.
#[derive(Debug)]
pub struct Fixture {
    pub dir: PathBuf,
    pub pid: u32,
    exited: mpsc::Receiver<std::io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
}

/// One line of the hook log.
#[derive(Debug, Clone)]
pub struct HookLine {
    pub phase: String,
    pub fields: BTreeMap<String, String>,
}

impl HookLine {
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map(String::as_str).unwrap_or("")
    }
    pub fn pid(&self) -> u32 {
        self.get("pid").parse().unwrap_or(0)
    }
}

impl Fixture {
    /// Starts `binary` with `env` on top of a clean telemetry environment.
    pub fn start(binary: &str, env: &[(&str, &str)]) -> Self {
        Self::handing(binary, env, &[])
    }

    /// Starts `binary` like [`start`](Self::start), with `fds` open in it as descriptors
    /// [`HANDED_FROM`], `HANDED_FROM + 1`, ...: how a program that starts a server hands it
    /// sockets (`fd://N`).
    pub fn handing(binary: &str, env: &[(&str, &str)], fds: &[std::os::fd::RawFd]) -> Self {
        let fds = fds.to_vec();
        Self::launch(env, |vars| {
            let mut command = Command::new(binary);
            for (k, _) in std::env::vars() {
                if k.starts_with("OTEL_") || k.starts_with("SENTRY_") || k.starts_with("FORKLINE_")
                {
                    command.env_remove(k);
                }
            }
            command.envs(vars.iter().map(|(k, v)| (k, v)));
            if !fds.is_empty() {
                // SAFETY: runs in the child before exec, making only dup2 calls (async-signal-
                // safe) on descriptors open in the parent; dup2's copy is not close-on-exec.
                unsafe {
                    std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                        for (i, &fd) in fds.iter().enumerate() {
                            if libc::dup2(fd, HANDED_FROM + i as i32) < 0 {
                                return Err(std::io::Error::last_os_error());
                            }
                        }
                        Ok(())
                    });
                }
            }
            command
        })
    }

    /// Starts `binary` the way systemd starts a socket-activated service, with
    /// `systemd-socket-activate` (from the distribution's systemd package): it listens on each
    /// of `listen` (`127.0.0.1:8000`, a socket path), named `names` (`web:local`), and, once a
    /// client connects to one, executes `binary` with them as descriptors 3 and up and
    /// `LISTEN_FDS` / `LISTEN_PID` / `LISTEN_FDNAMES` set. Only `env` and the fixture's own
    /// variables reach it, as under systemd.
    pub fn socket_activated(
        binary: &str,
        listen: &[&str],
        names: &str,
        env: &[(&str, &str)],
    ) -> Self {
        Self::launch(env, |vars| {
            let mut command = Command::new("systemd-socket-activate");
            for address in listen {
                command.arg("--listen").arg(address);
            }
            command.arg(format!("--fdname={names}"));
            for (k, v) in vars {
                command.arg("--setenv").arg(format!("{k}={v}"));
            }
            command.arg(binary);
            command
        })
    }

    /// Starts what `command` makes of the fixture's variables and `env`, in a new folder.
    fn launch(env: &[(&str, &str)], command: impl FnOnce(&[(String, String)]) -> Command) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "forkline-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the fixture folder");
        let stderr = std::fs::File::create(dir.join("stderr.log")).expect("create stderr.log");
        let path = |name: &str| dir.join(name).display().to_string();
        let mut vars = vec![
            ("FORKLINE_DIR".to_string(), path("run")),
            ("FORKLINE_TEST_LOG".to_string(), path("hooks.log")),
            ("FORKLINE_TEST_ADDR".to_string(), path("addr")),
        ];
        vars.extend(env.iter().map(|&(k, v)| (k.to_string(), v.to_string())));
        let mut command = command(&vars);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child: Child = spawn_past_busy_text(&mut command).expect("start the fixture");
        let pid = child.id();
        let (tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        Self {
            dir,
            pid,
            exited,
            status: None,
        }
    }

    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    /// Waits for the master to publish its address (from its `when_ready` hook).
    pub fn addr(&self, timeout: Duration) -> SocketAddr {
        let path = self.dir.join("addr");
        wait_until(timeout, || {
            std::fs::read_to_string(&path).ok()?.parse().ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "no address published in {timeout:?}; stderr:\n{}",
                self.stderr()
            )
        })
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.exited.recv_timeout(timeout).ok().and_then(Result::ok);
        }
        self.status
    }

    pub fn signal(&self, signal: i32) {
        signal_pid(self.pid, signal);
    }

    /// Sends TERM to the master and waits (20 s at most) for it to exit successfully; returns
    /// the time from the signal to the exit.
    pub fn stop(&mut self) -> Duration {
        let term = Instant::now();
        self.signal(libc::SIGTERM);
        let status = self
            .wait_exit(Duration::from_secs(20))
            .unwrap_or_else(|| panic!("the master did not exit; stderr:\n{}", self.stderr()));
        let stopped_in = term.elapsed();
        assert!(status.success(), "{status:?}; stderr:\n{}", self.stderr());
        stopped_in
    }

    /// The workers' reports in the run folder, which must be `workers`.
    pub fn reports(&self, workers: usize) -> Vec<forkline::WorkerReport> {
        let reports = forkline::read_reports(&self.run_dir()).expect("the worker reports");
        assert_eq!(reports.len(), workers, "{reports:?}");
        reports
    }

    pub fn hooks(&self) -> Vec<HookLine> {
        read_hooks(&self.dir.join("hooks.log"))
    }

    /// Waits until `n` distinct worker processes have finished `worker_init`.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Vec<u32> {
        wait_until(timeout, || {
            let pids = self.booted_workers();
            (pids.len() >= n).then_some(pids)
        })
        .unwrap_or_else(|| {
            panic!(
                "{n} workers did not boot in {timeout:?}; stderr:\n{}",
                self.stderr()
            )
        })
    }

    /// Waits (60 s at most) until the log has `line` in it `n` times.
    pub fn wait_for_log(&self, line: &str, n: usize) {
        wait_until(Duration::from_secs(60), || {
            (self.stderr().matches(line).count() >= n).then_some(())
        })
        .unwrap_or_else(|| panic!("{n} × {line:?} in the log:\n{}", self.stderr()));
    }

    /// Waits until the hook log has `n` lines of `phase` (a fixture route such as `/block` records
    /// `block_started` as it begins).
    pub fn wait_for_hook(&self, phase: &str, n: usize, timeout: Duration) {
        wait_until(timeout, || {
            let seen = self.hooks().iter().filter(|h| h.phase == phase).count();
            (seen >= n).then_some(())
        })
        .unwrap_or_else(|| panic!("{n} × {phase} in {timeout:?}; stderr:\n{}", self.stderr()));
    }

    pub fn booted_workers(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .hooks()
            .iter()
            .filter(|h| h.phase == "worker_init")
            .map(HookLine::pid)
            .collect();
        pids.dedup();
        pids
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if self.wait_exit(Duration::ZERO).is_none() {
            signal_pid(self.pid, libc::SIGKILL);
            for worker in self.booted_workers() {
                signal_pid(worker, libc::SIGKILL);
            }
        }
    }
}

/// After the master has exited: none of the workers it started is left, running or as a zombie
/// (the master reaped them all). Call after `wait_exit`.
pub fn assert_no_worker_left(fx: &Fixture) {
    let workers = fx.booted_workers();
    assert!(!workers.is_empty(), "no worker booted");
    for pid in workers {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "worker {pid} is still in /proc after its master exited:\n{}",
            fx.stderr()
        );
    }
}

pub fn signal_pid(pid: u32, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Holds off the other tests of this test binary that take it too, for tests whose figures
/// (timings, balance) another test's load on the same two cores would decide.
pub fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls `check` until it gives a value or `timeout` passes. For files written by other
/// processes, which cannot be awaited otherwise.
pub fn wait_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_hooks(path: &Path) -> Vec<HookLine> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let phase = parts.next()?.to_string();
            let fields = parts
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Some(HookLine { phase, fields })
        })
        .collect()
}

pub use forkline_examples::http_get;

/// The pid and the figures of pipeline `name` (`"metrics"`, `"logs"`, ...) of the worker that
/// answered a fixture's `/health` (served outside its `TelemetryLayer`: not a request it counts).
pub fn pipeline_health(
    addr: SocketAddr,
    name: &str,
) -> Option<(u32, forkline::report::PipelineHealth)> {
    let (_, body) = http_get(addr, "/health").ok()?;
    let health: Value = serde_json::from_str(&body).ok()?;
    let pid = u32::try_from(health["pid"].as_u64()?).ok()?;
    let figures = serde_json::from_value(health["health"][name].clone()).ok()?;
    Some((pid, figures))
}

/// The lines of one embedded sink of a worker, oldest first: the rotated file (`<stem>.1.jsonl`,
/// present once the budget made the sink rotate), then the current one.
pub fn read_sink_text(run_dir: &Path, stem: &str) -> String {
    let mut text =
        std::fs::read_to_string(run_dir.join(format!("{stem}.1.jsonl"))).unwrap_or_default();
    text.push_str(
        &std::fs::read_to_string(run_dir.join(format!("{stem}.jsonl"))).unwrap_or_default(),
    );
    text
}

/// Every span in a worker's OTLP JSON files, oldest first, each with its resource attributes
/// attached.
pub fn read_spans(run_dir: &Path, pid: u32) -> Vec<Value> {
    let text = read_sink_text(run_dir, &format!("spans-{pid}"));
    let mut spans = Vec::new();
    for line in text.lines() {
        let Ok(request) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for rs in request["resourceSpans"].as_array().into_iter().flatten() {
            let resource = attributes(&rs["resource"]["attributes"]);
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for span in ss["spans"].as_array().into_iter().flatten() {
                    let mut span = span.clone();
                    span["resource"] = resource.clone();
                    spans.push(span);
                }
            }
        }
    }
    spans
}

/// OTLP JSON attributes as a flat `{key: value}` object.
pub fn attributes(list: &Value) -> Value {
    let mut map = serde_json::Map::new();
    for kv in list.as_array().into_iter().flatten() {
        let value = &kv["value"];
        let plain = value
            .get("stringValue")
            .cloned()
            .or_else(|| {
                value.get("intValue").map(|v| match v {
                    Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or(v.clone()),
                    other => other.clone(),
                })
            })
            .or_else(|| value.get("boolValue").cloned())
            .or_else(|| value.get("doubleValue").cloned())
            .unwrap_or(Value::Null);
        if let Some(key) = kv["key"].as_str() {
            map.insert(key.to_string(), plain);
        }
    }
    Value::Object(map)
}

/// Every record (`{"type": "event" | "transaction", ...}`) in a worker's Sentry files, oldest
/// first.
pub fn read_sentry(run_dir: &Path, pid: u32) -> Vec<Value> {
    read_sink_text(run_dir, &format!("sentry-{pid}"))
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// What [`requests_over_both_workers`] got.
#[derive(Debug)]
pub struct Served {
    /// The pid that answered each `n` (from the `pid=` body of the budget fixture's `/req/{n}`).
    pub pids: BTreeMap<u64, u32>,
    /// The status of each `n`'s answer.
    pub statuses: BTreeMap<u64, u16>,
    /// The slowest answer.
    pub slowest: Duration,
}

/// Requests `/req/1`, `/req/2`, ... each on a new connection until both workers have served
/// some (at least `at_least` requests, at most 400).
pub fn requests_over_both_workers(addr: SocketAddr, at_least: u64) -> Served {
    let mut served = Served {
        pids: BTreeMap::new(),
        statuses: BTreeMap::new(),
        slowest: Duration::ZERO,
    };
    for n in 1..=400_u64 {
        let started = Instant::now();
        let (status, body) = http_get(addr, &format!("/req/{n}")).expect("answered");
        served.slowest = served.slowest.max(started.elapsed());
        let pid = body
            .strip_prefix("pid=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in {body:?}"));
        served.pids.insert(n, pid);
        served.statuses.insert(n, status);
        let pids: BTreeSet<u32> = served.pids.values().copied().collect();
        if n >= at_least && pids.len() == 2 {
            return served;
        }
    }
    panic!(
        "400 requests and not both workers served: {:?}",
        served.pids
    );
}

/// A u64 in OTLP JSON: a string (protobuf's JSON mapping) or a number.
pub fn u64_of(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// The last collection in a worker's metrics file: its resource attributes, and the data
/// points of `name` with their attributes.
pub fn last_collection(run_dir: &std::path::Path, pid: u32, name: &str) -> (Value, Vec<Value>) {
    let text = read_sink_text(run_dir, &format!("metrics-{pid}"));
    let line = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("worker {pid} wrote no metrics"));
    let request: Value = serde_json::from_str(line).expect("OTLP JSON");
    let rm = &request["resourceMetrics"][0];
    let resource = attributes(&rm["resource"]["attributes"]);
    let points = rm["scopeMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|sm| sm["metrics"].as_array().into_iter().flatten())
        .filter(|m| m["name"] == name)
        .flat_map(|m| {
            let data = m
                .get("histogram")
                .or_else(|| m.get("sum"))
                .cloned()
                .unwrap_or(Value::Null);
            data["dataPoints"].as_array().cloned().unwrap_or_default()
        })
        .collect();
    (resource, points)
}
