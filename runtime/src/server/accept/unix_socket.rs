//! Binding a Unix domain socket's path. A socket file a dead master left behind would make the
//! bind fail (`EADDRINUSE`) until someone removes it by hand, so it is removed first; but only
//! once a connection to it is refused, which proves no process listens there. Gunicorn removes
//! whatever socket file is there, even a live server's, which then goes on listening on a path
//! nobody can reach. The file's mode is set as it is created, not after, so no client connects
//! through wider permissions than asked.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;

/// The socket file's mode unless told otherwise: systemd's `SocketMode=` default. Connecting
/// needs write permission on the file, and the proxy in front usually runs as another user.
pub(crate) const DEFAULT_MODE: u32 = 0o666;

/// Binds `path` with `mode`, removing a stale socket file first; refuses a path that is not a
/// socket or that a live process listens on.
pub(crate) fn bind(path: &Path, mode: u32) -> io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket: remove it or choose another path",
            ))
        }
        Ok(_) => match probe(path) {
            Probe::Listening => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "a live process listens on this socket (another master?): stop it first \
                     or choose another path",
                ))
            }
            Probe::Stale => {
                crate::diag::log_info!(
                    "removing the stale socket file {} (nothing listens on it)",
                    path.display()
                );
                remove_if_present(path)?;
            }
            Probe::Gone => {}
            Probe::Failed(e) => return Err(e),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = with_umask(!mode & 0o777, || UnixListener::bind(path))?;
    // The umask can only narrow what bind asks for; set the exact mode the caller gave.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

/// Removes the socket file `path` when the master that made it stops.
pub(crate) fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[derive(Debug)]
enum Probe {
    /// A process accepts (or has a full queue) there.
    Listening,
    /// A socket file nobody listens on.
    Stale,
    /// The file went away meanwhile.
    Gone,
    Failed(io::Error),
}

/// Whether a process listens on the socket file `path`. The connection is non-blocking: a
/// blocking connect to a live server whose queue is full would wait until it has room.
fn probe(path: &Path) -> Probe {
    let attempt = || -> io::Result<()> {
        let socket = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.connect(&socket2::SockAddr::unix(path)?)
    };
    match attempt() {
        Ok(()) => Probe::Listening,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Probe::Listening,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Probe::Stale,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Probe::Gone,
        Err(e) => Probe::Failed(e),
    }
}

/// Runs `f` with the process's umask set to `mask`. The master calls it before forking any
/// worker, and only `bind` creates a file meanwhile.
fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: umask only swaps the process's file creation mask.
    let old = unsafe { libc::umask(mask as libc::mode_t) };
    let out = f();
    // SAFETY: as above, putting the previous mask back.
    unsafe { libc::umask(old) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("forkline-unix-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir.join("app.sock")
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_one_refused() {
        let path = scratch("stale");
        // A listener dropped without removing its file: what a killed master leaves.
        drop(UnixListener::bind(&path).expect("first bind"));
        assert!(path.exists());
        let listener = bind(&path, 0o600).expect("the stale file is replaced");
        let error = bind(&path, 0o600).expect_err("a live listener's path");
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse, "{error}");
        assert!(path.exists(), "the live socket file stays");
        std::os::unix::net::UnixStream::connect(&path).expect("still reachable");
        drop(listener);
    }

    #[test]
    fn a_path_that_is_no_socket_is_refused() {
        let path = scratch("file");
        std::fs::write(&path, "data").expect("a plain file");
        let error = bind(&path, 0o600).expect_err("a plain file");
        assert!(error.to_string().contains("not a socket"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "data");
    }

    #[test]
    fn the_mode_is_the_one_asked_for() {
        for mode in [0o600, 0o660, 0o666] {
            let path = scratch(&format!("mode{mode:o}"));
            let _listener = bind(&path, mode).expect("bind");
            let meta = std::fs::metadata(&path).expect("stat");
            assert_eq!(meta.permissions().mode() & 0o777, mode);
        }
    }
}
