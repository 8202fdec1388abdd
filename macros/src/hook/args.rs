//! Gives meaning to hook arguments: which names each hook knows (the OTel base on `post_fork`,
//! with its `metrics(...)` and `logs(...)` signals,
//! `sentry(...)` and `propagators` on `worker_init`, `deadline_ms` on `worker_exit`, `crate` on
//! all), which value each takes, and where a misplaced one belongs. Values are read into `Attr`
//! slots, so a name given twice is reported by the slot. Rules on values and between arguments
//! live in `check.rs`.

use crate::ctxt::Ctxt;
use crate::grammar::{self, Arg, Attr, Value};
use crate::hook::guard::{self, GuardArgs, GuardPath};
use crate::hook::kind::HookKind;
use crate::hook::value::{self, DsnArg};
use crate::suggest::did_you_mean;
use proc_macro2::TokenStream;
use syn::LitStr;

#[derive(Default)]
pub(crate) struct OtelArgs {
    pub(crate) service_name: Attr<LitStr>,
    pub(crate) service_version: Attr<LitStr>,
    pub(crate) environment: Attr<LitStr>,
    pub(crate) sampler: Attr<LitStr>,
    pub(crate) ratio: Attr<f64>,
    pub(crate) exporter: Attr<LitStr>,
    pub(crate) endpoint: Attr<LitStr>,
    pub(crate) guard: Attr<GuardArgs>,
    pub(crate) metrics: Attr<MetricsArgs>,
    pub(crate) logs: Attr<LogsArgs>,
}

/// `post_fork(metrics(...))`.
#[derive(Default)]
pub(crate) struct MetricsArgs {
    pub(crate) exporter: Attr<LitStr>,
    pub(crate) interval_ms: Attr<u64>,
    pub(crate) timeout_ms: Attr<u64>,
    pub(crate) temporality: Attr<LitStr>,
}

/// `post_fork(logs(...))`.
#[derive(Default)]
pub(crate) struct LogsArgs {
    pub(crate) exporter: Attr<LitStr>,
    pub(crate) level: Attr<LitStr>,
    pub(crate) schedule_delay_ms: Attr<u64>,
}

#[derive(Default)]
pub(crate) struct SentryArgs {
    pub(crate) enabled: Attr<bool>,
    pub(crate) dsn: Attr<DsnArg>,
    pub(crate) environment: Attr<LitStr>,
    pub(crate) release: Attr<LitStr>,
    pub(crate) traces_sample_rate: Attr<f64>,
    pub(crate) sample_rate: Attr<f64>,
    pub(crate) debug: Attr<bool>,
    pub(crate) guard: Attr<GuardArgs>,
}

#[derive(Default)]
pub(crate) struct HookArgs {
    pub(crate) otel: OtelArgs,
    pub(crate) sentry: Attr<SentryArgs>,
    pub(crate) propagators: Attr<LitStr>,
    pub(crate) deadline_ms: Attr<u64>,
    /// `crate = path`, on every hook.
    pub(crate) krate: Attr<syn::Path>,
}

const OTEL_KEYS: &[&str] = &[
    "service_name",
    "service_version",
    "environment",
    "sampler",
    "ratio",
    "exporter",
    "endpoint",
    "guard",
    "metrics",
    "logs",
];
const METRICS_KEYS: &[&str] = &["exporter", "interval_ms", "timeout_ms", "temporality"];
const LOGS_KEYS: &[&str] = &["exporter", "level", "schedule_delay_ms"];
const SENTRY_KEYS: &[&str] = &[
    "enabled",
    "dsn",
    "environment",
    "release",
    "traces_sample_rate",
    "sample_rate",
    "debug",
    "guard",
];
const WORKER_INIT_KEYS: &[&str] = &["sentry", "propagators"];
const WORKER_EXIT_KEYS: &[&str] = &["deadline_ms"];

/// The longest a worker may spend flushing at exit; longer is almost surely a unit mistake.
pub(crate) const MAX_DEADLINE_MS: u64 = 600_000;

