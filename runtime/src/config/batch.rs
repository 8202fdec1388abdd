//! A batch processor's settings, read the same way for spans (`OTEL_BSP_*`) and log records
//! (`OTEL_BLRP_*`).

use crate::config::env::Env;
use crate::error::Result;
use std::time::Duration;

/// A batch processor's settings: spans' (`OTEL_BSP_*`) and log records' (`OTEL_BLRP_*`), the
/// specification's defaults for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchSettings {
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE` (2048): items waiting at most;
    /// past it they are dropped and counted.
    pub max_queue_size: usize,
    /// `OTEL_BSP_SCHEDULE_DELAY` (5 s), `OTEL_BLRP_SCHEDULE_DELAY` (1 s): how long a partial
    /// batch may wait.
    pub scheduled_delay: Duration,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` (512): items per
    /// request at most.
    pub max_export_batch_size: usize,
    /// `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BLRP_EXPORT_TIMEOUT` (30 s): the most one export may
    /// take.
    pub export_timeout: Duration,
}

impl BatchSettings {
    /// `<prefix>_MAX_QUEUE_SIZE` (2048), `<prefix>_MAX_EXPORT_BATCH_SIZE` (512, at most the
    /// queue), `<prefix>_SCHEDULE_DELAY` (else `hook_delay`, else `default_delay`) and
    /// `<prefix>_EXPORT_TIMEOUT` (30 s); `prefix` is `OTEL_BSP` or `OTEL_BLRP`.
    pub(crate) fn resolve(
        env: &Env,
        prefix: &str,
        default_delay: Duration,
        hook_delay: Option<Duration>,
    ) -> Result<Self> {
        let name = |setting: &str| format!("{prefix}_{setting}");
        let max_queue_size = env.positive_usize(&name("MAX_QUEUE_SIZE"))?.unwrap_or(2048);
        let max_export_batch_size = env
            .positive_usize(&name("MAX_EXPORT_BATCH_SIZE"))?
            .unwrap_or(512);
        if max_export_batch_size > max_queue_size {
            return Err(env.invalid(
                &name("MAX_EXPORT_BATCH_SIZE"),
                &format!(
                    "must not exceed {} ({max_queue_size})",
                    name("MAX_QUEUE_SIZE")
                ),
            ));
        }
        Ok(Self {
            max_queue_size,
            scheduled_delay: env
                .millis(&name("SCHEDULE_DELAY"))?
                .or(hook_delay)
                .unwrap_or(default_delay),
            max_export_batch_size,
            export_timeout: env
                .millis(&name("EXPORT_TIMEOUT"))?
                .unwrap_or(Duration::from_millis(30_000)),
        })
    }
}
