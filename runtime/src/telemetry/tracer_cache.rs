//! The tracer that handler and HTTP-layer spans are made with, fetched once per installed
//! provider, and what the installed sampler does with an unsampled parent. The OTel pipeline
//! says when a provider is installed; the integrations read.

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{SpanBuilder, TraceContextExt, TracerProvider as _};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

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
/// the provider (in `post_fork`); call it after installing a provider by hand. With an SDK
/// provider, [`sdk_provider_installed`] saves an allocation per span.
pub fn provider_installed(parent_based_sampler: bool) {
    let mut sdk = sdk_provider();
    forget_previous(sdk.take());
    bump(parent_based_sampler);
}

/// [`provider_installed`] for an SDK provider installed as the global one: forkline's spans are
/// then started with its tracer directly. Through the global provider's type-erased tracer a
/// span is boxed twice (once as the tracer's span, again as the context's), here once.
pub fn sdk_provider_installed(provider: &SdkTracerProvider, parent_based_sampler: bool) {
    let mut sdk = sdk_provider();
    let previous = sdk.replace((PROVIDER_EPOCH.load(Ordering::Acquire) + 1, provider.clone()));
    forget_previous(previous);
    bump(parent_based_sampler);
}

/// A provider replaced here is never dropped: one inherited across `fork()` would, as its last
/// reference, shut down and wait for an export thread that does not exist in this process.
fn forget_previous(previous: Option<(u64, SdkTracerProvider)>) {
    std::mem::forget(previous);
}

fn bump(parent_based_sampler: bool) {
    PARENT_DECIDES.store(parent_based_sampler, Ordering::Release);
    PROVIDER_EPOCH.fetch_add(1, Ordering::Release);
}

/// The SDK provider installed (with the epoch it was installed at), if the last one was.
static SDK_PROVIDER: Mutex<Option<(u64, SdkTracerProvider)>> = Mutex::new(None);

fn sdk_provider() -> MutexGuard<'static, Option<(u64, SdkTracerProvider)>> {
    SDK_PROVIDER.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The tracer of handler spans for one provider epoch. `global::tracer` takes a lock and
/// allocates on every call, a visible share of a span's cost, so the tracer is cached.
struct Cached {
    epoch: u64,
    tracer: CachedTracer,
}

enum CachedTracer {
    Sdk(SdkTracer),
    Global(BoxedTracer),
}

/// The current cache entry. Entries are never freed (a reader may still hold one): one leaks
/// per provider installed, a handful in a process's life.
static CACHED: AtomicPtr<Cached> = AtomicPtr::new(std::ptr::null_mut());

#[inline]
fn cached() -> &'static Cached {
    let epoch = PROVIDER_EPOCH.load(Ordering::Acquire);
    // SAFETY: a non-null pointer in CACHED comes from `Box::leak` below and is never freed.
    if let Some(cached) = unsafe { CACHED.load(Ordering::Acquire).as_ref() } {
        if cached.epoch == epoch {
            return cached;
        }
    }
    let tracer = match &*sdk_provider() {
        Some((installed, provider)) if *installed == epoch => {
            CachedTracer::Sdk(provider.tracer("forkline"))
        }
        _ => CachedTracer::Global(global::tracer("forkline")),
    };
    let fresh: &'static Cached = Box::leak(Box::new(Cached { epoch, tracer }));
    CACHED.store(std::ptr::from_ref(fresh).cast_mut(), Ordering::Release);
    fresh
}

/// Starts the span `builder` describes as a child of `parent`; returns `parent` with it.
#[inline]
pub(crate) fn start_span(builder: SpanBuilder, parent: &Context) -> Context {
    match &cached().tracer {
        CachedTracer::Sdk(tracer) => parent.with_span(builder.start_with_context(tracer, parent)),
        CachedTracer::Global(tracer) => {
            parent.with_span(builder.start_with_context(tracer, parent))
        }
    }
}

/// Whether the installed sampler follows an unsampled parent (see `PARENT_DECIDES`).
#[inline]
pub(crate) fn parent_decides() -> bool {
    PARENT_DECIDES.load(Ordering::Relaxed)
}
