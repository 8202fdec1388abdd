//! Shared pieces of forkline's behaviour tests: the fixture servers' app and hook recorder, and
//! the harness that starts them as real pre-fork servers and inspects what they left behind.

pub mod faults;
pub mod fixture;
pub mod fixture_env;
#[cfg(feature = "grpc")]
pub mod grpc_collector;
pub mod harness;
pub mod load;
pub mod peers;
pub mod pipelines;
pub mod propagation_fuzz;
pub mod sentry_capture;
pub mod span_pipe;
