//! Old run folders: without `FORKLINE_DIR`, every start makes `forkline-<master pid>-<start
//! seconds>` in the temporary directory, and nothing else would ever remove them. At each start
//! the master keeps the newest [`KEEP_OLD_RUNS`] of the finished ones and removes the others.
//! A folder is only ever removed when all of these hold: its name is exactly that pattern, it is
//! a directory (not a link) owned by this user, its master pid is no longer alive, and it is
//! not the folder of the run that is starting. A live run's folder is never touched, and a pid
//! that was reused by an unrelated process keeps its folder (the safe side).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How many finished runs' folders stay in the temporary directory.
pub(crate) const KEEP_OLD_RUNS: usize = 10;

/// `forkline-<pid>-<secs>` (`config::telemetry_config::run_folder_name`) → `(pid, secs)`; anything else → `None`.
fn parse(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix("forkline-")?;
    let (pid, secs) = rest.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(secs) {
        return None;
    }
    Some((pid.parse().ok()?, secs.parse().ok()?))
}

/// Removes, in `temp`, the folders of finished runs of this user beyond the newest `keep`,
/// never `current`; `is_alive` says whether a master pid still runs. Returns what was removed.
pub(crate) fn prune(
    temp: &Path,
    keep: usize,
    current: &Path,
    is_alive: impl Fn(u32) -> bool,
) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return Vec::new();
    };
    let me = crate::sys::user_id();
    let mut finished: Vec<(u64, u32, PathBuf)> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let (pid, secs) = parse(entry.file_name().to_str()?)?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).ok()?;
            let ours = meta.is_dir() && meta.uid() == me && path != current;
            (ours && !is_alive(pid)).then_some((secs, pid, path))
        })
        .collect();
    // Newest first (start time, then pid for runs started in the same second).
    finished.sort_by_key(|(secs, pid, _)| std::cmp::Reverse((*secs, *pid)));
    finished
        .into_iter()
        .skip(keep)
        .filter_map(|(_, _, path)| std::fs::remove_dir_all(&path).ok().map(|()| path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::telemetry_config::run_folder_name;

    #[test]
    fn only_the_exact_pattern_is_a_run_folder() {
        assert_eq!(parse("forkline-123-1700000000"), Some((123, 1700000000)));
        assert_eq!(parse(&run_folder_name(7, 9)), Some((7, 9)));
        for other in [
            "forkline-test-12-3",
            "forkline-12",
            "forkline-12-",
            "forkline--3",
            "forkline-1-2-3",
            "forkline-a-1",
            "forklinex-1-2",
            "other-1-2",
        ] {
            assert_eq!(parse(other), None, "{other}");
        }
    }
}
