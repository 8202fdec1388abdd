//! The master's start line and the run folder, over a real pre-fork server: the line always
//! names the profile, the environment and the run folder (with backends configured too), and
//! old default run folders in the temporary directory are bounded: the newest ten finished runs
//! of this user are kept, the older ones removed, a live run's folder never.

use forkline_tests::harness::Fixture;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_lifecycle_server");
const BOOT: Duration = Duration::from_secs(30);

/// Starts the fixture with one worker, waits for it, stops it, and returns its stderr.
fn run_once(env: &[(&str, &str)]) -> String {
    let mut env = env.to_vec();
    env.push(("FORKLINE_WORKERS", "1"));
    let mut fx = Fixture::start(BIN, &env);
    fx.wait_for_workers(1, BOOT);
    fx.signal(libc::SIGTERM);
    assert!(fx.wait_exit(BOOT).is_some(), "the master stopped");
    fx.stderr()
}

fn start_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.contains("listening on"))
        .unwrap_or_else(|| panic!("no start line in:\n{stderr}"))
}

#[test]
fn the_start_line_names_profile_environment_and_run_folder_even_with_backends_configured() {
    let stderr = run_once(&[]);
    let line = start_line(&stderr);
    // Test binaries are debug builds: the development profile, and its environment.
    assert!(
        line.contains("profile development, environment development;"),
        "{line}"
    );
    assert!(line.contains("run folder /"), "{line}");

    // Backends configured (unreachable, which does not matter for the line), production.
    let stderr = run_once(&[
        ("FORKLINE_PROFILE", "production"),
        ("SENTRY_ENVIRONMENT", "staging-eu"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
        ("SENTRY_DSN", "http://key@127.0.0.1:9/1"),
    ]);
    let line = start_line(&stderr);
    assert!(
        line.contains("profile production, environment staging-eu;"),
        "{line}"
    );
    assert!(line.contains("run folder /"), "{line}");
}

/// A pid that cannot be alive: above the kernel's largest.
fn dead_pid(i: u32) -> u32 {
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    max + 1 + i
}

fn folder(temp: &Path, pid: u32, secs: u64) -> PathBuf {
    let dir = temp.join(format!("forkline-{pid}-{secs}"));
    std::fs::create_dir_all(&dir).expect("create a run folder");
    std::fs::write(dir.join("worker-1.json"), "{}").expect("write into it");
    dir
}

#[test]
fn old_run_folders_beyond_ten_are_removed_but_never_a_live_ones_or_anything_else() {
    let temp = std::env::temp_dir().join(format!("forkline-runs-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&temp);
    std::fs::create_dir_all(&temp).expect("create the temporary directory");
    // 13 finished runs, oldest first (start seconds 1000..1013).
    let finished: Vec<PathBuf> = (0..13)
        .map(|i| folder(&temp, dead_pid(i), 1000 + u64::from(i)))
        .collect();
    // The oldest of all, but its master (this test process) is alive.
    let live = folder(&temp, std::process::id(), 1);
    // Not run folders: another pattern, a file with the pattern's name.
    let other = temp.join("forkline-test-1-2");
    std::fs::create_dir_all(&other).expect("create");
    let file = temp.join(format!("forkline-{}-5", dead_pid(99)));
    std::fs::write(&file, "").expect("create");

    // The server's own folder goes to the temporary directory too (no FORKLINE_DIR).
    let tmpdir = temp.to_string_lossy().into_owned();
    let stderr = run_once(&[("TMPDIR", &tmpdir), ("FORKLINE_DIR", "")]);
    let line = start_line(&stderr);
    assert!(
        line.contains(&format!("run folder {tmpdir}/forkline-")),
        "{line}"
    );

    for (i, dir) in finished.iter().enumerate() {
        // The 3 oldest finished ones go; the newest 10 stay.
        assert_eq!(dir.exists(), i >= 3, "{} (index {i})", dir.display());
    }
    assert!(live.exists(), "a live run's folder is never removed");
    assert!(
        other.exists() && file.exists(),
        "only run folders are removed"
    );
    let own: Vec<_> = std::fs::read_dir(&temp)
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            line.contains(&name)
        })
        .collect();
    assert_eq!(own.len(), 1, "the run's own folder is there");

    // The next start: the run just finished is the newest, so the oldest remaining goes.
    run_once(&[("TMPDIR", &tmpdir), ("FORKLINE_DIR", "")]);
    assert!(!finished[3].exists(), "one more old folder removed");
    assert!(finished[4].exists() && live.exists());
    let _ = std::fs::remove_dir_all(&temp);
}
