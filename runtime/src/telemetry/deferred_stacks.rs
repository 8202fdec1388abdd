//! Stack traces taken on the request path without resolving them, and resolved on a thread of
//! their own before the event is sent or written.
//!
//! Resolving a stack (turning instruction addresses into functions, files and lines) is what a
//! panic or a captured error cost its request: the first resolution in a process loads and
//! parses the binary's debug info (1.3–2.3 s measured in a debug build, 86 ms in a release build
//! without debug info, again after every fork), and later ones still resolve every frame (30–180
//! ms in a debug build). Walking the stack alone takes microseconds. So the request's thread only
//! walks it (`backtrace::Backtrace::new_unresolved`) and leaves the frames here, under a
//! number the event carries in its mechanism's data; [`resolve_event`], called on the
//! symbolizing transport's thread, takes them back, resolves them, trims forkline's, Sentry's
//! and the standard library's machinery off as before, marks the application's frames in-app,
//! and puts the stack where it belongs. The event is the same as one resolved on the spot.

use crate::stats::{counters, ProcessCounters};
use crate::telemetry::stack_trim::{trimmed, HandlerSite};
use sentry::protocol::{Event, Mechanism, Stacktrace};
use sentry::ClientOptions;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The mechanism data key under which an event carries its stack's number until resolved.
pub(crate) const PENDING: &str = "forkline.stack.pending";
/// Stacks waiting at most: past it the oldest is forgotten (its event, if it still comes, goes
/// without a stack; counted), so neither a burst of errors nor events Sentry drops before they
/// reach the transport (sampled out, `before_send`) can grow memory.
const MOST_WAITING: usize = 256;

/// How a resolved stack is trimmed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Trim {
    /// A panic: the panic machinery and the runtime go; the panicking function is on top.
    Panic,
    /// Where forkline caught a handler's error (or the layer a 5xx): the capture machinery
    /// goes, and the handler's crate is in-app.
    CaptureSite(Option<&'static HandlerSite>),
}

struct Waiting {
    backtrace: backtrace::Backtrace,
    trim: Trim,
}

static WAITING: Mutex<Option<HashMap<u64, Waiting>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);
/// Whether this process's Sentry client sends through a symbolizing transport, which resolves
/// what waits here. A client bound elsewhere (by the application itself) does not.
static RESOLVED_LATER: AtomicBool = AtomicBool::new(false);

/// A symbolizing transport now sends this process's events.
pub(crate) fn resolved_later() {
    RESOLVED_LATER.store(true, Ordering::Release);
}

/// The current stack for an event: walked here and left for [`resolve_event`] (the mechanism
/// marked with its number), or, when nothing would resolve it later (a Sentry client bound by
/// the application), resolved and trimmed here and returned.
pub(crate) fn take(mechanism: &mut Mechanism, trim: Trim) -> Option<Stacktrace> {
    if RESOLVED_LATER.load(Ordering::Acquire) {
        defer(mechanism, trim);
        return None;
    }
    resolved_here(trim)
}

/// The current stack, resolved and trimmed on this thread.
fn resolved_here(trim: Trim) -> Option<Stacktrace> {
    let mut backtrace = backtrace::Backtrace::new_unresolved();
    backtrace.resolve();
    trim_resolved(&backtrace, trim)
}

