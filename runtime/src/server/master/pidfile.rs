//! The master's pid file (Gunicorn's `pidfile`): written once the master listens, removed when
//! it exits. During a binary upgrade (USR2) it moves to `<path>.oldbin`, so that the new master
//! can write its own at `<path>`; and back, if the new master dies while the old one still runs
//! (nginx's convention, which Gunicorn followed): `<path>` always names the master to signal.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

/// This master's pid file, wherever it is now.
#[derive(Debug)]
pub(crate) struct Pidfile {
    /// The configured path.
    path: PathBuf,
    /// Where the file is now: `path`, or `path.oldbin` during an upgrade.
    now: PathBuf,
    pid: u32,
}

impl Pidfile {
    /// Writes `pid` to `path`, unless `path` names another live process (a master already runs
    /// with this pid file). A stale file is replaced.
    pub(crate) fn create(path: &Path, pid: u32) -> Result<Self> {
        let _only_us = lock_folder(path).map_err(|e| {
            Error::io(
                format!("locking the pid file's folder {}", path.display()),
                e,
            )
        })?;
        if let Some(other) = read_pid(path).filter(|&p| p != pid && crate::sys::is_alive(p)) {
            return Err(Error::config(
                "pidfile",
                format!(
                    "{} names pid {other}, which is running: another master uses this pid file \
                     (stop it, or choose another path with FORKLINE_PIDFILE or Server::pidfile)",
                    path.display()
                ),
            ));
        }
        write_atomically(path, pid)
            .map_err(|e| Error::io(format!("writing the pid file {}", path.display()), e))?;
        Ok(Self {
            path: path.to_owned(),
            now: path.to_owned(),
            pid,
        })
    }

    /// `<path>.oldbin`.
    pub(crate) fn oldbin(&self) -> PathBuf {
        let mut name = OsString::from(self.path.as_os_str());
        name.push(".oldbin");
        PathBuf::from(name)
    }

    /// Moves the file to `<path>.oldbin` (USR2), freeing `<path>` for the new master.
    pub(crate) fn move_to_oldbin(&mut self) -> io::Result<()> {
        let oldbin = self.oldbin();
        std::fs::rename(&self.now, &oldbin)?;
        self.now = oldbin;
        Ok(())
    }

    /// Moves the file back to `<path>` (the new master died), unless `<path>` now names another
    /// live process.
    pub(crate) fn move_back(&mut self) -> io::Result<()> {
        if self.now == self.path {
            return Ok(());
        }
        let _only_us = lock_folder(&self.path)?;
        if let Some(other) =
            read_pid(&self.path).filter(|&p| p != self.pid && crate::sys::is_alive(p))
        {
            return Err(io::Error::other(format!(
                "{} names pid {other}, which is running",
                self.path.display()
            )));
        }
        std::fs::rename(&self.now, &self.path)?;
        self.now = self.path.clone();
        Ok(())
    }

    /// Where the file is now.
    pub(crate) fn location(&self) -> &Path {
        &self.now
    }
}

impl Drop for Pidfile {
    /// The master exits: its file goes, if it still names this master.
    fn drop(&mut self) {
        let _only_us = lock_folder(&self.now);
        if read_pid(&self.now) == Some(self.pid) {
            let _ = std::fs::remove_file(&self.now);
        }
    }
}

/// An exclusive lock (flock) on the folder of `path`, held while a master reads a pid file and
/// writes, moves or removes it: without it, two masters started together could both find no
/// live owner and both write, each then running as if it had the file.
fn lock_folder(path: &Path) -> io::Result<std::fs::File> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = std::fs::File::open(folder)?;
    folder.lock()?;
    Ok(folder)
}

