//! The sockets: the addresses to bind, opening, adopting (systemd, an upgrade, `fd://`) and
//! handing them down, Unix socket files, and the balanced accept every worker takes its share of
//! connections with.

pub(crate) mod balanced_accept;
pub(crate) mod bind_address;
pub(crate) mod listeners;
pub(crate) mod socket_activation;
pub(crate) mod stream;
pub(crate) mod unix_socket;