/// Walks the current stack without resolving it and keeps it for [`resolve_event`]; marks
/// `mechanism` with its number.
fn defer(mechanism: &mut Mechanism, trim: Trim) {
    let started = Instant::now();
    let backtrace = backtrace::Backtrace::new_unresolved();
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let c = counters();
    if let Ok(mut waiting) = WAITING.lock() {
        let waiting = waiting.get_or_insert_with(HashMap::new);
        if waiting.len() >= MOST_WAITING {
            if let Some(&oldest) = waiting.keys().min() {
                waiting.remove(&oldest);
                ProcessCounters::add(&c.stacks_dropped, 1);
            }
        }
        waiting.insert(id, Waiting { backtrace, trim });
        mechanism.data.insert(PENDING.into(), id.into());
        ProcessCounters::add(&c.stacks_taken, 1);
    }
    ProcessCounters::add(
        &c.stack_take_us,
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
}

/// Sentry's panic integration, making its event as Sentry does (`panic`, unhandled, the
/// message, fatal) but with the stack left for [`resolve_event`] instead of resolved here.
pub(crate) fn panic_integration() -> sentry::integrations::panic::PanicIntegration {
    sentry::integrations::panic::PanicIntegration::new().add_extractor(|info| {
        let message = sentry::integrations::panic::message_from_panic_info(info);
        let mut mechanism = Mechanism {
            ty: "panic".into(),
            handled: Some(false),
            ..Default::default()
        };
        // Under `panic = "abort"` the process ends right after this hook: nothing would be
        // left to resolve the stack later, so it is resolved here.
        let stacktrace = if cfg!(panic = "abort") {
            resolved_here(Trim::Panic)
        } else {
            take(&mut mechanism, Trim::Panic)
        };
        Some(Event {
            exception: vec![sentry::protocol::Exception {
                ty: "panic".into(),
                mechanism: Some(mechanism),
                value: Some(message.to_string()),
                stacktrace,
                ..Default::default()
            }]
            .into(),
            level: sentry::Level::Fatal,
            ..Default::default()
        })
    })
}

/// Whether any exception of `event` waits for its stack.
pub(crate) fn is_pending(event: &Event<'_>) -> bool {
    event
        .exception
        .iter()
        .any(|e| pending_id(e.mechanism.as_ref()).is_some())
}

fn pending_id(mechanism: Option<&Mechanism>) -> Option<u64> {
    mechanism?.data.get(PENDING)?.as_u64()
}

/// Resolves, trims and marks the stacks `event` waits for, and puts them on their exceptions;
/// a stack that is no longer kept leaves its exception without one. Always removes the marks.
pub(crate) fn resolve_event(event: &mut Event<'_>, options: &ClientOptions) {
    for exception in event.exception.values.iter_mut() {
        if let Some(waiting) = unmark(exception) {
            exception.stacktrace = waiting.and_then(|w| resolved(w, options));
        }
    }
}

/// Forgets the stacks `event` waits for, and removes the marks (an event dropped, or sent
/// without waiting for its stack).
pub(crate) fn forget(event: &mut Event<'_>) {
    for exception in event.exception.values.iter_mut() {
        if unmark(exception).is_some() {
            ProcessCounters::add(&counters().stacks_dropped, 1);
        }
    }
}

/// Removes `exception`'s mark and takes its stack out of the waiting ones: `None` when it had
/// no mark, `Some(None)` when its stack is no longer kept.
fn unmark(exception: &mut sentry::protocol::Exception) -> Option<Option<Waiting>> {
    let id = exception
        .mechanism
        .as_mut()?
        .data
        .remove(PENDING)?
        .as_u64()?;
    Some(
        WAITING
            .lock()
            .ok()
            .and_then(|mut w| w.as_mut()?.remove(&id)),
    )
}

/// A resolved stack, as Sentry converts it, trimmed of what says nothing about the application.
fn trim_resolved(backtrace: &backtrace::Backtrace, trim: Trim) -> Option<Stacktrace> {
    let stack = sentry::integrations::backtrace::backtrace_to_stacktrace(backtrace)?;
    match trim {
        Trim::Panic => trimmed(stack, None, false),
        Trim::CaptureSite(site) => trimmed(stack, site, true),
    }
}

fn resolved(waiting: Waiting, options: &ClientOptions) -> Option<Stacktrace> {
    let started = Instant::now();
    let Waiting {
        mut backtrace,
        trim,
    } = waiting;
    backtrace.resolve();
    let mut stack = trim_resolved(&backtrace, trim);
    if let Some(stack) = stack.as_mut() {
        sentry::integrations::backtrace::process_event_stacktrace(stack, options);
    }
    let c = counters();
    ProcessCounters::add(&c.stacks_resolved, 1);
    ProcessCounters::add(
        &c.stack_resolve_us,
        u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    );
    stack
}
