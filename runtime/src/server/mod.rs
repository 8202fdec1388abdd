//! The pre-fork server: a master (the supervisor) that binds its sockets and forks workers that
//! share them, each running one app; their signals, scoreboard, balanced accept and reports.

pub(crate) mod abort_report;
pub(crate) mod access_log;
pub(crate) mod app;
pub(crate) mod balanced_accept;
pub(crate) mod binary_upgrade;
pub(crate) mod bind_address;
pub(crate) mod boot_failure;
pub(crate) mod builder;
pub(crate) mod check;
pub(crate) mod crash_loop;
pub(crate) mod exit_kind;
pub(crate) mod forwarded;
pub(crate) mod in_flight;
pub(crate) mod in_process;
#[cfg(feature = "axum")]
pub(crate) mod keep_alive;
pub(crate) mod listeners;
pub(crate) mod master_boot;
pub(crate) mod master_report;
pub(crate) mod max_requests;
pub(crate) mod overdue;
pub(crate) mod pidfile;
#[cfg(feature = "axum")]
pub(crate) mod refused_request;
pub(crate) mod request_limits;
pub(crate) mod request_policy;
pub(crate) mod scoreboard;
pub(crate) mod sd_notify;
#[cfg(feature = "axum")]
pub(crate) mod serve_router;
pub(crate) mod settings;
pub(crate) mod shutdown_signal;
pub(crate) mod signals;
pub(crate) mod socket_activation;
pub(crate) mod stream;
pub(crate) mod supervisor;
pub(crate) mod timeout;
pub(crate) mod unix_socket;
pub(crate) mod upgrade;
pub(crate) mod worker_report;
pub(crate) mod worker_run;

pub use crate::health::serving::Serving;
pub use app::{App, Serve};
pub use builder::Server;
pub(crate) use settings::Settings;
