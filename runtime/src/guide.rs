//! The guides, rendered from the repository's `docs/` folder: each page is one of its files.
//! Nothing here is code; the examples in them are compiled by forkline's test suite.

/// Coming from Gunicorn: every setting and hook, and forkline's equivalent.
#[doc = include_str!("../../docs/gunicorn.md")]
pub mod coming_from_gunicorn {}

/// What `main` may do before `serve`.
#[doc = include_str!("../../docs/fork-safety.md")]
pub mod fork_safety {}

/// Every variable.
#[doc = include_str!("../../docs/configuration.md")]
pub mod configuration {}

/// The export guard, and what is counted when a backend is down.
#[doc = include_str!("../../docs/dead-backends.md")]
pub mod dead_backends {}

/// Handlers, the HTTP layer, metrics, logs and `tracing`.
#[doc = include_str!("../../docs/handlers.md")]
pub mod handlers {}

/// Signals, upgrades, pid files, systemd, proxies.
#[doc = include_str!("../../docs/operations.md")]
pub mod operations {}

/// The layers of the code, the features and every dependency.
#[doc = include_str!("../../docs/architecture.md")]
pub mod architecture {}

/// How forkline is tested.
#[doc = include_str!("../../docs/testing.md")]
pub mod testing {}
