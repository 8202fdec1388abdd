//! A Sentry transport that cannot hurt the worker: the capturing thread only ever does a
//! non-blocking enqueue (a full queue drops and counts); one background thread delivers with a
//! bounded time per attempt, bounded retries (full-jitter backoff, `Retry-After`), Sentry's
//! rate limits, and a circuit breaker; `flush` and `shutdown` return by their timeout whatever
//! the server does. Sentry's own reqwest transport has no request timeout, blocks `flush` on a
//! full queue, and its guard joins a stuck thread with no deadline.

use crate::config::GuardPolicy;
use crate::export::attempt;
use crate::export::breaker::{Breaker, BreakerState, Permit};
use crate::export::figures::{DropReason, PipelineCounters, PipelineHealth};
use crate::export::outcome::Outcome;
use crate::export::transition_log::TransitionLog;
use sentry::transports::RateLimiter;
use sentry::types::Dsn;
use sentry::{Envelope, Transport};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The longest a panicking thread waits in Sentry's panic-time flush.
const PANIC_FLUSH_BOUND: Duration = Duration::from_millis(50);

/// Shared between the capturing side, the delivery thread and health readers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counters: PipelineCounters,
    pub(crate) breaker: Breaker,
    transitions: TransitionLog,
    /// Envelopes queued or being delivered, and whether shutdown gave up on them (they were
    /// then counted as dropped, so their late fate must not be counted again).
    pending: Mutex<Pending>,
    idle: Condvar,
    closed: AtomicBool,
    /// When the attempt in flight started, if one is: an attempt older than the panic flush
    /// bound means the host is not answering (a black hole), before any failure is recorded.
    attempt_since: Mutex<Option<Instant>>,
    /// Wakes a delivery thread that is waiting out a backoff, when shutdown begins.
    wake: (Mutex<()>, Condvar),
}

#[derive(Debug, Default)]
struct Pending {
    count: usize,
    abandoned: bool,
}

/// What became of one envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Delivered,
    Dropped(DropReason),
}

impl Shared {
    pub(crate) fn health(&self) -> PipelineHealth {
        self.counters
            .snapshot(self.breaker.state(), self.breaker.consecutive_failures())
    }

    /// Whether delivery is failing or stalled: the breaker is not closed, the last attempt
    /// failed, or the attempt in flight has gone unanswered for longer than a panic may wait.
    fn unhealthy(&self, now: Instant) -> bool {
        let stalled = self
            .attempt_since
            .lock()
            .map(|since| since.is_some_and(|t| now.duration_since(t) >= PANIC_FLUSH_BOUND))
            .unwrap_or(false);
        self.breaker.state() != BreakerState::Closed
            || self.breaker.consecutive_failures() > 0
            || stalled
    }

