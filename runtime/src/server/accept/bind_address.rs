//! What the server listens on, in Gunicorn's `bind` forms: `HOST:PORT` (or `HOST`, port 8000),
//! `unix:PATH` (or `unix://PATH`) and `fd://N`, a listening socket this process was handed.
//! `FORKLINE_BIND` takes several, separated by commas.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::str::FromStr;

/// Gunicorn's default port, for a `bind` address without one.
const DEFAULT_PORT: u16 = 8000;

/// One address the server listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BindAddress {
    /// A TCP address (`127.0.0.1:8000`, `[::1]:8000`, a host name resolved when parsed).
    Tcp(SocketAddr),
    /// A Unix domain socket's path (`unix:/run/app.sock`). A stale socket file a dead process
    /// left there is removed first; one a live process listens on is an error.
    Unix(PathBuf),
    /// A listening socket this process already holds (`fd://3`), TCP or Unix: passed by the
    /// program that started it, or by [`Server::listener`](crate::Server::listener).
    Fd(RawFd),
}

impl fmt::Display for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
            Self::Fd(fd) => write!(f, "fd://{fd}"),
        }
    }
}

impl FromStr for BindAddress {
    type Err = String;

    /// One address in any of Gunicorn's forms; a host name is resolved now (its first address).
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(path) = text
            .strip_prefix("unix://")
            .or_else(|| text.strip_prefix("unix:"))
        {
            if path.is_empty() {
                return Err(format!(
                    "{text:?} names no socket path: write unix:/run/app.sock"
                ));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if let Some(fd) = text.strip_prefix("fd://") {
            return fd
                .parse::<RawFd>()
                .ok()
                .filter(|&fd| fd >= 0)
                .map(Self::Fd)
                .ok_or_else(|| format!("{text:?}: fd:// takes a descriptor number, as fd://3"));
        }
        if text.is_empty() {
            return Err("an empty address: write HOST:PORT, unix:PATH or fd://N".into());
        }
        let with_port = if has_port(text) {
            text.to_string()
        } else {
            format!("{text}:{DEFAULT_PORT}")
        };
        with_port
            .to_socket_addrs()
            .map_err(|e| format!("{text:?} is not HOST:PORT, unix:PATH or fd://N ({e})"))?
            .next()
            .map(Self::Tcp)
            .ok_or_else(|| format!("{text:?} resolved to no address"))
    }
}

/// Whether `text` ends in a port: `host:8000`, `[::1]:8000`, but not `::1` or `[::1]`.
fn has_port(text: &str) -> bool {
    if text.starts_with('[') {
        return text.contains("]:");
    }
    text.matches(':').count() == 1
}

/// Parses `FORKLINE_BIND`: addresses separated by commas.
pub(crate) fn parse_list(text: &str) -> Result<Vec<BindAddress>, String> {
    let addresses = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(str::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if addresses.is_empty() {
        return Err("no address: write HOST:PORT, unix:PATH or fd://N, separated by commas".into());
    }
    Ok(addresses)
}

/// What [`Server::bind`](crate::Server::bind) takes: a string in Gunicorn's forms
/// (`"127.0.0.1:8000"`, `"unix:/run/app.sock"`, `"fd://3"`), a `SocketAddr`, an `(ip, port)`
/// pair, or a [`BindAddress`].
pub trait ToBindAddress {
    /// The address, or why it is not one.
    fn to_bind_address(&self) -> Result<BindAddress, String>;
}

impl ToBindAddress for BindAddress {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        Ok(self.clone())
    }
}

impl ToBindAddress for str {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        self.parse()
    }
}

impl ToBindAddress for String {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        self.parse()
    }
}

impl<T: ToBindAddress + ?Sized> ToBindAddress for &T {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        (**self).to_bind_address()
    }
}

impl ToBindAddress for SocketAddr {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        Ok(BindAddress::Tcp(*self))
    }
}

impl ToBindAddress for (IpAddr, u16) {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        Ok(BindAddress::Tcp(SocketAddr::from(*self)))
    }
}

impl ToBindAddress for (Ipv4Addr, u16) {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        Ok(BindAddress::Tcp(SocketAddr::from(*self)))
    }
}

impl ToBindAddress for (Ipv6Addr, u16) {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        Ok(BindAddress::Tcp(SocketAddr::from(*self)))
    }
}

impl ToBindAddress for (&str, u16) {
    fn to_bind_address(&self) -> Result<BindAddress, String> {
        self.to_socket_addrs()
            .map_err(|e| format!("{:?} is not a host: {e}", self.0))?
            .next()
            .map(BindAddress::Tcp)
            .ok_or_else(|| format!("{:?} resolved to no address", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gunicorn_forms_parse() {
        let tcp = |s: &str| BindAddress::Tcp(s.parse().expect("addr"));
        assert_eq!("127.0.0.1:9000".parse(), Ok(tcp("127.0.0.1:9000")));
        assert_eq!("127.0.0.1".parse(), Ok(tcp("127.0.0.1:8000")));
        assert_eq!("[::1]:9000".parse(), Ok(tcp("[::1]:9000")));
        assert_eq!("[::1]".parse(), Ok(tcp("[::1]:8000")));
        assert_eq!("::1".parse(), Ok(tcp("[::1]:8000")));
        let unix = BindAddress::Unix("/run/app.sock".into());
        assert_eq!("unix:/run/app.sock".parse(), Ok(unix.clone()));
        assert_eq!("unix:///run/app.sock".parse(), Ok(unix));
        assert_eq!("fd://3".parse(), Ok(BindAddress::Fd(3)));
        assert_eq!(
            parse_list("127.0.0.1:9000, unix:/run/app.sock,"),
            Ok(vec![
                tcp("127.0.0.1:9000"),
                "unix:/run/app.sock".parse().expect("unix")
            ])
        );
    }

    #[test]
    fn bad_addresses_say_what_is_expected() {
        for bad in ["unix:", "fd://x", "fd://-1", "", "1.2.3.4:99999"] {
            let error = bad.parse::<BindAddress>().expect_err(bad);
            assert!(
                error.contains("unix:") || error.contains("fd://") || error.contains(bad),
                "{bad:?}: {error}"
            );
        }
        assert!(parse_list(" , ").is_err());
    }

    #[test]
    fn displayed_as_written() {
        for text in ["127.0.0.1:9000", "unix:/run/app.sock", "fd://3"] {
            let address: BindAddress = text.parse().expect(text);
            assert_eq!(address.to_string(), text);
        }
    }
}
