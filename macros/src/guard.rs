//! `guard(...)`: the export guard's parameters, in `#[post_fork(guard(...))]` for the OTLP path
//! and `#[worker_init(sentry(guard(...)))]` for the Sentry transport. Read, checked and
//! generated here, so the two places share one grammar.

use crate::ctxt::Ctxt;
use crate::grammar::{self, Arg, Attr};
use crate::suggest::did_you_mean;
use crate::value;
use proc_macro2::TokenStream;
use quote::quote;

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

/// The longest timeout, backoff or cool-down accepted: longer is almost surely a unit mistake.
const MAX_MS: u64 = 600_000;

#[derive(Default)]
pub(crate) struct GuardArgs {
    connect_timeout_ms: Attr<u64>,
    attempt_timeout_ms: Attr<u64>,
    backoff_base_ms: Attr<u64>,
    backoff_cap_ms: Attr<u64>,
    breaker_failures: Attr<u64>,
    breaker_cooldown_ms: Attr<u64>,
    queue_capacity: Attr<u64>,
    buffer_budget_bytes: Attr<u64>,
    max_retries: Attr<u64>,
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

/// Value ranges and the rules between parameters.
pub(crate) fn check(cx: &Ctxt, g: &GuardArgs) {
    for (name, value) in [
        ("connect_timeout_ms", &g.connect_timeout_ms),
        ("attempt_timeout_ms", &g.attempt_timeout_ms),
        ("backoff_base_ms", &g.backoff_base_ms),
        ("backoff_cap_ms", &g.backoff_cap_ms),
        ("breaker_cooldown_ms", &g.breaker_cooldown_ms),
    ] {
        if let Some(v) = value.get().filter(|v| v.value > MAX_MS) {
            cx.error(
                v.value_span,
                format!("`{name}` is in milliseconds and at most {MAX_MS} (ten minutes)"),
            );
        }
    }
    for (name, value, what) in [
        (
            "attempt_timeout_ms",
            &g.attempt_timeout_ms,
            "an attempt needs time to happen",
        ),
        (
            "connect_timeout_ms",
            &g.connect_timeout_ms,
            "a connection needs time to happen",
        ),
        (
            "breaker_failures",
            &g.breaker_failures,
            "the breaker opens after at least one failure",
        ),
        (
            "queue_capacity",
            &g.queue_capacity,
            "the queue must hold at least one item",
        ),
    ] {
        if let Some(v) = value.get().filter(|v| v.value == 0) {
            cx.error(v.value_span, format!("`{name}` must be at least 1: {what}"));
        }
    }
    if let Some(v) = g
        .breaker_failures
        .get()
        .filter(|v| v.value > u64::from(u32::MAX))
    {
        cx.error(v.value_span, "`breaker_failures` is too large");
    }
    if let Some(v) = g.max_retries.get().filter(|v| v.value > 100) {
        cx.error(
            v.value_span,
            "`max_retries` is at most 100; the breaker is what stops a dead backend",
        );
    }
    if let (Some(base), Some(cap)) = (g.backoff_base_ms.get(), g.backoff_cap_ms.get()) {
        if base.value > cap.value {
            cx.error(
                base.value_span,
                format!(
                    "`backoff_base_ms` ({}) exceeds `backoff_cap_ms` ({}): the cap bounds every \
                     wait, the first included; lower the base or raise the cap",
                    base.value, cap.value
                ),
            );
        }
    }
    if let (Some(connect), Some(attempt)) = (g.connect_timeout_ms.get(), g.attempt_timeout_ms.get())
    {
        if connect.value > attempt.value {
            cx.error(
                connect.value_span,
                format!(
                    "`connect_timeout_ms` ({}) exceeds `attempt_timeout_ms` ({}): connecting is \
                     part of an attempt, so the attempt's bound would cut it off first",
                    connect.value, attempt.value
                ),
            );
        }
    }
}

/// The `forkline::GuardSettings` value.
pub(crate) fn expand(g: Option<&GuardArgs>) -> TokenStream {
    let Some(g) = g else {
        return quote!(::forkline::GuardSettings::NONE);
    };
    let ms = |v: &Attr<u64>| match v.value() {
        Some(&n) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#n)))
        }
        None => quote!(::core::option::Option::None),
    };
    let count = |v: &Attr<u64>, ty: TokenStream| match v.value() {
        Some(&n) => {
            let n = proc_macro2::Literal::u64_unsuffixed(n);
            quote!(::core::option::Option::Some(#n as #ty))
        }
        None => quote!(::core::option::Option::None),
    };
    let connect_timeout = ms(&g.connect_timeout_ms);
    let attempt_timeout = ms(&g.attempt_timeout_ms);
    let backoff_base = ms(&g.backoff_base_ms);
    let backoff_cap = ms(&g.backoff_cap_ms);
    let breaker_cooldown = ms(&g.breaker_cooldown_ms);
    let max_retries = count(&g.max_retries, quote!(u32));
    let breaker_failures = count(&g.breaker_failures, quote!(u32));
    let queue_capacity = count(&g.queue_capacity, quote!(usize));
    let buffer_budget_bytes = count(&g.buffer_budget_bytes, quote!(usize));
    quote! {
        ::forkline::GuardSettings {
            connect_timeout: #connect_timeout,
            attempt_timeout: #attempt_timeout,
            max_retries: #max_retries,
            backoff_base: #backoff_base,
            backoff_cap: #backoff_cap,
            breaker_failures: #breaker_failures,
            breaker_cooldown: #breaker_cooldown,
            queue_capacity: #queue_capacity,
            buffer_budget_bytes: #buffer_budget_bytes,
        }
    }
}