/// The pid a pid file holds, if it holds one.
pub(crate) fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Readers see the old content or the whole new one, never a partial write.
fn write_atomically(path: &Path, pid: u32) -> io::Result<()> {
    let mut tmp = OsString::from(path.as_os_str());
    tmp.push(format!(".{pid}.tmp"));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{pid}\n"))?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("forkline-pidfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("folder");
        dir
    }

    #[test]
    fn it_moves_to_oldbin_and_back_and_is_removed_at_the_end() {
        let dir = folder("moves");
        let path = dir.join("app.pid");
        let me = std::process::id();
        let mut file = Pidfile::create(&path, me).expect("create");
        assert_eq!(read_pid(&path), Some(me));
        file.move_to_oldbin().expect("to oldbin");
        assert_eq!(read_pid(&path), None);
        assert_eq!(read_pid(&dir.join("app.pid.oldbin")), Some(me));
        file.move_back().expect("back");
        assert_eq!(read_pid(&path), Some(me));
        assert!(!dir.join("app.pid.oldbin").exists());
        drop(file);
        assert!(!path.exists(), "removed at exit");
    }

    #[test]
    fn a_live_owner_is_refused_and_a_stale_file_replaced() {
        let dir = folder("owner");
        let path = dir.join("app.pid");
        // Our parent (the test runner) is alive and is not us.
        std::fs::write(&path, format!("{}\n", crate::sys::parent_pid())).expect("write");
        let refused = Pidfile::create(&path, std::process::id()).expect_err("a live owner");
        assert!(
            refused
                .to_string()
                .contains("another master uses this pid file"),
            "{refused}"
        );
        // A pid that cannot be alive: above the kernel's limit.
        std::fs::write(&path, "2147483647\n").expect("write");
        let file = Pidfile::create(&path, std::process::id()).expect("stale replaced");
        assert_eq!(read_pid(&path), Some(std::process::id()));
        drop(file);
    }

    #[test]
    fn moving_back_never_overwrites_a_live_new_master() {
        let dir = folder("back");
        let path = dir.join("app.pid");
        let mut file = Pidfile::create(&path, std::process::id()).expect("create");
        file.move_to_oldbin().expect("to oldbin");
        std::fs::write(&path, format!("{}\n", crate::sys::parent_pid())).expect("a new master");
        assert!(file.move_back().is_err());
        assert_eq!(read_pid(&path), Some(crate::sys::parent_pid()));
        assert_eq!(file.location(), dir.join("app.pid.oldbin"));
        drop(file);
        assert!(!dir.join("app.pid.oldbin").exists());
    }

    /// Masters started together on one pid file: exactly one of them gets it (each with a live
    /// pid of its own, as real masters have), the others are told who runs.
    #[test]
    fn of_masters_starting_together_exactly_one_gets_the_file() {
        let dir = folder("race");
        let path = dir.join("app.pid");
        let mut children: Vec<std::process::Child> = (0..6)
            .map(|_| {
                std::process::Command::new("sleep")
                    .arg("60")
                    .spawn()
                    .expect("sleep")
            })
            .collect();
        let pids: Vec<u32> = children.iter().map(std::process::Child::id).collect();
        for round in 0..40 {
            let _ = std::fs::remove_file(&path);
            let start = std::sync::Arc::new(std::sync::Barrier::new(pids.len()));
            let won: Vec<Option<Pidfile>> = std::thread::scope(|scope| {
                let racers: Vec<_> = pids
                    .iter()
                    .map(|&pid| {
                        let (start, path) = (start.clone(), &path);
                        scope.spawn(move || {
                            start.wait();
                            Pidfile::create(path, pid).ok()
                        })
                    })
                    .collect();
                racers
                    .into_iter()
                    .map(|r| r.join().expect("racer"))
                    .collect()
            });
            let winners: Vec<u32> = won.iter().flatten().map(|f| f.pid).collect();
            assert_eq!(
                winners.len(),
                1,
                "round {round}: {winners:?} all got the file"
            );
            assert_eq!(read_pid(&path), Some(winners[0]), "round {round}");
            drop(won);
        }
        for child in &mut children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
