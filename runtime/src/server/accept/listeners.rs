//! The master's listening sockets: bound from the configured addresses (TCP, Unix), taken from
//! descriptors it was handed (`fd://N`, systemd socket activation, a binary upgrade's old
//! master), shared by every worker through fork, handed to the new master on USR2, and, for a
//! Unix socket file this server made, removed when the last master using it stops.

use crate::error::{Error, Result};
use crate::server::accept::bind_address::BindAddress;
use crate::server::accept::socket_activation::Activated;
use crate::server::accept::unix_socket;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

/// A listening socket, TCP or Unix.
#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Socket {
    /// This socket as a new descriptor of the same socket, non-blocking, for a worker's runtime.
    pub(crate) fn for_worker(&self) -> io::Result<Self> {
        let copy = match self {
            Self::Tcp(l) => Self::Tcp(l.try_clone()?),
            Self::Unix(l) => Self::Unix(l.try_clone()?),
        };
        match &copy {
            Self::Tcp(l) => l.set_nonblocking(true)?,
            Self::Unix(l) => l.set_nonblocking(true)?,
        }
        Ok(copy)
    }

    pub(crate) fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Tcp(l) => l.local_addr().ok(),
            Self::Unix(_) => None,
        }
    }

    /// A listening socket's descriptor this process owns from now on; refused unless it is a
    /// listening stream socket, TCP or Unix. It is made close-on-exec.
    fn from_fd(fd: RawFd) -> std::result::Result<Self, String> {
        if !is_listening_socket(fd) {
            return Err(format!(
                "descriptor {fd} is not a listening socket (is it open in this process?)"
            ));
        }
        let domain = socket_domain(fd).map_err(|e| format!("descriptor {fd}: {e}"))?;
        set_cloexec(fd, true).map_err(|e| format!("descriptor {fd}: {e}"))?;
        // SAFETY: the descriptor is open and a listening socket (checked above), and the caller
        // hands its ownership over: from here the listener closes it.
        match domain {
            libc::AF_INET | libc::AF_INET6 => {
                Ok(Self::Tcp(unsafe { TcpListener::from_raw_fd(fd) }))
            }
            libc::AF_UNIX => Ok(Self::Unix(unsafe { UnixListener::from_raw_fd(fd) })),
            other => Err(format!(
                "descriptor {fd} is a socket of family {other}, neither TCP nor Unix"
            )),
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Self::Tcp(l) => l.as_raw_fd(),
            Self::Unix(l) => l.as_raw_fd(),
        }
    }
}

/// One of the master's listening sockets and what it is known as.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) socket: Socket,
    /// How logs name it: `127.0.0.1:8000`, `unix:/run/app.sock`, with systemd's name if any.
    pub(crate) name: String,
    /// The socket file this server made, removed when it stops for good.
    pub(crate) owned_file: Option<PathBuf>,
}

impl Listener {
    fn adopt(fd: RawFd, owned: bool, label: Option<&str>) -> std::result::Result<Self, String> {
        let socket = Socket::from_fd(fd)?;
        let name = match &socket {
            Socket::Tcp(l) => l.local_addr().map(|a| a.to_string()),
            Socket::Unix(l) => l.local_addr().map(|a| match a.as_pathname() {
                Some(path) => format!("unix:{}", path.display()),
                None => format!("unix (fd {fd})"),
            }),
        }
        .map_err(|e| format!("descriptor {fd}: reading its address: {e}"))?;
        let owned_file = match &socket {
            Socket::Unix(l) if owned => l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(PathBuf::from)),
            _ => None,
        };
        let name = match label.filter(|l| !l.is_empty()) {
            Some(label) => format!("{name} ({label})"),
            None => name,
        };
        Ok(Self {
            socket,
            name,
            owned_file,
        })
    }

    fn bind(address: &BindAddress, options: &BindOptions) -> Result<Self> {
        let failed = |e: io::Error| Error::io(format!("binding {address}"), e);
        let listener = Self::bind_only(address, options.unix_mode).map_err(|e| match e {
            Bound::Io(e) => failed(e),
            Bound::Config(e) => e,
        })?;
        if !matches!(address, BindAddress::Fd(_)) {
            // std listens with a backlog of 128; listening again sets the one asked for. A
            // socket handed over keeps what its maker chose.
            set_backlog(listener.socket.as_raw_fd(), options.backlog).map_err(failed)?;
        }
        Ok(listener)
    }

    fn bind_only(address: &BindAddress, unix_mode: u32) -> std::result::Result<Self, Bound> {
        match address {
            BindAddress::Tcp(addr) => {
                let socket = Socket::Tcp(TcpListener::bind(addr).map_err(Bound::Io)?);
                let name = socket.tcp_addr().unwrap_or(*addr).to_string();
                Ok(Self {
                    socket,
                    name,
                    owned_file: None,
                })
            }
            BindAddress::Unix(path) => Ok(Self {
                socket: Socket::Unix(unix_socket::bind(path, unix_mode).map_err(Bound::Io)?),
                name: address.to_string(),
                owned_file: Some(path.clone()),
            }),
            BindAddress::Fd(fd) => {
                Self::adopt(*fd, false, None).map_err(|e| Bound::Config(Error::config("fd://", e)))
            }
        }
    }
}

