//! A server that cannot start says why and stops: `serve` inside `#[tokio::main]` is refused
//! before any fork, and a worker that fails before it serves (a panic while its runtime starts,
//! a panic in `worker_init`) stops the master with the worker's message after exactly one fork
//! per slot, never a respawn loop. (The runtime-start panic is made by the fixture's kernel
//! thread limit: a runtime context inherited from `#[tokio::main]` can no longer get there,
//! since `serve` refuses to run inside one.)

use forkline_tests::harness::Fixture;
use std::time::{Duration, Instant};

const MASTER_STATE: &str = env!("CARGO_BIN_EXE_master_state_server");
const TOKIO_MAIN: &str = env!("CARGO_BIN_EXE_tokio_main_server");
/// How long a failed start may take: a few forks and one quick stop, on a loaded machine (a
/// respawn loop never ends, so any bound tells them apart).
const PROMPT: Duration = Duration::from_secs(30);

/// Whether any process still has `pid` as its parent (a worker left behind).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|stat| {
                    // Field 4 (ppid) follows the parenthesised command name.
                    let rest = &stat[stat.rfind(')')? + 2..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

#[test]
fn serve_inside_tokio_main_is_refused_before_any_fork() {
    let started = Instant::now();
    let mut fx = Fixture::start(TOKIO_MAIN, &[("FORKLINE_WORKERS", "3")]);
    let status = fx.wait_exit(PROMPT).expect("exits promptly");
    let took = started.elapsed();
    let stderr = fx.stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&forkline::ForkHazard::ServeInRuntime.to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains("fn main() -> forkline::Result<()>"),
        "{stderr}"
    );
    let forks = fx.hooks().iter().filter(|h| h.phase == "pre_fork").count();
    assert_eq!(forks, 0, "no worker forked:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    eprintln!("#[tokio::main]: refused in {took:?}");
}

fn boot_fails(mode: &str, reason: &str) {
    // Printing a backtrace per panic would be most of what a loaded machine spends here.
    let mut fx = Fixture::start(
        MASTER_STATE,
        &[
            ("FORKLINE_WORKERS", "3"),
            ("FIXTURE_BOOT", mode),
            ("RUST_BACKTRACE", "0"),
        ],
    );
    let started = Instant::now();
    let status = fx.wait_exit(PROMPT);
    let took = started.elapsed();
    let stderr = fx.stderr();
    let status =
        status.unwrap_or_else(|| panic!("{mode}: still running after {PROMPT:?}:\n{stderr}"));
    assert!(!status.success(), "{mode}:\n{stderr}");
    let master_error = format!("forkline[{}] error: worker ", fx.pid);
    assert!(
        stderr.lines().any(|l| l.starts_with(&master_error)
            && l.contains("failed to boot (exit code 3)")
            && l.contains(reason)),
        "{mode}: the master's error carries the worker's reason:\n{stderr}"
    );
    assert!(
        !stderr.contains("crashed"),
        "{mode}: not a crash:\n{stderr}"
    );
    let mut slots: Vec<String> = fx
        .hooks()
        .iter()
        .filter(|h| h.phase == "pre_fork")
        .map(|h| h.get("worker").to_string())
        .collect();
    slots.sort();
    assert_eq!(
        slots,
        ["0", "1", "2"],
        "{mode}: one fork per slot, no respawn"
    );
    assert_eq!(
        children_of(fx.pid),
        Vec::<u32>::new(),
        "{mode}: no worker left"
    );
    eprintln!("{mode}: master stopped {took:?} after start");
}

#[test]
fn a_panic_while_the_worker_runtime_starts_stops_the_master_with_its_message() {
    boot_fails(
        "panic_in_runtime_start",
        "panicked: OS can't spawn worker thread",
    );
}

#[test]
fn a_panic_in_worker_init_stops_the_master_with_its_message() {
    boot_fails("panic_in_worker_init", "worker_init panicked on purpose");
}
