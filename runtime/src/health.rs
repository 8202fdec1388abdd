//! `forkline::health()`: what each export pipeline of this process is doing.

use crate::guard::health::PipelineHealth;
use crate::guard::sentry_transport::Shared;
use crate::telemetry::identity::fork_generation;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub use crate::guard::breaker::BreakerState;
pub use crate::guard::health::{Dropped, PipelineHealth as Pipeline};

/// The health of this process's telemetry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The guarded Sentry transport; `None` when Sentry is off or writes to the embedded sink.
    pub sentry: Option<PipelineHealth>,
    /// Span counters (created, exported, dropped by reason).
    pub spans: crate::telemetry::Stats,
}

static SENTRY: Mutex<Option<(u64, Arc<Shared>)>> = Mutex::new(None);

pub(crate) fn register_sentry(shared: Arc<Shared>) {
    if let Ok(mut slot) = SENTRY.lock() {
        *slot = Some((fork_generation(), shared));
    }
}

/// The health of this process's telemetry pipelines.
pub fn health() -> Health {
    let sentry = SENTRY.lock().ok().and_then(|slot| {
        slot.as_ref()
            .filter(|(generation, _)| *generation == fork_generation())
            .map(|(_, shared)| shared.health())
    });
    Health {
        sentry,
        spans: crate::telemetry::stats(),
    }
}