/// Why a bind failed.
enum Bound {
    Io(io::Error),
    Config(Error),
}

/// How the master binds the addresses it is given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BindOptions {
    /// The Unix socket files' mode.
    pub(crate) unix_mode: u32,
    /// Gunicorn's `backlog`: connections the kernel queues before any worker takes them.
    pub(crate) backlog: u32,
}

/// Every socket the master listens on, in the order given.
#[derive(Debug)]
pub(crate) struct Listeners(Vec<Listener>);

impl Listeners {
    /// The sockets to serve: systemd's if it passed any to this process, else the configured
    /// addresses, bound now.
    pub(crate) fn open(
        addresses: &[BindAddress],
        options: &BindOptions,
        activated: Option<Activated>,
    ) -> Result<Self> {
        if let Some(activated) = activated {
            if activated.fds.is_empty() {
                return Err(Error::config(
                    "LISTEN_FDS",
                    "systemd passed no socket: check the .socket unit's Listen lines",
                ));
            }
            let listeners = activated
                .fds
                .iter()
                .enumerate()
                .map(|(i, &fd)| {
                    Listener::adopt(fd, false, activated.names.get(i).map(String::as_str))
                        .map_err(|e| Error::config("LISTEN_FDS", e))
                })
                .collect::<Result<Vec<_>>>()?;
            let all = Self(listeners);
            crate::diag::log_notice!("systemd socket activation: serving {}", all.describe());
            if !addresses.is_empty() {
                crate::diag::log_notice!(
                    "the configured addresses ({}) are not bound: systemd's sockets replace them",
                    list(addresses)
                );
            }
            return Ok(all);
        }
        if addresses.is_empty() {
            return Err(Error::config(
                "Server::bind",
                "no address to listen on: call .bind(\"127.0.0.1:8000\") or set FORKLINE_BIND",
            ));
        }
        let mut bound = Vec::with_capacity(addresses.len());
        for address in addresses {
            match Listener::bind(address, options) {
                Ok(listener) => bound.push(listener),
                Err(e) => {
                    // What this start made must not outlive it.
                    Self(bound).remove_files();
                    return Err(e);
                }
            }
        }
        Ok(Self(bound))
    }

