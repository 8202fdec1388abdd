//! # forkline
//!
//! OpenTelemetry and Sentry that are correct in pre-fork servers.
//!
//! Telemetry SDKs start background threads, and threads do not survive `fork()`. forkline runs
//! a Gunicorn-style master that binds its sockets and forks workers, and its lifecycle macros
//! generate the telemetry setup at the right point of each worker's life:
//!
//! | point | process | generated setup, then your function |
//! |---|---|---|
//! | [`on_starting`], [`when_ready`], [`pre_fork`] | master | none: no telemetry threads or sockets in the master |
//! | [`post_fork`] | worker, single-threaded | OTel base: resource, sampler, exporter, provider with a late-bound slot |
//! | [`worker_init`] | worker main thread, runtime started | `sentry::init`, Sentry span processor into the slot, propagators |
//! | [`worker_exit`] | worker, on stop | your function first, then flush + shutdown under one deadline |
//! | [`worker_int`] | worker, on INT / QUIT | none; then `worker_exit` |
//! | [`worker_abort`] | worker's abort thread, on the timeout's ABRT | none; then the flush |
//! | [`on_reload`], [`nworkers_changed`], [`child_exit`], [`on_exit`] | master | none |
//!
//! ```no_run
//! #[forkline::post_fork(service_name = "checkout", sampler = "parentbased_traceidratio", ratio = 0.25)]
//! fn otel(worker: &forkline::Worker) {}
//!
//! #[forkline::worker_init(sentry(dsn = env("SENTRY_DSN"), traces_sample_rate = 1.0))]
//! fn telemetry(worker: &forkline::Worker) {}
//!
//! #[forkline::worker_exit(deadline_ms = 2000)]
//! fn bye(worker: &forkline::Worker) {}
//!
//! # #[cfg(feature = "axum")]
//! fn main() -> forkline::Result<()> {
//!     let app = axum::Router::new();
//!     forkline::Server::from_env()?.workers(4).bind("127.0.0.1:8000")?.serve_axum(app)
//! }
//! # #[cfg(not(feature = "axum"))] fn main() {}
//! ```
//!
//! With no `OTEL_EXPORTER_OTLP_ENDPOINT` and no `SENTRY_DSN`, spans (OTLP JSON) and Sentry
//! events are written to files in the run folder, printed at start, within a byte budget per
//! worker (64 MiB by default, `FORKLINE_EMBEDDED_BUDGET_BYTES`) past which the oldest are
//! discarded and counted, and within a total budget for the folder (1 GiB by default,
//! `FORKLINE_EMBEDDED_TOTAL_BUDGET_BYTES`) past which the files of exited workers are deleted,
//! oldest first.

#![warn(missing_docs)]
// docs.rs (nightly) labels feature-gated items with the feature they need.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The pre-fork server is built on fork(2), ppoll(2), pipe2(2), prctl(PR_SET_PDEATHSIG) and
// /proc/self/task: say so, rather than fail on a missing symbol somewhere inside.
#[cfg(not(target_os = "linux"))]
compile_error!(
    "forkline supports Linux only: its pre-fork server relies on fork(), ppoll(), pipe2(), \
     prctl(PR_SET_PDEATHSIG) and /proc. Build on Linux (x86_64 or aarch64)."
);

pub mod config;
mod diag;
mod error;
mod export;
// Rendered by rustdoc; its examples are compiled as forkline-tests' doc tests instead.
#[cfg(not(doctest))]
pub mod guide;
pub mod handler;
mod health;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod http;
mod identity;
mod lifecycle;
pub mod manual;
mod metric_collection;
pub mod net;
pub mod report;
mod server;
mod sink;
mod stats;
mod sys;
mod telemetry;

#[doc(hidden)]
pub mod __private;
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub mod bench_internals;

pub use config::{LogLevel, Profile, Telemetry};
pub use error::{Error, ForkHazard, Result};
pub use forkline_macros::{
    child_exit, handler, nworkers_changed, on_exit, on_reload, on_starting, post_fork, pre_fork,
    when_ready, worker_abort, worker_exit, worker_init, worker_int, SpanAttributes,
};
pub use handler::{SpanAttributes, SpanValue};
pub use health::{health, Health};
pub use lifecycle::hooks::HookReturn;
pub use lifecycle::{ExitStatus, Master, Worker, WorkerExit, WorkersChanged};
pub use server::master::master_report::{read_master_reports, MasterReport};
pub use server::worker::forwarded::ClientAddress;
pub use server::worker::worker_report::{read_reports, WorkerReport};
pub use server::{App, Serve, Server};
pub use stats::{stats, Stats};

/// Re-exported so generated code and users agree on the versions.
pub use opentelemetry;
pub use sentry;
