//! The run folder's total budget: a worker's own files stay within its budget, but a worker that
//! exits (crashed and replaced, `HUP`, `TTOU`) leaves them behind, so a crash-looping service
//! would still fill the disk one budget at a time. After reaping a worker, the master deletes the
//! span and Sentry files of workers that are gone, oldest first, until the folder's telemetry
//! files fit the total budget again. Live workers' files and every worker report are kept.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What one `prune_exited` deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pruned {
    pub(crate) files: usize,
    pub(crate) bytes: u64,
}

impl std::fmt::Display for Pruned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deleted {} telemetry files ({} bytes) of exited workers to stay within the run \
             folder's total budget",
            self.files, self.bytes
        )
    }
}

#[derive(Debug)]
struct TelemetryFile {
    path: PathBuf,
    pid: u32,
    len: u64,
    modified: SystemTime,
}

/// Deletes the telemetry files (`spans-`, `metrics-`, `logs-`, `sentry-<pid>[.1].jsonl`) of pids not in
/// `live_pids`, oldest first, while the folder's telemetry files add up to more than
/// `total_budget`. The calling process counts as live: without forking it is the worker, and its
/// files are open. I/O errors are logged in one line and the file skipped: pruning is best effort
/// and must never stop the master.
pub(crate) fn prune_exited(run_dir: &Path, live_pids: &[u32], total_budget: u64) -> Pruned {
    let mut errors = Errors::default();
    let files = telemetry_files(run_dir, &mut errors);
    let mut total: u64 = files.iter().map(|f| f.len).sum();
    let mut pruned = Pruned::default();
    if total > total_budget {
        let me = std::process::id();
        let mut exited: Vec<TelemetryFile> = files
            .into_iter()
            .filter(|f| f.pid != me && !live_pids.contains(&f.pid))
            .collect();
        // The name breaks ties so that files written in the same clock tick go in a stable order.
        exited.sort_by(|a, b| (a.modified, &a.path).cmp(&(b.modified, &b.path)));
        for file in exited {
            if total <= total_budget {
                break;
            }
            match std::fs::remove_file(&file.path) {
                Ok(()) => {
                    total -= file.len;
                    pruned.files += 1;
                    pruned.bytes += file.len;
                }
                // Deleted by someone else meanwhile: the folder shrank all the same.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => total -= file.len,
                Err(e) => errors.note(&file.path, e),
            }
        }
    }
    errors.log(run_dir);
    pruned
}

fn telemetry_files(run_dir: &Path, errors: &mut Errors) -> Vec<TelemetryFile> {
    let entries = match std::fs::read_dir(run_dir) {
        Ok(entries) => entries,
        // No folder yet means no files to prune.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            errors.note(run_dir, e);
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.note(run_dir, e);
                continue;
            }
        };
        let Some(pid) = entry.file_name().to_str().and_then(telemetry_pid) else {
            continue;
        };
        let path = entry.path();
        // Not following symlinks: only regular files the sinks wrote count and get deleted.
        match entry
            .metadata()
            .and_then(|m| Ok((m.is_file(), m.len(), m.modified()?)))
        {
            Ok((true, len, modified)) => files.push(TelemetryFile {
                path,
                pid,
                len,
                modified,
            }),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => errors.note(&path, e),
        }
    }
    files
}