    /// The sockets a binary upgrade's old master handed down (see [`handed_down`](Self::handed_down)).
    pub(crate) fn inherited(text: &str) -> std::result::Result<Self, String> {
        text.split(',')
            .map(|entry| {
                let (fd, owned) = match entry.strip_suffix(OWNED) {
                    Some(fd) => (fd, true),
                    None => (entry, false),
                };
                let fd: RawFd = fd
                    .parse()
                    .ok()
                    .filter(|&fd| fd >= 0)
                    .ok_or_else(|| format!("{entry:?} is not a file descriptor number"))?;
                Listener::adopt(fd, owned, None)
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The descriptors to hand to a new master on USR2, as [`inherited`](Self::inherited)
    /// reads them: the new master then owns the socket files this one made.
    pub(crate) fn handed_down(&self) -> String {
        self.0
            .iter()
            .map(|l| {
                let owned = if l.owned_file.is_some() { OWNED } else { "" };
                format!("{}{owned}", l.socket.as_raw_fd())
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn fds(&self) -> Vec<RawFd> {
        self.0.iter().map(|l| l.socket.as_raw_fd()).collect()
    }

    /// The first TCP address, for [`Master::local_addr`](crate::Master::local_addr).
    pub(crate) fn first_tcp(&self) -> Option<SocketAddr> {
        self.0.iter().find_map(|l| l.socket.tcp_addr())
    }

    /// `127.0.0.1:8000, unix:/run/app.sock`.
    pub(crate) fn describe(&self) -> String {
        self.0
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Each socket as a worker's own descriptor, non-blocking.
    pub(crate) fn for_worker(&self) -> io::Result<Vec<Socket>> {
        self.0.iter().map(|l| l.socket.for_worker()).collect()
    }

    /// Removes the socket files this server made: at its final stop, not when it hands its
    /// sockets to a new master that still serves on them.
    pub(crate) fn remove_files(&self) {
        for path in self.0.iter().filter_map(|l| l.owned_file.as_ref()) {
            if let Err(e) = unix_socket::remove_if_present(path) {
                crate::diag::log_warn!("removing the socket file {}: {e}", path.display());
            }
        }
    }
}

/// Marks, in a handed-down list, a socket whose file the receiving master owns.
const OWNED: &str = ":owned";

fn list(addresses: &[BindAddress]) -> String {
    addresses
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Listens again on `fd` with `backlog` (Linux takes a new backlog this way; the kernel caps it
/// at `net.core.somaxconn`).
fn set_backlog(fd: RawFd, backlog: u32) -> io::Result<()> {
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen on a descriptor number; no memory is passed.
    if unsafe { libc::listen(fd, backlog) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn is_listening_socket(fd: RawFd) -> bool {
    sockopt(fd, libc::SO_ACCEPTCONN).is_ok_and(|accepting| accepting == 1)
}

fn socket_domain(fd: RawFd) -> io::Result<libc::c_int> {
    sockopt(fd, libc::SO_DOMAIN)
}

fn sockopt(fd: RawFd, option: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid out-pointers of the right sizes; a bad descriptor only gives EBADF/ENOTSOCK.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value)
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(crate) fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor number; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    const OPTIONS: BindOptions = BindOptions {
        unix_mode: 0o600,
        backlog: 2048,
    };

    #[test]
    fn the_backlog_asked_for_queues_a_burst_of_connections() {
        // Nobody accepts: every connection waits in the queue. With std's 128, the kernel
        // drops the SYNs past it, and those clients only try again a second later.
        let listeners =
            Listeners::open(&["127.0.0.1:0".parse().expect("tcp")], &OPTIONS, None).expect("open");
        let addr = listeners.first_tcp().expect("tcp");
        let mut queued = Vec::new();
        for n in 0..400 {
            // A loopback handshake takes microseconds; a dropped SYN is sent again after 1 s.
            let wait = std::time::Duration::from_millis(300);
            match std::net::TcpStream::connect_timeout(&addr, wait) {
                Ok(stream) => queued.push(stream),
                Err(e) => panic!("connection {n} was not queued: {e}"),
            }
        }
    }

    #[test]
    fn only_a_listening_socket_is_adopted() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connected = std::net::TcpStream::connect(addr).expect("connect");
        let error = Socket::from_fd(connected.as_raw_fd()).expect_err("a connection");
        assert!(error.contains("not a listening socket"), "{error}");
        let file = std::fs::File::open("/proc/self/stat").expect("a file");
        assert!(Socket::from_fd(file.as_raw_fd()).is_err(), "a file");
        assert!(Socket::from_fd(1 << 20).is_err(), "no descriptor");
        let adopted = Listener::adopt(listener.into_raw_fd(), false, Some("web")).expect("adopt");
        assert_eq!(adopted.name, format!("{addr} (web)"));
        assert_eq!(adopted.socket.tcp_addr(), Some(addr));
    }

    #[test]
    fn a_handed_down_list_keeps_which_socket_files_are_owned() {
        let dir = std::env::temp_dir().join(format!("forkline-listeners-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("folder");
        let path = dir.join("app.sock");
        let _ = std::fs::remove_file(&path);
        let listeners = Listeners::open(
            &[
                "127.0.0.1:0".parse().expect("tcp"),
                BindAddress::Unix(path.clone()),
            ],
            &OPTIONS,
            None,
        )
        .expect("open");
        let text = listeners.handed_down();
        let [tcp, unix] = listeners.fds()[..] else {
            panic!("two sockets")
        };
        assert_eq!(text, format!("{tcp},{unix}{OWNED}"));
        // What the new master does with it: the descriptors are its own after exec.
        let again = Listeners::inherited(&text).expect("inherited");
        std::mem::forget(listeners);
        assert_eq!(
            again.describe(),
            format!("{}, unix:{}", again.0[0].name, path.display())
        );
        assert_eq!(again.0[1].owned_file.as_deref(), Some(path.as_path()));
        again.remove_files();
        assert!(!path.exists());
        assert!(Listeners::inherited("x").is_err());
    }
}
