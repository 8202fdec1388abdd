//! Rules on hook argument values and between arguments (samplers and ratios, exporters and
//! endpoints, the DSN, propagators, the deadline, the guard's ranges and orderings), checked after
//! every argument has been read.

use crate::ctxt::Ctxt;
use crate::grammar::Spanned;
use crate::hook::args::{HookArgs, MAX_DEADLINE_MS};
use crate::hook::guard::GuardArgs;
use crate::hook::value::DsnArg;
use crate::suggest;
use syn::LitStr;

pub(crate) const SAMPLERS: &[&str] = &[
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
];
const RATIO_SAMPLERS: &[&str] = &["traceidratio", "parentbased_traceidratio"];
const EXPORTERS: &[&str] = &["otlp", "embedded", "none"];
const PROPAGATORS: &[&str] = &["tracecontext", "baggage", "sentry", "none"];

/// The longest guard timeout, backoff or cool-down accepted: longer is almost surely a unit
/// mistake.
const MAX_MS: u64 = 600_000;

pub(crate) fn check(cx: &Ctxt, args: &HookArgs) {
    let otel = &args.otel;
    unit_interval(cx, "ratio", otel.ratio.get());
    if let Some(sampler) = otel.sampler.get() {
        let name = sampler.value.value();
        if !SAMPLERS.contains(&name.as_str()) {
            cx.error(
                sampler.value_span,
                format!(
                    "unknown sampler \"{name}\"{}; the OTEL_TRACES_SAMPLER names are: {}",
                    suggest::nearest(&name, SAMPLERS)
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default(),
                    SAMPLERS.join(", ")
                ),
            );
        } else if let Some(ratio) = otel.ratio.get() {
            if !RATIO_SAMPLERS.contains(&name.as_str()) {
                cx.error(
                    ratio.name_span,
                    format!(
                        "`ratio` only applies to the ratio samplers ({}); sampler \"{name}\" ignores it: \
                         remove `ratio` or use sampler = \"parentbased_traceidratio\"",
                        RATIO_SAMPLERS.join(", ")
                    ),
                );
            }
        }
    }
    non_empty(cx, "service_name", otel.service_name.get());
    non_empty(cx, "service_version", otel.service_version.get());
    non_empty(cx, "environment", otel.environment.get());
    let exporter = otel.exporter.value().map(LitStr::value);
    if let (Some(name), Some(spanned)) = (&exporter, otel.exporter.get()) {
        if !EXPORTERS.contains(&name.as_str()) {
            cx.error(
                spanned.value_span,
                format!(
                    "unknown exporter \"{name}\"; choose one of: {} (\"embedded\" writes OTLP JSON files locally)",
                    EXPORTERS.join(", ")
                ),
            );
        }
    }
    if let Some(g) = otel.guard.value() {
        guard(cx, g);
    }
    if let Some(endpoint) = otel.endpoint.get() {
        let url = endpoint.value.value();
        if !(url.starts_with("http://") || url.starts_with("https://"))
            || url.len() <= "https://".len()
        {
            cx.error(
                endpoint.value_span,
                "`endpoint` must be an http:// or https:// URL, such as \"http://127.0.0.1:4318\"",
            );
        }
        if matches!(exporter.as_deref(), Some("embedded" | "none")) {
            cx.error(
                endpoint.name_span,
                "`endpoint` only applies to exporter = \"otlp\": remove one of the two",
            );
        }
    }

    if let Some(metrics) = otel.metrics.value() {
        one_of(cx, "exporter", metrics.exporter.get(), EXPORTERS);
        one_of(cx, "temporality", metrics.temporality.get(), TEMPORALITIES);
        millis(
            cx,
            "interval_ms",
            metrics.interval_ms.get(),
            MAX_INTERVAL_MS,
        );
        millis(cx, "timeout_ms", metrics.timeout_ms.get(), MAX_DEADLINE_MS);
    }
    if let Some(logs) = otel.logs.value() {
        one_of(cx, "exporter", logs.exporter.get(), EXPORTERS);
        millis(
            cx,
            "schedule_delay_ms",
            logs.schedule_delay_ms.get(),
            MAX_DEADLINE_MS,
        );
        if let Some(level) = logs.level.get() {
            if let Err(problem) = log_filter(&level.value.value()) {
                cx.error(
                    level.value_span,
                    format!(
                        "{problem}; `level` is a RUST_LOG-style filter: a level (`off`, `error`, \
                         `warn`, `info`, `debug`, `trace`), `target=level` and bare targets, \
                         comma-separated, such as \"info,my_crate=debug\""
                    ),
                );
            }
        }
    }

    if let Some(sentry) = args.sentry.value() {
        unit_interval(cx, "traces_sample_rate", sentry.traces_sample_rate.get());
        unit_interval(cx, "sample_rate", sentry.sample_rate.get());
        non_empty(cx, "environment", sentry.environment.get());
        non_empty(cx, "release", sentry.release.get());
        if let Some(dsn) = sentry.dsn.get() {
            check_dsn(cx, dsn);
        }
        if let Some(g) = sentry.guard.value() {
            guard(cx, g);
        }
    }

    if let Some(propagators) = args.propagators.get() {
        for name in propagators.value.value().split(',').map(str::trim) {
            if !PROPAGATORS.contains(&name) {
                cx.error(
                    propagators.value_span,
                    format!(
                        "unknown propagator \"{name}\"; forkline supports: {} (comma-separated, as in OTEL_PROPAGATORS)",
                        PROPAGATORS.join(", ")
                    ),
                );
            }
        }
    }

    if let Some(deadline) = args.deadline_ms.get() {
        if deadline.value == 0 || deadline.value > MAX_DEADLINE_MS {
            cx.error(
                deadline.value_span,
                format!(
                    "`deadline_ms` must be between 1 and {MAX_DEADLINE_MS} milliseconds; it bounds the \
                     whole flush and shutdown of the worker's telemetry"
                ),
            );
        }
    }
}

