//! The logger and meter providers of this process, each kept with its guarded pipeline (when it
//! exports OTLP) from the worker's `post_fork` to its teardown. One inherited across `fork()`
//! is abandoned, never shut down nor dropped (its threads do not exist in the child, and the
//! SDK's shutdown would wait for them), and replaced; one of this process is never replaced.

use crate::error::{Error, Result};
use crate::export::engine::state::{PipelineState, ShutdownBy};
use crate::identity::fork_generation;
use std::sync::{Arc, Mutex, MutexGuard};

/// The process-wide place of one kind of provider (a `static`).
pub(crate) struct ProcessSlot<P>(Mutex<Option<Installed<P>>>);

impl<P> ProcessSlot<P> {
    pub(crate) const fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The slot, emptied of an inherited provider and checked to hold none of this process's,
    /// for installing one of `kind` (`"logger"`, `"meter"`).
    pub(crate) fn for_install(&self, kind: &str) -> Result<MutexGuard<'_, Option<Installed<P>>>> {
        let mut slot = self.lock();
        make_room(&mut slot, kind)?;
        Ok(slot)
    }

    /// The provider if this process built it.
    pub(crate) fn current(&self) -> Option<Installed<P>>
    where
        P: Clone,
    {
        current(&self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Option<Installed<P>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A provider and its guarded pipeline, tagged with the process that built it.
#[derive(Clone)]
pub(crate) struct Installed<P> {
    generation: u64,
    pub(crate) provider: P,
    pub(crate) guarded: Option<(Arc<PipelineState>, ShutdownBy)>,
}

impl<P> Installed<P> {
    /// Built by this process.
    pub(crate) fn new(provider: P, guarded: Option<(Arc<PipelineState>, ShutdownBy)>) -> Self {
        Self {
            generation: fork_generation(),
            provider,
            guarded,
        }
    }

    fn is_this_process(&self) -> bool {
        self.generation == fork_generation()
    }
}

/// Empties `slot` for this process's provider of `kind` (`"logger"`, `"meter"`): an inherited
/// one is forgotten; one of this process stays, and installing another is an error.
fn make_room<P>(slot: &mut Option<Installed<P>>, kind: &str) -> Result<()> {
    match slot.take() {
        None => Ok(()),
        Some(current) if current.is_this_process() => {
            *slot = Some(current);
            Err(Error::Telemetry(format!(
                "the OTel {kind} provider is already installed in this process; #[post_fork] \
                 installs it once per worker"
            )))
        }
        Some(inherited) => {
            std::mem::forget(inherited);
            Ok(())
        }
    }
}

/// The provider in `slot` if this process built it.
fn current<P: Clone>(slot: &Option<Installed<P>>) -> Option<Installed<P>> {
    slot.as_ref().filter(|i| i.is_this_process()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A provider that tells whether it was dropped.
    #[derive(Clone)]
    struct Provider(Arc<AtomicBool>);

    impl Drop for Provider {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    #[test]
    fn this_process_installs_once_and_an_inherited_one_is_forgotten_not_dropped() {
        let dropped = Arc::new(AtomicBool::new(false));
        let mut slot = Some(Installed {
            generation: fork_generation().wrapping_add(1),
            provider: Provider(dropped.clone()),
            guarded: None,
        });
        assert!(
            current(&slot).is_none(),
            "an inherited provider is not this process's"
        );
        make_room(&mut slot, "meter").expect("an inherited provider makes room");
        assert!(slot.is_none());
        assert!(!dropped.load(Ordering::Relaxed), "forgotten, never dropped");

        slot = Some(Installed::new(Provider(Arc::default()), None));
        assert!(current(&slot).is_some());
        let refused = make_room(&mut slot, "meter").expect_err("a second installation");
        assert!(
            refused
                .to_string()
                .contains("meter provider is already installed"),
            "{refused}"
        );
        assert!(slot.is_some(), "the first one stays");
    }
}
