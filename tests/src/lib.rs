//! Shared pieces of forkline's behaviour tests: the fixture servers' app and hook recorder, and
//! the harness that starts them as real pre-fork servers and inspects what they left behind.
//!
//! The README's Rust code blocks are this crate's doc tests (`Readme`, under `cfg(doctest)`): `cargo test --doc`
//! compiles every one of them, and a warning fails it.

// Doc tests are compiled with warnings denied (after rustdoc's own `allow(unused)`).
#![doc(test(attr(deny(warnings))))]

pub mod cpu;
pub mod faults;
pub mod fixture;
pub mod fixture_env;
#[cfg(feature = "grpc")]
pub mod grpc_collector;
pub mod harness;
pub mod load;
pub mod nginx;
pub mod otlp_read;
pub mod peers;
pub mod pipelines;
pub mod processes;
pub mod propagation_fuzz;
pub mod sentry_capture;
pub mod span_pipe;
pub mod tls_front;

/// The README, whose Rust code blocks `cargo test --doc -p forkline-tests` compiles (with the
/// `axum` and `anyhow` features this crate turns on) with warnings denied.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct Readme;

/// The guides in `docs/`, whose Rust code blocks are compiled as the README's are.
#[cfg(doctest)]
pub mod guides {
    #[doc = include_str!("../../docs/gunicorn.md")]
    pub struct Gunicorn;
    #[doc = include_str!("../../docs/fork-safety.md")]
    pub struct ForkSafety;
    #[doc = include_str!("../../docs/configuration.md")]
    pub struct Configuration;
    #[doc = include_str!("../../docs/dead-backends.md")]
    pub struct DeadBackends;
    #[doc = include_str!("../../docs/handlers.md")]
    pub struct Handlers;
    #[doc = include_str!("../../docs/operations.md")]
    pub struct Operations;
    #[doc = include_str!("../../docs/architecture.md")]
    pub struct Architecture;
    #[doc = include_str!("../../docs/testing.md")]
    pub struct Testing;
}