    fn set_attempt(&self, since: Option<Instant>) {
        if let Ok(mut slot) = self.attempt_since.lock() {
            *slot = since;
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an envelope's fate and retires it, in one step with shutdown's accounting.
    fn finish(&self, fate: Fate) {
        let mut pending = self.pending();
        if !pending.abandoned {
            match fate {
                Fate::Delivered => self.counters.delivered(1),
                Fate::Dropped(reason) => self.counters.dropped(reason, 1),
            }
        }
        pending.count = pending.count.saturating_sub(1);
        if pending.count == 0 {
            self.idle.notify_all();
        }
    }
}

/// The guarded transport. Build it with [`GuardedSentryTransport::start`].
pub struct GuardedSentryTransport {
    /// Unbounded as a channel, bounded by `capacity` over the pending count: a bounded channel
    /// allocates and touches all its slots up front, a cost every worker paid at boot.
    queue: Sender<Envelope>,
    capacity: usize,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for GuardedSentryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedSentryTransport")
            .finish_non_exhaustive()
    }
}

struct Target {
    url: String,
    auth: String,
}

impl GuardedSentryTransport {
    /// Starts the delivery thread for `dsn`. `client` carries the connect and total timeouts
    /// (it holds no thread or socket, so it may be built before `fork()` and shared).
    pub fn start(dsn: &Dsn, client: reqwest::Client, policy: GuardPolicy) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            counters: PipelineCounters::default(),
            breaker: Breaker::new(policy.breaker_failures, policy.breaker_cooldown),
            transitions: TransitionLog::new("Sentry transport", "events are dropped and counted"),
            pending: Mutex::new(Pending::default()),
            idle: Condvar::new(),
            closed: AtomicBool::new(false),
            attempt_since: Mutex::new(None),
            wake: (Mutex::new(()), Condvar::new()),
        });
        let target = Target {
            url: dsn.envelope_api_url().to_string(),
            // Carries the DSN's public key: sent as a header, never logged.
            auth: dsn
                .to_auth(Some(concat!("forkline/", env!("CARGO_PKG_VERSION"))))
                .to_string(),
        };
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("forkline-sentry".into())
            .spawn(move || deliver_all(rx, &thread_shared, &target, &client, policy))?;
        Ok(Self {
            queue,
            capacity: policy.queue_capacity.max(1),
            shared,
        })
    }

    /// Starts it with its own HTTP client, bounded by `policy`'s connect and attempt timeouts.
    pub fn new(dsn: &Dsn, policy: GuardPolicy) -> std::io::Result<Self> {
        Self::start(
            dsn,
            crate::export::http_client::build(&policy, &[])?,
            policy,
        )
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// What this transport has done so far.
    pub fn health(&self) -> PipelineHealth {
        self.shared.health()
    }

    fn wait_idle(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        let mut pending = self.shared.pending();
        while pending.count > 0 {
            let Some(left) = end.checked_duration_since(Instant::now()) else {
                return false;
            };
            pending = match self.shared.idle.wait_timeout(pending, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }
}

impl Transport for GuardedSentryTransport {
    fn send_envelope(&self, envelope: Envelope) {
        let c = &self.shared.counters;
        c.accepted.fetch_add(1, Ordering::Relaxed);
        if self.shared.closed.load(Ordering::Relaxed) {
            c.dropped(DropReason::Shutdown, 1);
            return;
        }
        {
            let mut pending = self.shared.pending();
            if pending.count >= self.capacity {
                drop(pending);
                c.dropped(DropReason::QueueFull, 1);
                return;
            }
            pending.count += 1;
        }
        if self.queue.send(envelope).is_err() {
            self.shared.finish(Fate::Dropped(DropReason::Shutdown));
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        // Sentry's panic hook flushes on every panic, on the panicking thread: in a worker, a
        // runtime thread that other requests are waiting on, and the process lives on (the
        // event stays queued and goes out, or is counted, like any other). So a panic waits a
        // short bound at most, and not at all while delivery is failing or stalled.
        let timeout = if std::thread::panicking() {
            if self.shared.unhealthy(Instant::now()) {
                return false;
            }
            timeout.min(PANIC_FLUSH_BOUND)
        } else {
            timeout
        };
        self.wait_idle(timeout)
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        // Stop retrying and accepting; whatever is still queued gets one attempt each until the
        // deadline, then the thread is left behind (the process is exiting).
        self.shared.closed.store(true, Ordering::Relaxed);
        self.shared.wake.1.notify_all();
        if self.wait_idle(timeout) {
            return true;
        }
        // Deadline passed: what is left is dropped now, counted once, and its late fate ignored.
        let mut pending = self.shared.pending();
        if !pending.abandoned {
            pending.abandoned = true;
            self.shared
                .counters
                .dropped(DropReason::Shutdown, pending.count as u64);
        }
        false
    }
}

fn deliver_all(
    rx: Receiver<Envelope>,
    shared: &Shared,
    target: &Target,
    client: &reqwest::Client,
    policy: GuardPolicy,
) {
    let mut rt = attempt::LazyRuntime::default();
    let mut limiter = RateLimiter::new();
    for envelope in rx {
        let fate = match rt.get() {
            Ok(rt) => deliver(envelope, shared, target, client, policy, rt, &mut limiter),
            Err(e) => {
                shared
                    .counters
                    .error(format!("the Sentry transport has no runtime: {e}"));
                Fate::Dropped(DropReason::Network)
            }
        };
        shared.finish(fate);
    }
}

fn deliver(
    envelope: Envelope,
    shared: &Shared,
    target: &Target,
    client: &reqwest::Client,
    policy: GuardPolicy,
    rt: &tokio::runtime::Runtime,
    limiter: &mut RateLimiter,
) -> Fate {
    let counters = &shared.counters;
    // Deprecated in sentry 0.49 "with no public equivalent"; it is still Sentry's own
    // item-by-item filtering, which is what the server's rate limits ask for.
    #[allow(deprecated)]
    let allowed = |envelope: Envelope, limiter: &RateLimiter| limiter.filter_envelope(envelope);
    let Some(envelope) = allowed(envelope, limiter) else {
        return Fate::Dropped(DropReason::RateLimited);
    };
    let mut body = Vec::new();
    if envelope.to_writer(&mut body).is_err() {
        return Fate::Dropped(DropReason::Rejected);
    }
    let backoff = policy.backoff();
    let mut attempt = 0;
    loop {
        if shared.breaker.permit(Instant::now()) == Permit::Refuse {
            return Fate::Dropped(DropReason::BreakerOpen);
        }
        shared.set_attempt(Some(Instant::now()));
        let outcome = rt.block_on(send_once(client, target, &body, policy, limiter));
        shared.set_attempt(None);
        let failed = matches!(outcome, Outcome::Retryable { .. });
        if let Some(state) = shared.breaker.record(!failed, Instant::now()) {
            let last = counters.last_error();
            shared.transitions.changed(state, last.as_deref());
        }
        let (reason, after) = match outcome {
            Outcome::Delivered => return Fate::Delivered,
            Outcome::Rejected { status } => {
                counters.error(format!("Sentry refused an envelope with {status}"));
                return Fate::Dropped(DropReason::Rejected);
            }
            Outcome::Retryable { reason, after } => {
                counters.error(attempt::describe(reason, "Sentry host", &policy));
                (reason, after)
            }
        };
        let closing = shared.closed.load(Ordering::Relaxed);
        if attempt >= policy.max_retries || closing {
            return Fate::Dropped(attempt::drop_reason(reason));
        }
        // A 429 with Sentry rate limits means "stop sending this", not "send it again".
        if allowed(envelope.clone(), limiter).is_none() {
            return Fate::Dropped(DropReason::RateLimited);
        }
        let wait = backoff
            .delay(attempt)
            .max(after.unwrap_or_default())
            .min(policy.backoff_cap);
        attempt += 1;
        counters.retried.fetch_add(1, Ordering::Relaxed);
        // Waits out the backoff unless shutdown begins.
        let guard = shared.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = shared
            .wake
            .1
            .wait_timeout_while(guard, wait, |_| !shared.closed.load(Ordering::Relaxed));
    }
}

async fn send_once(
    client: &reqwest::Client,
    target: &Target,
    body: &[u8],
    policy: GuardPolicy,
    limiter: &mut RateLimiter,
) -> Outcome {
    let request = client
        .post(&target.url)
        .header("X-Sentry-Auth", &target.auth)
        .header("Content-Type", "application/x-sentry-envelope")
        .body(body.to_vec());
    let (outcome, headers) = attempt::send(request, &policy).await;
    // Sentry's category limits stop sending that kind of data for a while. A plain Retry-After
    // is honoured by waiting before the retry: the one delivery thread holds the queue behind it.
    if let Some(limits) = headers
        .as_ref()
        .and_then(|h| h.get("x-sentry-rate-limits"))
        .and_then(|v| v.to_str().ok())
    {
        limiter.update_from_sentry_header(limits);
    }
    outcome
}
