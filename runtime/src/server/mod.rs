//! The pre-fork server: a master (the supervisor) that binds its sockets and forks workers that
//! share them, each running one app; their signals, scoreboard, balanced accept and reports.

pub(crate) mod accept;
pub(crate) mod app;
pub(crate) mod builder;
pub(crate) mod check;
pub(crate) mod master;
pub(crate) mod scoreboard;
pub(crate) mod settings;
pub(crate) mod signals;
pub(crate) mod worker;

pub use crate::health::serving::Serving;
pub use app::{App, Serve};
pub use builder::Server;
pub(crate) use settings::Settings;
