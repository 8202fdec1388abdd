//! An append-only JSON-lines file of the embedded sink that stays within a byte limit: when the
//! next line would not fit, the current file becomes `<stem>.1.jsonl` (replacing the previous
//! one, whose records are reported as discarded) and a new current file starts. The newest data
//! is what stays, and a reader finds it all in two files: `<stem>.1.jsonl` then `<stem>.jsonl`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Add;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The two files of one sink in `dir`: the current one and the rotated one behind it.
pub(crate) fn paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.jsonl")),
        dir.join(format!("{stem}.1.jsonl")),
    )
}

/// Why a line was not written.
#[derive(Debug)]
pub(crate) enum NotWritten {
    /// The line alone is larger than a file may be: writing it would break the budget.
    TooLarge { len: u64, limit: u64 },
    /// Rotating or writing failed.
    Io(std::io::Error),
}

impl std::fmt::Display for NotWritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { len, limit } => write!(
                f,
                "a {len}-byte record is larger than one embedded file's share of the budget ({limit} bytes)"
            ),
            Self::Io(e) => e.fmt(f),
        }
    }
}

/// What one `append` did.
#[derive(Debug)]
pub(crate) struct Appended<T> {
    /// Records deleted with the rotated file, whether or not the line was then written.
    pub(crate) discarded: T,
    pub(crate) written: Result<(), NotWritten>,
}

/// `T` counts the records of a line (spans; Sentry events and transactions), so that what a
/// rotation deletes can be counted by kind.
#[derive(Debug)]
pub(crate) struct RotatingFile<T> {
    state: Mutex<State<T>>,
}

#[derive(Debug)]
struct State<T> {
    current: PathBuf,
    rotated: PathBuf,
    limit: u64,
    /// `None` until the first line (a signal with nothing to write leaves no empty file), or
    /// after a rotation could not open the new file: the next append opens it.
    file: Option<File>,
    size: u64,
    in_current: T,
    in_rotated: T,
}

impl<T: Copy + Default + Add<Output = T>> RotatingFile<T> {
    /// `<stem>.jsonl` in `dir`, made at the first line (or continued, if an earlier process
    /// with this pid left one); no file will exceed `limit` bytes. The folder must be writable.
    pub(crate) fn open(dir: &Path, stem: &str, limit: u64) -> std::io::Result<Self> {
        let (current, rotated) = paths(dir, stem);
        // A file left by an earlier process with this pid counts towards the limit; its records
        // are not this process's, so they are not counted when it is discarded.
        let file = if current.exists() {
            Some(open_append(&current)?)
        } else {
            check_writable(dir)?;
            None
        };
        let size = match &file {
            Some(file) => file.metadata()?.len(),
            None => 0,
        };
        Ok(Self {
            state: Mutex::new(State {
                current,
                rotated,
                limit,
                file,
                size,
                in_current: T::default(),
                in_rotated: T::default(),
            }),
        })
    }

    /// Appends `line` (one whole JSON line, newline included) holding `records`, rotating first
    /// if it would not fit. One `write` per line on an O_APPEND file: lines never interleave.
    pub(crate) fn append(&self, line: &[u8], records: T) -> Appended<T> {
        // A panic while holding the lock leaves plain counters behind; keep going with them.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let len = line.len() as u64;
        let mut discarded = T::default();
        if len > state.limit {
            return Appended {
                discarded,
                written: Err(NotWritten::TooLarge {
                    len,
                    limit: state.limit,
                }),
            };
        }
        if state.file.is_none() || state.size + len > state.limit {
            let (gone, rotated) = state.rotate();
            discarded = gone;
            if let Err(e) = rotated {
                return Appended {
                    discarded,
                    written: Err(NotWritten::Io(e)),
                };
            }
        }
        let Some(mut file) = state.file.as_ref() else {
            return Appended {
                discarded,
                written: Err(NotWritten::Io(std::io::Error::other("no file open"))),
            };
        };
        let written = file.write_all(line);
        // Counted even when the write failed part way: the size stays an upper bound, so the
        // limit holds whatever landed on disk.
        state.size += len;
        match written {
            Ok(()) => {
                state.in_current = state.in_current + records;
                Appended {
                    discarded,
                    written: Ok(()),
                }
            }
            Err(e) => Appended {
                discarded,
                written: Err(NotWritten::Io(e)),
            },
        }
    }
}

impl<T: Copy + Default> State<T> {
    /// Moves the current file over the rotated one and opens a new current file. Returns the
    /// records deleted with the old rotated file.
    fn rotate(&mut self) -> (T, std::io::Result<()>) {
        let mut discarded = T::default();
        if self.file.is_some() {
            // rename(2) replaces the old rotated file in one step: a reader sees either it or
            // its successor, never neither.
            if let Err(e) = std::fs::rename(&self.current, &self.rotated) {
                return (discarded, Err(e));
            }
            self.file = None;
            discarded = self.in_rotated;
            self.in_rotated = self.in_current;
            self.in_current = T::default();
        }
        match open_append(&self.current) {
            Ok(file) => {
                // 0 but for a file someone else made in the meantime.
                self.size = file.metadata().map_or(0, |m| m.len());
                self.file = Some(file);
                (discarded, Ok(()))
            }
            Err(e) => (discarded, Err(e)),
        }
    }
}

/// A folder the sink cannot write in is an error at start, as it was when the file was made at
/// once, not a silent loss at the first line.
fn check_writable(dir: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a folder",
            dir.display()
        )));
    }
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(std::io::Error::other)?;
    // SAFETY: `path` is a valid NUL-terminated string for the duration of the call.
    if unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("forkline-rotating-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        dir
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn keeps_the_newest_lines_within_two_files_and_counts_the_rest() {
        let dir = temp_dir("newest");
        let file = RotatingFile::<u64>::open(&dir, "spans-1", 100).expect("open");
        let mut discarded = 0;
        for i in 0..50u64 {
            // 10 bytes a line: 10 lines per file.
            let line = format!("line{i:05}\n");
            let appended = file.append(line.as_bytes(), 1);
            assert!(appended.written.is_ok(), "{i}: {:?}", appended.written);
            discarded += appended.discarded;
        }
        let (current, rotated) = paths(&dir, "spans-1");
        let kept: Vec<String> = lines(&rotated).into_iter().chain(lines(&current)).collect();
        let expected: Vec<String> = (30..50).map(|i| format!("line{i:05}")).collect();
        assert_eq!(kept, expected);
        assert_eq!(discarded, 30);
        for path in [current, rotated] {
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            assert!(len <= 100, "{}: {len} bytes", path.display());
        }
        let too_large = file.append(&[b'x'; 101], 1);
        assert!(matches!(
            too_large.written,
            Err(NotWritten::TooLarge { len: 101, .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_written_leaves_no_file_and_the_first_line_makes_it() {
        let dir = temp_dir("lazy");
        let file = RotatingFile::<u64>::open(&dir, "logs-1", 1024).expect("open");
        let (current, _) = paths(&dir, "logs-1");
        assert!(
            !current.exists(),
            "no empty file for a signal that writes nothing"
        );
        assert!(file.append(b"{}\n", 1).written.is_ok());
        assert_eq!(lines(&current), vec!["{}".to_string()]);
        let missing = dir.join("no-such-folder");
        assert!(
            RotatingFile::<u64>::open(&missing, "logs-1", 1024).is_err(),
            "checked at start"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
