//! The sockets a server listens on, and what an app with its own HTTP server (served by
//! [`Server::serve`](crate::Server::serve)) needs to take connections and stop gracefully:
//! [`Serve::balanced_listener`](crate::Serve::balanced_listener) gives a [`BalancedListener`],
//! whose [`CountedStream`]s carry a [`ConnectionDrain`]; [`Shutdown`] resolves when the worker
//! is asked to stop, and [`Drain`] tells when its connections are settled. `serve_axum` does all
//! of it itself.

pub use crate::server::accept::balanced_accept::{
    BalancedListener, ConnectionDrain, CountedStream, Drain,
};
pub use crate::server::accept::bind_address::{BindAddress, ToBindAddress};
pub use crate::server::accept::stream::PeerAddr;
pub use crate::server::worker::shutdown_signal::{Shutdown, StopKind};
