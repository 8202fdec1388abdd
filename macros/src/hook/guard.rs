//! `guard(...)`: the export guard's parameters, in `#[post_fork(guard(...))]` for the OTLP path
//! and `#[worker_init(sentry(guard(...)))]` for the Sentry transport. Read here for both paths,
//! each taking the parameters that apply to it; their ranges and the rules between them are in
//! `check.rs`, the `GuardSettings` they become in `expand.rs`.

use crate::ctxt::Ctxt;
use crate::grammar::{self, Arg, Attr};
use crate::hook::value;
use crate::suggest::did_you_mean;

/// Which export path a `guard(...)` belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum GuardPath {
    Otlp,
    Sentry,
}

const KEYS: &[&str] = &[
    "connect_timeout_ms",
    "attempt_timeout_ms",
    "backoff_base_ms",
    "backoff_cap_ms",
    "breaker_failures",
    "breaker_cooldown_ms",
    "queue_capacity",
    "buffer_budget_bytes",
    "max_retries",
];

#[derive(Default)]
pub(crate) struct GuardArgs {
    pub(crate) connect_timeout_ms: Attr<u64>,
    pub(crate) attempt_timeout_ms: Attr<u64>,
    pub(crate) backoff_base_ms: Attr<u64>,
    pub(crate) backoff_cap_ms: Attr<u64>,
    pub(crate) breaker_failures: Attr<u64>,
    pub(crate) breaker_cooldown_ms: Attr<u64>,
    pub(crate) queue_capacity: Attr<u64>,
    pub(crate) buffer_budget_bytes: Attr<u64>,
    pub(crate) max_retries: Attr<u64>,
}

pub(crate) fn parse(cx: &Ctxt, arg: &Arg, path: GuardPath) -> Option<GuardArgs> {
    let mut guard = GuardArgs::default();
    let nested = grammar::nested(cx, arg, "attempt_timeout_ms = 2000, breaker_failures = 5")?;
    for arg in &nested {
        let name = arg.name.to_string();
        let slot = match name.as_str() {
            "connect_timeout_ms" => &mut guard.connect_timeout_ms,
            "attempt_timeout_ms" => &mut guard.attempt_timeout_ms,
            "backoff_base_ms" => &mut guard.backoff_base_ms,
            "backoff_cap_ms" => &mut guard.backoff_cap_ms,
            "breaker_failures" => &mut guard.breaker_failures,
            "breaker_cooldown_ms" => &mut guard.breaker_cooldown_ms,
            "queue_capacity" => &mut guard.queue_capacity,
            "buffer_budget_bytes" if path == GuardPath::Otlp => &mut guard.buffer_budget_bytes,
            "max_retries" if path == GuardPath::Sentry => &mut guard.max_retries,
            "buffer_budget_bytes" => {
                cx.error(
                    arg.name.span(),
                    "`buffer_budget_bytes` sizes the OTLP ride-through buffer; the Sentry transport \
                     has none (it retries each envelope up to `max_retries`): move it to \
                     #[forkline::post_fork(guard(buffer_budget_bytes = ...))]",
                );
                continue;
            }
            "max_retries" => {
                cx.error(
                    arg.name.span(),
                    "`max_retries` applies to the Sentry transport: the OTLP path keeps a failed \
                     batch and retries it until it is delivered or `buffer_budget_bytes` is \
                     exceeded; use `buffer_budget_bytes` here, or move it to \
                     #[forkline::worker_init(sentry(guard(max_retries = ...)))]",
                );
                continue;
            }
            other => {
                cx.error(
                    arg.name.span(),
                    format!(
                        "unknown guard parameter `{other}`{}; known parameters: {}",
                        did_you_mean(other, KEYS),
                        known(path).join(", ")
                    ),
                );
                continue;
            }
        };
        slot.set(cx, arg, value::integer);
    }
    Some(guard)
}

fn known(path: GuardPath) -> Vec<&'static str> {
    KEYS.iter()
        .copied()
        .filter(|k| match path {
            GuardPath::Otlp => *k != "max_retries",
            GuardPath::Sentry => *k != "buffer_budget_bytes",
        })
        .collect()
}
