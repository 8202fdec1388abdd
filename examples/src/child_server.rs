//! The examples run themselves twice: as the driver, and — started by the driver as a child
//! process — as the pre-fork server it drives. This is the plumbing between the two.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Set in the child: it is the server.
const ROLE: &str = "FORKLINE_EXAMPLE_ROLE";
/// Where the server writes its address once it listens.
const ADDR_FILE: &str = "FORKLINE_EXAMPLE_ADDR_FILE";

/// Whether this process is the server half.
pub fn is_server() -> bool {
    std::env::var_os(ROLE).is_some()
}

/// An example's `main`: `serve` in the child, `drive` in the driver; a driver error is
/// printed with the example's `name`.
pub fn main(
    name: &str,
    serve: impl FnOnce() -> std::process::ExitCode,
    drive: impl FnOnce() -> Result<(), String>,
) -> std::process::ExitCode {
    if is_server() {
        return serve();
    }
    match drive() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name} failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Called by the server's `when_ready` hook: tells the driver where to connect.
pub fn publish_addr(master: &forkline::Master) -> std::io::Result<()> {
    match (std::env::var(ADDR_FILE), master.local_addr()) {
        (Ok(path), Some(addr)) => std::fs::write(path, addr.to_string()),
        _ => Ok(()),
    }
}

/// The server, running as a child of the driver.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Starts this executable as the server with `workers` workers, telemetry files in
    /// `run_dir`, and waits (up to 30 s) until it listens.
    pub fn start(run_dir: &Path, workers: &str) -> Result<Self, String> {
        let addr_file: PathBuf = run_dir.with_extension("addr");
        let _ = std::fs::remove_file(&addr_file);
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .env(ROLE, "server")
            .env(ADDR_FILE, &addr_file)
            .env("FORKLINE_DIR", run_dir)
            .env("FORKLINE_WORKERS", workers)
            .spawn()
            .map_err(|e| format!("starting the server: {e}"))?;
        match wait_for_addr(&addr_file, Duration::from_secs(30)) {
            Some(addr) => Ok(Self { child, addr }),
            None => {
                let _ = child.kill();
                Err("the server did not start within 30 s".into())
            }
        }
    }

    /// The master's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it gracefully (TERM) and waits for it.
    pub fn stop(mut self) -> Result<ExitStatus, String> {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.child.wait().map_err(|e| e.to_string())
    }
}

fn wait_for_addr(path: &Path, timeout: Duration) -> Option<SocketAddr> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(addr) = std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.parse().ok())
        {
            return Some(addr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}