fn known_keys(kind: HookKind) -> &'static [&'static str] {
    match kind {
        HookKind::PostFork => OTEL_KEYS,
        HookKind::WorkerInit => WORKER_INIT_KEYS,
        HookKind::WorkerExit => WORKER_EXIT_KEYS,
        _ => &[],
    }
}

pub(crate) fn parse(cx: &Ctxt, kind: HookKind, tokens: TokenStream) -> HookArgs {
    let mut args = HookArgs::default();
    for arg in grammar::parse(cx, tokens) {
        let key = arg.name.to_string();
        match (kind, key.as_str()) {
            (_, "crate") => args.krate.set(cx, &arg, grammar::crate_path),
            (HookKind::PostFork, _) if OTEL_KEYS.contains(&key.as_str()) => {
                otel_arg(cx, &mut args.otel, &arg);
            }
            (HookKind::WorkerInit, "sentry") => args.sentry.set(cx, &arg, sentry_args),
            (HookKind::WorkerInit, "propagators") => {
                args.propagators.set(cx, &arg, value::string);
            }
            (HookKind::WorkerExit, "deadline_ms") => {
                args.deadline_ms.set(cx, &arg, value::integer);
            }
            _ => unknown(cx, kind, &arg),
        }
    }
    args
}

fn otel_arg(cx: &Ctxt, otel: &mut OtelArgs, arg: &Arg) {
    match arg.name.to_string().as_str() {
        "guard" => otel
            .guard
            .set(cx, arg, |cx, arg| guard::parse(cx, arg, GuardPath::Otlp)),
        "service_name" => otel.service_name.set(cx, arg, value::string),
        "service_version" => otel.service_version.set(cx, arg, value::string),
        "environment" => otel.environment.set(cx, arg, value::string),
        "sampler" => otel.sampler.set(cx, arg, value::string),
        "ratio" => otel.ratio.set(cx, arg, value::float),
        "exporter" => otel.exporter.set(cx, arg, value::string),
        "endpoint" => otel.endpoint.set(cx, arg, value::string),
        "metrics" => otel.metrics.set(cx, arg, metrics_args),
        "logs" => otel.logs.set(cx, arg, logs_args),
        _ => unreachable!("OTEL_KEYS and this match list the same names"),
    }
}

fn metrics_args(cx: &Ctxt, arg: &Arg) -> Option<MetricsArgs> {
    let mut metrics = MetricsArgs::default();
    let nested = grammar::nested(cx, arg, "interval_ms = 10000, temporality = \"delta\"")?;
    for arg in &nested {
        match arg.name.to_string().as_str() {
            "exporter" => metrics.exporter.set(cx, arg, value::string),
            "interval_ms" => metrics.interval_ms.set(cx, arg, value::integer),
            "timeout_ms" => metrics.timeout_ms.set(cx, arg, value::integer),
            "temporality" => metrics.temporality.set(cx, arg, value::string),
            other => unknown_nested(cx, arg, "metrics", other, METRICS_KEYS),
        }
    }
    Some(metrics)
}

fn logs_args(cx: &Ctxt, arg: &Arg) -> Option<LogsArgs> {
    let mut logs = LogsArgs::default();
    let nested = grammar::nested(cx, arg, "level = \"info\"")?;
    for arg in &nested {
        match arg.name.to_string().as_str() {
            "exporter" => logs.exporter.set(cx, arg, value::string),
            "level" => logs.level.set(cx, arg, value::string),
            "schedule_delay_ms" => logs.schedule_delay_ms.set(cx, arg, value::integer),
            other => unknown_nested(cx, arg, "logs", other, LOGS_KEYS),
        }
    }
    Some(logs)
}

fn unknown_nested(cx: &Ctxt, arg: &Arg, signal: &str, name: &str, known: &[&str]) {
    cx.error(
        arg.name.span(),
        format!(
            "unknown `{signal}` option `{name}`{}; known options: {}",
            did_you_mean(name, known),
            known.join(", ")
        ),
    );
}

