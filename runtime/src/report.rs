//! What forkline reports, as data: the parts of [`health()`](crate::health)'s answer and of the
//! reports each worker and master leave in the run folder ([`read_reports`](crate::read_reports),
//! [`read_master_reports`](crate::read_master_reports)). Every type here only grows: each is
//! `#[non_exhaustive]`, so read its fields, never build it.

pub use crate::export::breaker::BreakerState;
pub use crate::export::figures::{ByItemKind, Dropped, PipelineHealth};
pub use crate::health::serving::Serving;
pub use crate::server::master::master_report::{Exits, SpanAccount};
pub use crate::server::worker::worker_report::BootTimes;
pub use crate::telemetry::teardown::{PartOutcome, TeardownReport};
