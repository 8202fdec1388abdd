//! A Sentry transport in front of forkline's (the guarded one, or the embedded file): an
//! envelope whose event waits for its stack (`deferred_stacks`) goes to a thread of its own,
//! started the first time one does ("forkline-stacks"), which resolves the stack and hands the
//! envelope on; every other envelope goes straight through. So resolving a stack, which loads
//! the binary's debug info the first time, never runs on a request's thread.
//!
//! Flushing waits for the stacks being resolved, within its timeout, except Sentry's panic-time
//! flush (on the panicking request's thread), which waits for nothing: the event goes out once
//! resolved, like any other. At shutdown, what is still waiting after half the
//! deadline goes out without its stack (counted in `stacks_dropped`), so no event is lost for
//! want of time to resolve it.

use crate::telemetry::deferred_stacks;
use sentry::protocol::EnvelopeItem;
use sentry::{ClientOptions, Envelope, Transport};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Envelopes waiting for their stacks at most; past it one goes on without (counted).
const QUEUE: usize = 64;

/// See the module documentation.
pub(crate) struct SymbolizingTransport {
    shared: Arc<Shared>,
    queue: OnceLock<Option<SyncSender<Envelope>>>,
}

struct Shared {
    inner: Arc<dyn Transport>,
    /// The in-app rules, for the frames once resolved.
    options: ClientOptions,
    /// Envelopes handed to the thread and not yet handed on.
    waiting: Mutex<usize>,
    changed: Condvar,
    /// Shutdown's deadline is near: hand on without resolving.
    rushed: AtomicBool,
}

impl SymbolizingTransport {
    /// `rules`: the client's options, for their in-app rules.
    pub(crate) fn new(inner: Arc<dyn Transport>, rules: ClientOptions) -> Self {
        Self {
            shared: Arc::new(Shared {
                inner,
                options: rules,
                waiting: Mutex::new(0),
                changed: Condvar::new(),
                rushed: AtomicBool::new(false),
            }),
            queue: OnceLock::new(),
        }
    }

    /// The thread's queue, started the first time; `None` if it could not start.
    fn queue(&self) -> Option<&SyncSender<Envelope>> {
        self.queue
            .get_or_init(|| {
                let (tx, rx) = mpsc::sync_channel::<Envelope>(QUEUE);
                let shared = self.shared.clone();
                let started = std::thread::Builder::new()
                    .name("forkline-stacks".into())
                    .spawn(move || {
                        // Telemetry the resolution or the hand-over might make is not ours to send.
                        let _quiet = opentelemetry::Context::enter_telemetry_suppressed_scope();
                        for envelope in rx {
                            let rushed = shared.rushed.load(Ordering::Acquire);
                            shared.hand_on(envelope, !rushed);
                            shared.done();
                        }
                    });
                match started {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        crate::diag::log_warn!(
                            "could not start the stack-resolving thread: {e}; Sentry events go \
                             without their stacks"
                        );
                        None
                    }
                }
            })
            .as_ref()
    }
}

impl Shared {
    /// Resolves (or forgets) the stacks `envelope` waits for and hands it to the transport.
    fn hand_on(&self, envelope: Envelope, resolve: bool) {
        let headers = envelope.headers().clone();
        let mut out = Envelope::new().with_headers(headers);
        for item in envelope.into_items() {
            match item {
                EnvelopeItem::Event(mut event) => {
                    if resolve {
                        deferred_stacks::resolve_event(&mut event, &self.options);
                    } else {
                        deferred_stacks::forget(&mut event);
                    }
                    out.add_item(EnvelopeItem::Event(event));
                }
                other => out.add_item(other),
            }
        }
        self.inner.send_envelope(out);
    }

    fn add(&self) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting += 1;
        }
    }

    fn done(&self) {
        if let Ok(mut waiting) = self.waiting.lock() {
            *waiting = waiting.saturating_sub(1);
            if *waiting == 0 {
                self.changed.notify_all();
            }
        }
    }

    /// Waits until nothing waits for its stack, at most until `deadline`.
    fn settled_by(&self, deadline: Instant) -> bool {
        let Ok(mut waiting) = self.waiting.lock() else {
            return false;
        };
        while *waiting > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.changed.wait_timeout(waiting, left) {
                Ok((guard, _)) => waiting = guard,
                Err(_) => return false,
            }
        }
        true
    }
}

fn waits_for_a_stack(envelope: &Envelope) -> bool {
    envelope.items().any(|item| match item {
        EnvelopeItem::Event(event) => deferred_stacks::is_pending(event),
        _ => false,
    })
}

impl Transport for SymbolizingTransport {
    fn send_envelope(&self, envelope: Envelope) {
        if !waits_for_a_stack(&envelope) {
            self.shared.inner.send_envelope(envelope);
            return;
        }
        let Some(queue) = self.queue() else {
            self.shared.hand_on(envelope, false);
            return;
        };
        self.shared.add();
        match queue.try_send(envelope) {
            Ok(()) => {}
            Err(TrySendError::Full(envelope) | TrySendError::Disconnected(envelope)) => {
                self.shared.done();
                self.shared.hand_on(envelope, false);
            }
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        // Sentry flushes on every panic, on the panicking thread, for a panic that ends the
        // process. A worker's panics unwind into a caught task (the HTTP layer answers 500,
        // tokio catches the rest) and the worker goes on, so the event, still waiting for its
        // stack, goes out once resolved, and the request waits for nothing. Under
        // `panic = "abort"` the stack was resolved on the spot and Sentry's flush goes through.
        if std::thread::panicking() && cfg!(panic = "unwind") {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let settled = self.shared.settled_by(deadline);
        let left = deadline.saturating_duration_since(Instant::now());
        self.shared.inner.flush(left) && settled
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        let started = Instant::now();
        let deadline = started + timeout;
        if !self.shared.settled_by(started + timeout / 2) {
            self.shared.rushed.store(true, Ordering::Release);
            self.shared.settled_by(deadline);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        self.shared.inner.shutdown(left)
    }
}

/// Makes each Sentry client's transport with `inner`, behind a [`SymbolizingTransport`].
pub(crate) struct SymbolizingFactory {
    inner: Arc<dyn sentry::TransportFactory>,
    /// The in-app rules of the client (Sentry hands a factory its transport options only).
    rules: ClientOptions,
}

impl SymbolizingFactory {
    pub(crate) fn new(inner: Arc<dyn sentry::TransportFactory>, client: &ClientOptions) -> Self {
        let mut rules = ClientOptions::new();
        rules.in_app_include = client.in_app_include.clone();
        rules.in_app_exclude = client.in_app_exclude.clone();
        Self { inner, rules }
    }
}

impl sentry::TransportFactory for SymbolizingFactory {
    fn create_transport_with_options(
        &self,
        options: sentry::TransportOptions,
    ) -> Arc<dyn Transport> {
        let inner = self.inner.create_transport_with_options(options);
        deferred_stacks::resolved_later();
        Arc::new(SymbolizingTransport::new(inner, self.rules.clone()))
    }
}
