//! A Sentry transport that cannot hurt the worker: the capturing thread only ever does a
//! non-blocking enqueue (a full queue drops and counts); one background thread (the delivery
//! engine, with the envelopes' encoder and transport) delivers with a bounded time per attempt,
//! bounded retries (full-jitter backoff, `Retry-After`), Sentry's rate limits, and a circuit
//! breaker; `flush` and `shutdown` return by their timeout whatever the server does. Sentry's
//! own reqwest transport has no request timeout, blocks `flush` on a full queue, and its guard
//! joins a stuck thread with no deadline.

use crate::config::GuardConfig;
use crate::export::engine::driver;
use crate::export::engine::params::{Params, Retries, WhileOpen, Words};
use crate::export::engine::state::PipelineState;
use crate::export::figures::{DropReason, PipelineHealth};
use crate::export::sentry_envelopes::{EnvelopeEncoder, EnvelopeTransport};
use crate::export::transition_log::TransitionLog;
use sentry::types::Dsn;
use sentry::{Envelope, Transport};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a panicking thread waits in Sentry's panic-time flush.
const PANIC_FLUSH_BOUND: Duration = Duration::from_millis(50);

/// How often an idle delivery thread looks around unasked: it is woken for every envelope and
/// at shutdown, so this is only a safety net.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The engine's parameters for Sentry envelopes: one per attempt, sent as soon as queued, no
/// ride-through buffer (the queue waits behind the envelope being delivered), at most
/// `max_retries` retries, dropped while the breaker is open, one last attempt at shutdown.
pub(crate) fn engine_params(policy: GuardConfig) -> Params {
    Params {
        policy,
        max_batch: 1,
        batch_delay: Duration::ZERO,
        ride_through_bytes: None,
        retries: Retries::PerBatch(policy.max_retries),
        while_open: WhileOpen::Drop,
        last_attempt_at_shutdown: true,
        idle_poll: Some(IDLE_POLL),
        words: Words {
            backend: "Sentry host",
            refused: "Sentry refused an envelope",
            runner: "the Sentry transport",
        },
    }
}

/// The guarded transport. Build it with [`GuardedSentryTransport::start`].
pub struct GuardedSentryTransport {
    /// Unbounded as a channel, bounded by `capacity` over the pending count: a bounded channel
    /// allocates and touches all its slots up front, a cost every worker paid at boot.
    queue: Sender<Envelope>,
    capacity: usize,
    state: Arc<PipelineState>,
}

impl std::fmt::Debug for GuardedSentryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedSentryTransport")
            .finish_non_exhaustive()
    }
}

impl GuardedSentryTransport {
    /// Starts the delivery thread for `dsn`. `client` carries the connect and total timeouts
    /// (it holds no thread or socket, so it may be built before `fork()` and shared).
    pub fn start(dsn: &Dsn, client: reqwest::Client, policy: GuardConfig) -> std::io::Result<Self> {
        let params = engine_params(policy);
        let transport = EnvelopeTransport {
            client,
            url: dsn.envelope_api_url().to_string(),
            auth: dsn
                .to_auth(Some(concat!("forkline/", env!("CARGO_PKG_VERSION"))))
                .to_string(),
            policy,
        };
        let (queue, rx) = mpsc::channel();
        let kinds = Arc::new(crate::export::figures::KindCounts::default());
        let state = driver::spawn(
            "forkline-sentry",
            params,
            TransitionLog::new("Sentry transport", "events are dropped and counted"),
            None,
            (EnvelopeEncoder::new(kinds.clone()), transport),
            rx,
        )?;
        state.counters.set_kinds(kinds);
        Ok(Self {
            queue,
            capacity: policy.queue_capacity.max(1),
            state,
        })
    }

    /// Starts it with its own HTTP client, bounded by `policy`'s connect and attempt timeouts.
    pub fn new(dsn: &Dsn, policy: GuardConfig) -> std::io::Result<Self> {
        Self::start(
            dsn,
            crate::export::http_client::build(&policy, &[], None)?,
            policy,
        )
    }

    pub(crate) fn shared(&self) -> Arc<PipelineState> {
        self.state.clone()
    }

    /// What this transport has done so far.
    pub fn health(&self) -> PipelineHealth {
        self.state.health()
    }
}

impl Transport for GuardedSentryTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let state = &*self.state;
        state.accept();
        if state.is_closed() {
            state.refuse(DropReason::Shutdown);
            return;
        }
        if !state.add_pending_within(self.capacity) {
            state.refuse(DropReason::QueueFull);
            return;
        }
        match self.queue.send(envelope) {
            Ok(()) => state.sent_to_channel(),
            Err(_) => state.finish(1, Some(DropReason::Shutdown)),
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        // Sentry's panic hook flushes on every panic, on the panicking thread: in a worker, a
        // runtime thread that other requests are waiting on, and the process lives on (the
        // event stays queued and goes out, or is counted, like any other). So a panic waits a
        // short bound at most, and not at all while delivery is failing or stalled (the attempt
        // in flight older than the bound: the host is not answering, a black hole, before any
        // failure is recorded).
        let timeout = if std::thread::panicking() {
            if self.state.unhealthy(Instant::now(), PANIC_FLUSH_BOUND) {
                return false;
            }
            timeout.min(PANIC_FLUSH_BOUND)
        } else {
            timeout
        };
        self.state.wait_idle(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        // Stop retrying and accepting; whatever is still queued gets one attempt each until the
        // deadline, then the thread is left behind (the process is exiting).
        self.state.close(timeout);
        if self.state.wait_idle(timeout) {
            return true;
        }
        // Deadline passed: what is left is dropped now, counted once, and its late fate ignored.
        self.state.abandon();
        false
    }
}