fn sentry_args(cx: &Ctxt, arg: &Arg) -> Option<SentryArgs> {
    let mut sentry = SentryArgs::default();
    if let Value::Flag = arg.value {
        // A bare `sentry`: every option from the environment.
        return Some(sentry);
    }
    let nested = grammar::nested(
        cx,
        arg,
        "dsn = env(\"SENTRY_DSN\"), traces_sample_rate = 1.0",
    )?;
    for arg in &nested {
        match arg.name.to_string().as_str() {
            "enabled" => sentry.enabled.set(cx, arg, value::boolean),
            "dsn" => sentry.dsn.set(cx, arg, value::dsn),
            "environment" => sentry.environment.set(cx, arg, value::string),
            "release" => sentry.release.set(cx, arg, value::string),
            "traces_sample_rate" => sentry.traces_sample_rate.set(cx, arg, value::float),
            "sample_rate" => sentry.sample_rate.set(cx, arg, value::float),
            "debug" => sentry.debug.set(cx, arg, value::boolean),
            "guard" => sentry
                .guard
                .set(cx, arg, |cx, arg| guard::parse(cx, arg, GuardPath::Sentry)),
            other => {
                let hint = if OTEL_KEYS.contains(&other) {
                    format!(
                        "; `{other}` belongs to the OTel base: move it to #[post_fork({other} = ...)]"
                    )
                } else {
                    did_you_mean(other, SENTRY_KEYS)
                };
                cx.error(
                    arg.name.span(),
                    format!(
                        "unknown Sentry option `{other}`{hint}; known options: {}",
                        SENTRY_KEYS.join(", ")
                    ),
                );
            }
        }
    }
    Some(sentry)
}

fn unknown(cx: &Ctxt, kind: HookKind, arg: &Arg) {
    let name = arg.name.to_string();
    let hook = kind.attr_name();
    let message = match kind {
        HookKind::PostFork if name == "sentry" => "Sentry is not set up in #[post_fork]: post_fork runs before the worker's \
             runtime exists, and Sentry must be initialised on the worker's main thread in worker_init; \
             move `sentry(...)` to #[forkline::worker_init(sentry(...))]"
            .to_string(),
        HookKind::PostFork if SENTRY_KEYS.contains(&name.as_str()) => format!(
            "Sentry options do not belong in #[post_fork]: post_fork runs before the worker's runtime \
             exists, and Sentry must be initialised on the worker's main thread in worker_init; \
             move `{name}` to #[forkline::worker_init(sentry({name} = ...))]"
        ),
        HookKind::PostFork if name == "propagators" => "propagators are installed in worker_init, after Sentry: \
             move `propagators` to #[forkline::worker_init(propagators = ...)]"
            .to_string(),
        HookKind::WorkerInit if name == "guard" => "`guard` belongs to one export path: for the \
             Sentry transport write #[forkline::worker_init(sentry(guard(...)))], for OTLP spans \
             #[forkline::post_fork(guard(...))]"
            .to_string(),
        HookKind::WorkerInit if SENTRY_KEYS.contains(&name.as_str()) => format!(
            "`{name}` is a Sentry option: write it inside `sentry(...)`, as \
             #[forkline::worker_init(sentry({name} = ...))]"
        ),
        HookKind::WorkerInit if OTEL_KEYS.contains(&name.as_str()) => format!(
            "`{name}` configures the OTel base, which is built in post_fork before the worker's \
             runtime starts: move it to #[forkline::post_fork({name} = ...)]"
        ),
        _ => {
            let known = known_keys(kind);
            if known.is_empty() {
                format!("#[{hook}] takes no arguments; remove `{name}`")
            } else {
                format!(
                    "unknown argument `{name}` for #[{hook}]{}; known arguments: {}",
                    did_you_mean(&name, known),
                    known.join(", ")
                )
            }
        }
    };
    cx.error(arg.name.span(), message);
}