/// The pid in a sink file's name, `None` for any other file (worker reports included).
fn telemetry_pid(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix("spans-")
        .or_else(|| name.strip_prefix("metrics-"))
        .or_else(|| name.strip_prefix("logs-"))
        .or_else(|| name.strip_prefix("sentry-"))?;
    let pid = rest
        .strip_suffix(".1.jsonl")
        .or_else(|| rest.strip_suffix(".jsonl"))?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// The first I/O error and how many there were, so that a folder that cannot be read costs one
/// log line per prune, not one per file.
#[derive(Debug, Default)]
struct Errors {
    first: Option<String>,
    count: usize,
}

impl Errors {
    fn note(&mut self, path: &Path, e: std::io::Error) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(format!("{}: {e}", path.display()));
        }
    }

    fn log(self, run_dir: &Path) {
        if let Some(first) = self.first {
            crate::diag::log_error!(
                "pruning exited workers' telemetry files in {}: {first} ({} I/O errors, those \
                 files skipped)",
                run_dir.display(),
                self.count
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("forkline-prune-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        dir
    }

    /// Writes `name` with `len` bytes, last modified `age` seconds after a fixed instant.
    fn file(dir: &Path, name: &str, len: usize, age: u64) {
        let path = dir.join(name);
        std::fs::write(&path, vec![b'x'; len]).expect("write a file");
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| {
                f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + age))
            })
            .expect("set its mtime");
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read the dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// Live pid 10, exited pids 20 and 30, reports for both generations, and files that are not
    /// telemetry. Telemetry: 100 + 300 + 100 live, 200 + 200 + 100 + 200 exited = 1200 bytes.
    fn folder(name: &str) -> PathBuf {
        let dir = temp_dir(name);
        // The oldest file of all is a live worker's: age must not beat liveness.
        file(&dir, "spans-10.1.jsonl", 100, 0);
        file(&dir, "spans-10.jsonl", 300, 50);
        file(&dir, "sentry-10.jsonl", 100, 50);
        file(&dir, "spans-20.1.jsonl", 200, 10);
        file(&dir, "spans-20.jsonl", 200, 20);
        file(&dir, "sentry-20.jsonl", 100, 30);
        file(&dir, "spans-30.jsonl", 200, 40);
        file(&dir, "worker-20.json", 5000, 1);
        file(&dir, "worker-10.json", 5000, 1);
        file(&dir, ".worker-30.json.tmp", 5000, 1);
        file(&dir, "notes.txt", 5000, 1);
        dir
    }

    #[test]
    fn deletes_exited_workers_files_oldest_first_until_within_budget() {
        let dir = folder("oldest");
        let pruned = prune_exited(&dir, &[10], 800);
        // 400 bytes over: pid 20's two oldest span files go, and nothing newer.
        assert_eq!(
            pruned,
            Pruned {
                files: 2,
                bytes: 400
            }
        );
        assert_eq!(
            names(&dir),
            [
                ".worker-30.json.tmp",
                "notes.txt",
                "sentry-10.jsonl",
                "sentry-20.jsonl",
                "spans-10.1.jsonl",
                "spans-10.jsonl",
                "spans-30.jsonl",
                "worker-10.json",
                "worker-20.json",
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn never_deletes_live_workers_files_or_reports() {
        let dir = folder("live");
        let me = std::process::id();
        file(&dir, &format!("spans-{me}.jsonl"), 100, 0);
        // Live files alone are over this budget: every exited file goes, and only those.
        let pruned = prune_exited(&dir, &[10], 1);
        assert_eq!(
            pruned,
            Pruned {
                files: 4,
                bytes: 700
            }
        );
        assert_eq!(
            names(&dir),
            [
                ".worker-30.json.tmp".to_string(),
                "notes.txt".into(),
                "sentry-10.jsonl".into(),
                "spans-10.1.jsonl".into(),
                "spans-10.jsonl".into(),
                format!("spans-{me}.jsonl"),
                "worker-10.json".into(),
                "worker-20.json".into(),
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn does_nothing_within_budget_or_without_a_folder() {
        let dir = folder("within");
        let before = names(&dir);
        // Exactly at the budget is within it.
        assert_eq!(prune_exited(&dir, &[], 1200), Pruned::default());
        assert_eq!(names(&dir), before);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(prune_exited(&dir, &[], 0), Pruned::default());
    }

    #[test]
    fn only_sink_files_carry_a_pid() {
        assert_eq!(telemetry_pid("spans-42.jsonl"), Some(42));
        assert_eq!(telemetry_pid("spans-42.1.jsonl"), Some(42));
        assert_eq!(telemetry_pid("sentry-7.jsonl"), Some(7));
        assert_eq!(telemetry_pid("sentry-7.1.jsonl"), Some(7));
        assert_eq!(telemetry_pid("metrics-9.jsonl"), Some(9));
        assert_eq!(telemetry_pid("metrics-9.1.jsonl"), Some(9));
        assert_eq!(telemetry_pid("logs-5.jsonl"), Some(5));
        assert_eq!(telemetry_pid("logs-5.1.jsonl"), Some(5));
        for other in [
            "worker-42.json",
            ".worker-42.json.tmp",
            "spans-.jsonl",
            "spans-.1.jsonl",
            "spans-4x.jsonl",
            "spans-+4.jsonl",
            "spans-42.2.jsonl",
            "spans-42.json",
            "sentry-99999999999.jsonl",
        ] {
            assert_eq!(telemetry_pid(other), None, "{other}");
        }
    }
}
