//! The tracer that handler and HTTP-layer spans are made with, fetched once per installed
//! provider, and what the installed sampler does with an unsampled parent. The OTel pipeline
//! says when a provider is installed; the integrations read.

use opentelemetry::global::{self, BoxedTracer};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Bumped whenever forkline installs a tracer provider, so cached tracers are rebuilt.
static PROVIDER_EPOCH: AtomicU64 = AtomicU64::new(1);

/// Whether the installed sampler follows an unsampled parent (every `parentbased_*` sampler,
/// forkline's defaults). Then a handler under an unsampled parent makes no span at all: the
/// SDK would make a non-recording one, at the cost of ids, a context and the sampler, for
/// nothing that is ever exported.
static PARENT_DECIDES: AtomicBool = AtomicBool::new(false);

/// Tells handlers that a tracer provider was installed: cached tracers are fetched again, and
/// whether its sampler follows the parent's decision (a `ParentBased` sampler), so that calls
/// under an unsampled parent skip making a span. forkline's OTel pipeline calls it when it installs
/// the provider (in `post_fork`); call it after installing a provider by hand.
pub fn provider_installed(parent_based_sampler: bool) {
    PARENT_DECIDES.store(parent_based_sampler, Ordering::Release);
    PROVIDER_EPOCH.fetch_add(1, Ordering::Release);
}

/// The tracer of handler spans for one provider epoch. `global::tracer` takes a lock and
/// allocates on every call, a visible share of a span's cost, so the tracer is cached.
struct Cached {
    epoch: u64,
    tracer: BoxedTracer,
}

/// The current cache entry. Entries are never freed (a reader may still hold one): one leaks
/// per provider installed, a handful in a process's life.
static CACHED: AtomicPtr<Cached> = AtomicPtr::new(std::ptr::null_mut());

#[inline]
pub(crate) fn with_tracer<R>(f: impl FnOnce(&BoxedTracer) -> R) -> R {
    let epoch = PROVIDER_EPOCH.load(Ordering::Acquire);
    // SAFETY: a non-null pointer in CACHED comes from `Box::leak` below and is never freed.
    if let Some(cached) = unsafe { CACHED.load(Ordering::Acquire).as_ref() } {
        if cached.epoch == epoch {
            return f(&cached.tracer);
        }
    }
    let fresh: &'static Cached = Box::leak(Box::new(Cached {
        epoch,
        tracer: global::tracer("forkline"),
    }));
    CACHED.store(std::ptr::from_ref(fresh).cast_mut(), Ordering::Release);
    f(&fresh.tracer)
}

/// Whether the installed sampler follows an unsampled parent (see `PARENT_DECIDES`).
#[inline]
pub(crate) fn parent_decides() -> bool {
    PARENT_DECIDES.load(Ordering::Relaxed)
}