const TEMPORALITIES: &[&str] = &["cumulative", "delta", "lowmemory"];
/// The runtime's levels (`config::log_level`), `warning` for `warn` included.
const LEVELS: &[&str] = &["off", "error", "warn", "warning", "info", "debug", "trace"];
/// A day: a longer export interval is almost surely a unit mistake.
const MAX_INTERVAL_MS: u64 = 86_400_000;

fn one_of(cx: &Ctxt, name: &str, value: Option<&Spanned<LitStr>>, allowed: &[&str]) {
    if let Some(v) = value {
        let given = v.value.value();
        if !allowed.contains(&given.as_str()) {
            cx.error(
                v.value_span,
                format!(
                    "unknown {name} \"{given}\"{}; choose one of: {}",
                    suggest::nearest(&given, allowed)
                        .map(|s| format!(" (did you mean \"{s}\"?)"))
                        .unwrap_or_default(),
                    allowed.join(", ")
                ),
            );
        }
    }
}

fn millis(cx: &Ctxt, name: &str, value: Option<&Spanned<u64>>, max: u64) {
    if let Some(v) = value {
        if v.value == 0 || v.value > max {
            cx.error(
                v.value_span,
                format!(
                    "`{name}` must be between 1 and {max} milliseconds (got {})",
                    v.value
                ),
            );
        }
    }
}

/// Checks a RUST_LOG-style filter the way the runtime reads `RUST_LOG` (directives `level`,
/// `target=level` or `target`, comma-separated; levels in any case).
fn log_filter(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err("the filter is empty".into());
    }
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if directive.contains(['[', ']', '{', '}', '/', ' ']) {
            return Err(format!(
                "\"{directive}\": span and field filters are not supported"
            ));
        }
        let level = match directive.split_once('=') {
            Some((target, level)) if !target.is_empty() => Some(level),
            Some(_) => return Err(format!("\"{directive}\" has no target before `=`")),
            None if LEVELS.contains(&directive.to_ascii_lowercase().as_str()) => None,
            // A bare target: every level of it.
            None => None,
        };
        if let Some(level) = level {
            if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
                return Err(format!("\"{level}\" is not a level"));
            }
        }
    }
    Ok(())
}

fn unit_interval(cx: &Ctxt, name: &str, value: Option<&Spanned<f64>>) {
    if let Some(v) = value {
        if !(0.0..=1.0).contains(&v.value) {
            cx.error_range(
                v.value_span,
                v.value_end,
                format!(
                    "`{name}` is a probability and must be between 0.0 and 1.0 (got {}); \
                     for example 0.25 keeps one trace in four",
                    v.value
                ),
            );
        }
    }
}

fn non_empty(cx: &Ctxt, name: &str, value: Option<&Spanned<LitStr>>) {
    if let Some(v) = value {
        if v.value.value().trim().is_empty() {
            cx.error(
                v.value_span,
                format!("`{name}` must not be empty; remove it to use the default"),
            );
        }
    }
}

fn check_dsn(cx: &Ctxt, dsn: &Spanned<DsnArg>) {
    match &dsn.value {
        DsnArg::Env(var) => {
            let name = var.value();
            let valid = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                cx.error(
                    var.span(),
                    "not an environment variable name: use letters, digits and `_`, as in \"SENTRY_DSN\"",
                );
            }
        }
        DsnArg::Literal(lit) => {
            // The DSN's key is a secret: the message describes the problem without echoing it.
            let text = lit.value();
            let shaped = (text.starts_with("https://") || text.starts_with("http://"))
                && text.contains('@')
                && text.rsplit('/').next().is_some_and(|project| {
                    !project.is_empty() && project.chars().all(|c| c.is_ascii_digit())
                });
            if !text.is_empty() && !shaped {
                cx.error(
                    lit.span(),
                    "this is not a Sentry DSN: expected `https://PUBLIC_KEY@HOST/PROJECT_ID` \
                     (or use dsn = env(\"SENTRY_DSN\"))",
                );
            }
        }
    }
}

/// The guard's value ranges and the rules between its parameters.
fn guard(cx: &Ctxt, g: &GuardArgs) {
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
