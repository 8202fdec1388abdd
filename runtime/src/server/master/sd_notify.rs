//! systemd's notify protocol, for a master run as a `Type=notify` service: one datagram per
//! state change on the Unix socket named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract
//! namespace). Written here rather than taken from a crate: it is a dozen lines over
//! `std::os::unix::net::UnixDatagram`, and the crates that do it (`sd-notify`, `libsystemd`)
//! would add a dependency for that alone.
//!
//! The master says `READY=1` once every worker serves, `RELOADING=1` (with the monotonic time
//! newer systemd wants) at a HUP and `READY=1` when its old workers are replaced, `STOPPING=1`
//! on a stop, `MAINPID=` when a binary upgrade hands over to a new master, and, when systemd
//! asks for it with `WATCHDOG_USEC`, `WATCHDOG=1` at half that interval from its loop. Errors
//! are logged once and otherwise ignored: a service manager that went away must not stop the
//! server.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

/// The notify socket and the watchdog's pace, when systemd set them.
#[derive(Debug)]
pub(crate) struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
    /// How often to ping the watchdog (half of `WATCHDOG_USEC`), and when it was last pinged.
    watchdog: Option<(Duration, Instant)>,
    failed: bool,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`; `None` outside systemd.
    pub(crate) fn from_env() -> Option<Self> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let to = match address(&path) {
            Ok(to) => to,
            Err(e) => {
                crate::diag::log_warn!("NOTIFY_SOCKET {path:?} cannot be used: {e}");
                return None;
            }
        };
        let socket = match UnixDatagram::unbound() {
            Ok(socket) => socket,
            Err(e) => {
                crate::diag::log_warn!("cannot open a socket to notify systemd: {e}");
                return None;
            }
        };
        let for_me = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|pid| pid == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_me)
            .map(|u| (Duration::from_micros(u) / 2, Instant::now()));
        Some(Self {
            socket,
            to,
            watchdog,
            failed: false,
        })
    }

    /// Sends `state` (`KEY=value` lines).
    pub(crate) fn send(&mut self, state: &str) {
        if let Err(e) = self.socket.send_to_addr(state.as_bytes(), &self.to) {
            if !self.failed {
                crate::diag::log_warn!("could not notify systemd ({state:?}): {e}");
                self.failed = true;
            }
        }
    }

    /// Pings the watchdog if it is due; call from the master's loop.
    pub(crate) fn tick(&mut self) {
        let Some((every, last)) = self.watchdog else {
            return;
        };
        if last.elapsed() >= every {
            self.watchdog = Some((every, Instant::now()));
            self.send("WATCHDOG=1");
        }
    }

    /// How long the master's loop may sleep and still ping the watchdog in time.
    pub(crate) fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog.map(|(every, _)| every)
    }
}

/// `RELOADING=1` with the monotonic time, which systemd's `Type=notify-reload` requires.
pub(crate) fn reloading() -> String {
    format!(
        "RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading: replacing every worker",
        crate::sys::monotonic_ms() * 1000
    )
}

fn address(path: &std::ffi::OsStr) -> std::io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    match bytes.first() {
        Some(b'@') => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(&bytes[1..])
        }
        Some(b'/') => SocketAddr::from_pathname(path),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "neither an absolute path nor @name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_reach_a_path_socket_and_an_abstract_one() {
        let dir = std::env::temp_dir().join(format!("forkline-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("notify");
        let receiver = UnixDatagram::bind(&path).expect("bind");
        let mut notifier = Notifier {
            socket: UnixDatagram::unbound().expect("socket"),
            to: address(path.as_os_str()).expect("address"),
            watchdog: Some((Duration::ZERO, Instant::now())),
            failed: false,
        };
        notifier.send("READY=1");
        notifier.tick();
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1");
        let n = receiver.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"WATCHDOG=1");

        let name = format!("@forkline-notify-test-{}", std::process::id());
        let abstract_addr = address(std::ffi::OsStr::new(&name)).expect("abstract");
        let abstract_receiver = UnixDatagram::bind_addr(&abstract_addr).expect("bind abstract");
        notifier.to = abstract_addr;
        notifier.send("STOPPING=1");
        let n = abstract_receiver.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"STOPPING=1");
        assert!(address(std::ffi::OsStr::new("relative")).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
