//! USR2: a binary upgrade, as Gunicorn and nginx do it. The master starts a new master from its
//! executable's path (where a new build may have been put since) with the same arguments, folder
//! and environment, and hands it the listening sockets: their descriptors stay open across `exec`
//! and their numbers are passed in [`LISTEN_FD`]. No port or socket file ever closes, so no
//! connection is refused; the new master owns the socket files the old one made.
//! The new master boots its own workers on the same socket; WINCH then stops the old master's
//! workers gracefully and TERM stops the old master. If the new master dies first, the old one
//! serves on (and brings its workers back if WINCH had stopped them).
//!
//! Why `std::process::Command` with a `pre_exec` step: it reports an `exec` failure (a missing
//! or non-executable file) back to the caller through its own pipe, and the step only makes two
//! kinds of async-signal-safe calls in the child: the sockets' close-on-exec flags off, and the signal mask
//! the master itself started with (std empties the mask in the child, which undoes what this
//! master's thread blocks for its own signal handling; a launcher's deliberate mask is kept).

use crate::error::{Error, Result};
use crate::server::accept::listeners::{set_cloexec, Listeners};
use crate::server::signals::SignalMask;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// The listening sockets' descriptors, in a master started by USR2.
pub(crate) const LISTEN_FD: &str = "FORKLINE_LISTEN_FD";
/// The pid of the master that started this one (USR2).
pub(crate) const UPGRADED_FROM: &str = "FORKLINE_UPGRADED_FROM";

/// How this master was started, taken before `serve` can run for long: by the time of a USR2
/// the file may have been replaced (then `/proc/self/exe` names the deleted old one) and the
/// working folder changed by the app.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    exe: PathBuf,
    args: Vec<OsString>,
    cwd: PathBuf,
}

impl Origin {
    pub(crate) fn capture() -> io::Result<Self> {
        let exe = std::env::current_exe()?;
        // A file replaced before we looked: its path is still where the new build is.
        let exe = match exe.to_str().and_then(|s| s.strip_suffix(" (deleted)")) {
            Some(path) => PathBuf::from(path),
            None => exe,
        };
        Ok(Self {
            exe,
            args: std::env::args_os().skip(1).collect(),
            cwd: std::env::current_dir()?,
        })
    }

    /// The executable a USR2 starts.
    pub(crate) fn exe(&self) -> &std::path::Path {
        &self.exe
    }
}

/// The sockets a previous master handed down, and that master's pid.
#[derive(Debug)]
pub(crate) struct Inherited {
    pub(crate) listeners: Listeners,
    pub(crate) from: Option<u32>,
}

/// The socket handed down by the master that started this one, if it did. The variables are
/// removed, so nothing this process starts takes them for its own.
pub(crate) fn take_inherited() -> Result<Option<Inherited>> {
    let Some(value) = std::env::var_os(LISTEN_FD) else {
        return Ok(None);
    };
    let from = std::env::var(UPGRADED_FROM)
        .ok()
        .and_then(|p| p.parse().ok());
    // The master calls this before any hook or thread of its own exists.
    std::env::remove_var(LISTEN_FD);
    std::env::remove_var(UPGRADED_FROM);
    let listeners = value
        .to_str()
        .ok_or_else(|| format!("{value:?} is not a list of descriptor numbers"))
        .and_then(Listeners::inherited)
        .map_err(|e| {
            Error::config(
                LISTEN_FD,
                format!(
                    "{e}: it is set by a master for the master it starts on USR2; unset it to \
                     bind the configured addresses instead"
                ),
            )
        })?;
    Ok(Some(Inherited { listeners, from }))
}

/// Starts the new master: `origin`'s executable, arguments and folder, this environment plus
/// the sockets' descriptors and this master's pid, and `mask` (the signal mask this master
/// started with) as its signal mask. Returns its pid once `exec` has succeeded.
pub(crate) fn start_new_master(
    origin: &Origin,
    listeners: &Listeners,
    mask: &SignalMask,
) -> io::Result<libc::pid_t> {
    let fds = listeners.fds();
    let mask = mask.clone();
    let mut command = Command::new(&origin.exe);
    command
        .args(&origin.args)
        .current_dir(&origin.cwd)
        .env(LISTEN_FD, listeners.handed_down())
        .env(UPGRADED_FROM, std::process::id().to_string());
    // SAFETY: runs in the forked child before exec and only makes async-signal-safe calls
    // (pthread_sigmask, fcntl) on values prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            crate::server::signals::restore(&mask);
            fds.iter().try_for_each(|&fd| set_cloexec(fd, false))
        });
    }
    let child = command.spawn()?;
    // The master's loop reaps it (waitpid on any child), like its workers.
    Ok(child.id() as libc::pid_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_this_executable() {
        let origin = Origin::capture().expect("origin");
        assert!(origin.exe().is_file(), "{:?}", origin.exe());
        assert!(!origin.exe().to_string_lossy().ends_with("(deleted)"));
    }
}
