//! Who this process is, and which side of which `fork()` it is on.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);
static REGISTER: Once = Once::new();

extern "C" fn after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// Changes in the child at every `fork()`, by whatever code forks. Telemetry state records the
/// generation it was built in; a mismatch means it was inherited and its threads are gone.
/// One relaxed load: cheap enough for the span hot path.
pub(crate) fn fork_generation() -> u64 {
    REGISTER.call_once(|| {
        // SAFETY: registers a handler that only touches an atomic, which is async-signal-safe
        // and so safe in a freshly forked child.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
        if rc != 0 {
            crate::diag::log_warn!(
                "pthread_atfork failed ({rc}): inherited telemetry cannot be detected"
            );
        }
    });
    GENERATION.load(Ordering::Relaxed)
}

/// A `service.instance.id`: unique per worker process, also across restarts with a reused pid.
pub(crate) fn instance_id(pid: u32) -> String {
    let random = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(salt);
        h.finish()
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{:016x}{:016x}-{pid}",
        random(nanos),
        random(u64::from(pid))
    )
}
