//! A worker: its run (hooks, runtime, serving, stop), what it serves with under `serve_axum`
//! (the connection loop, request limits and policy, forwarded headers, the access log), its
//! timeout and stuck requests, and the report it leaves.

pub(crate) mod abort_report;
pub(crate) mod access_log;
pub(crate) mod forwarded;
pub(crate) mod in_flight;
#[cfg(feature = "axum")]
pub(crate) mod keep_alive;
pub(crate) mod max_requests;
#[cfg(feature = "axum")]
pub(crate) mod refused_request;
pub(crate) mod request_limits;
pub(crate) mod request_policy;
#[cfg(feature = "axum")]
pub(crate) mod serve_router;
pub(crate) mod shutdown_signal;
pub(crate) mod timeout;
pub(crate) mod worker_report;
pub(crate) mod worker_run;
