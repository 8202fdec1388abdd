//! Gives meaning to hook arguments: which names each hook knows, the type of each value, and
//! duplicates. Rules that relate two arguments live in `check.rs`.

use crate::args::{RawArg, RawValue};
use crate::ctxt::Ctxt;
use crate::guard::{self, GuardArgs, GuardPath};
use crate::kind::HookKind;
use crate::suggest;
use proc_macro2::Span;
use std::collections::HashMap;
use syn::{Expr, ExprLit, Lit, LitStr, UnOp};

/// A value the user wrote, with the span of its name (for cross-argument errors) and value.
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) name_span: Span,
    pub(crate) value_span: Span,
}

pub(crate) enum DsnArg {
    Literal(LitStr),
    Env(LitStr),
}

#[derive(Default)]
pub(crate) struct OtelArgs {
    pub(crate) service_name: Option<Spanned<LitStr>>,
    pub(crate) service_version: Option<Spanned<LitStr>>,
    pub(crate) environment: Option<Spanned<LitStr>>,
    pub(crate) sampler: Option<Spanned<LitStr>>,
    pub(crate) ratio: Option<Spanned<f64>>,
    pub(crate) exporter: Option<Spanned<LitStr>>,
    pub(crate) endpoint: Option<Spanned<LitStr>>,
    pub(crate) guard: Option<GuardArgs>,
}

#[derive(Default)]
pub(crate) struct SentryArgs {
    pub(crate) enabled: Option<Spanned<bool>>,
    pub(crate) dsn: Option<Spanned<DsnArg>>,
    pub(crate) environment: Option<Spanned<LitStr>>,
    pub(crate) release: Option<Spanned<LitStr>>,
    pub(crate) traces_sample_rate: Option<Spanned<f64>>,
    pub(crate) sample_rate: Option<Spanned<f64>>,
    pub(crate) debug: Option<Spanned<bool>>,
    pub(crate) guard: Option<GuardArgs>,
}

#[derive(Default)]
pub(crate) struct HookArgs {
    pub(crate) otel: OtelArgs,
    pub(crate) sentry: Option<SentryArgs>,
    pub(crate) propagators: Option<Spanned<LitStr>>,
    pub(crate) deadline_ms: Option<Spanned<u64>>,
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
];
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

pub(crate) fn parse(cx: &Ctxt, kind: HookKind, raw: Vec<RawArg>) -> HookArgs {
    let mut args = HookArgs::default();
    let mut seen = Seen::default();
    for arg in raw {
        if !seen.first_time(cx, &arg.name) {
            continue;
        }
        let key = arg.name.to_string();
        match (kind, key.as_str()) {
            (HookKind::PostFork, _) if OTEL_KEYS.contains(&key.as_str()) => {
                otel_arg(cx, &mut args.otel, arg);
            }
            (HookKind::WorkerInit, "sentry") => args.sentry = Some(sentry_args(cx, arg)),
            (HookKind::WorkerInit, "propagators") => {
                args.propagators = string(cx, &arg);
            }
            (HookKind::WorkerExit, "deadline_ms") => {
                args.deadline_ms = integer(cx, &arg);
            }
            _ => unknown(cx, kind, &arg),
        }
    }
    args
}

fn otel_arg(cx: &Ctxt, otel: &mut OtelArgs, arg: RawArg) {
    match arg.name.to_string().as_str() {
        "guard" => otel.guard = Some(guard::parse(cx, arg, GuardPath::Otlp)),
        "service_name" => otel.service_name = string(cx, &arg),
        "service_version" => otel.service_version = string(cx, &arg),
        "environment" => otel.environment = string(cx, &arg),
        "sampler" => otel.sampler = string(cx, &arg),
        "ratio" => otel.ratio = float(cx, &arg),
        "exporter" => otel.exporter = string(cx, &arg),
        "endpoint" => otel.endpoint = string(cx, &arg),
        _ => unreachable!("OTEL_KEYS and this match list the same names"),
    }
}

fn sentry_args(cx: &Ctxt, arg: RawArg) -> SentryArgs {
    let mut sentry = SentryArgs::default();
    let nested = match arg.value {
        RawValue::List(nested, _) => nested,
        RawValue::Flag => return sentry,
        RawValue::Expr(expr) => {
            cx.error_spanned(
                &expr,
                "`sentry` takes a list of options: write `sentry(dsn = env(\"SENTRY_DSN\"), traces_sample_rate = 1.0)`",
            );
            return sentry;
        }
    };
    let mut seen = Seen::default();
    for arg in nested {
        if !seen.first_time(cx, &arg.name) {
            continue;
        }
        match arg.name.to_string().as_str() {
            "enabled" => sentry.enabled = boolean(cx, &arg),
            "dsn" => sentry.dsn = dsn(cx, &arg),
            "environment" => sentry.environment = string(cx, &arg),
            "release" => sentry.release = string(cx, &arg),
            "traces_sample_rate" => sentry.traces_sample_rate = float(cx, &arg),
            "sample_rate" => sentry.sample_rate = float(cx, &arg),
            "debug" => sentry.debug = boolean(cx, &arg),
            "guard" => sentry.guard = Some(guard::parse(cx, arg, GuardPath::Sentry)),
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
    sentry
}

fn unknown(cx: &Ctxt, kind: HookKind, arg: &RawArg) {
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

fn did_you_mean(typo: &str, known: &[&str]) -> String {
    suggest::nearest(typo, known)
        .map(|near| format!(" (did you mean `{near}`?)"))
        .unwrap_or_default()
}

/// Tracks argument names at one nesting level and reports the second of a pair structurally.
#[derive(Default)]
pub(crate) struct Seen(HashMap<String, Span>);

impl Seen {
    pub(crate) fn first_time(&mut self, cx: &Ctxt, name: &syn::Ident) -> bool {
        let key = name.to_string();
        if self.0.contains_key(&key) {
            cx.error(
                name.span(),
                format!("duplicate argument `{key}`: it is already given earlier in this list; remove one of the two"),
            );
            return false;
        }
        self.0.insert(key, name.span());
        true
    }
}

fn expr_of<'a>(cx: &Ctxt, arg: &'a RawArg, expected: &str) -> Option<&'a Expr> {
    match &arg.value {
        RawValue::Expr(expr) => Some(expr),
        RawValue::Flag => {
            cx.error(
                arg.name.span(),
                format!(
                    "`{}` needs a value: write `{} = {expected}`",
                    arg.name, arg.name
                ),
            );
            None
        }
        RawValue::List(_, span) => {
            cx.error(
                *span,
                format!(
                    "`{}` takes a single value: write `{} = {expected}`",
                    arg.name, arg.name
                ),
            );
            None
        }
    }
}

fn spanned<T>(arg: &RawArg, expr: &Expr, value: T) -> Spanned<T> {
    Spanned {
        value,
        name_span: arg.name.span(),
        value_span: syn::spanned::Spanned::span(expr),
    }
}

fn not_literal(cx: &Ctxt, arg: &RawArg, expr: &Expr, example: &str) {
    cx.error_spanned(
        expr,
        format!(
            "`{}` must be a literal such as `{example}`: forkline checks it at compile time. \
             For a value known only at run time, use the standard environment variable or \
             `forkline::Server::telemetry(...)`",
            arg.name
        ),
    );
}

fn string(cx: &Ctxt, arg: &RawArg) -> Option<Spanned<LitStr>> {
    let expr = expr_of(cx, arg, "\"...\"")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(spanned(arg, expr, s.clone())),
        _ => {
            not_literal(cx, arg, expr, "\"...\"");
            None
        }
    }
}

fn boolean(cx: &Ctxt, arg: &RawArg) -> Option<Spanned<bool>> {
    if let RawValue::Flag = arg.value {
        // A bare `debug` reads as `debug = true`.
        return Some(Spanned {
            value: true,
            name_span: arg.name.span(),
            value_span: arg.name.span(),
        });
    }
    let expr = expr_of(cx, arg, "true")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(spanned(arg, expr, b.value)),
        _ => {
            not_literal(cx, arg, expr, "true");
            None
        }
    }
}

/// A number literal, allowing a leading minus so that `-0.5` gets a range error, not a type error.
fn number(expr: &Expr) -> Option<Result<f64, syn::Error>> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => Some(f.base10_parse::<f64>()),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => Some(i.base10_parse::<f64>()),
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
            number(&unary.expr).map(|n| n.map(|v| -v))
        }
        Expr::Group(group) => number(&group.expr),
        _ => None,
    }
}

fn float(cx: &Ctxt, arg: &RawArg) -> Option<Spanned<f64>> {
    let expr = expr_of(cx, arg, "0.25")?;
    match number(expr) {
        Some(Ok(value)) => Some(spanned(arg, expr, value)),
        Some(Err(e)) => {
            cx.push(e);
            None
        }
        None => {
            not_literal(cx, arg, expr, "0.25");
            None
        }
    }
}

pub(crate) fn integer(cx: &Ctxt, arg: &RawArg) -> Option<Spanned<u64>> {
    let expr = expr_of(cx, arg, "2000")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => match i.base10_parse::<u64>() {
            Ok(value) => Some(spanned(arg, expr, value)),
            Err(e) => {
                cx.push(e);
                None
            }
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            cx.error_spanned(
                expr,
                format!(
                    "`{}` must be a positive {}",
                    arg.name,
                    if arg.name.to_string().ends_with("_ms") {
                        "number of milliseconds"
                    } else {
                        "whole number"
                    }
                ),
            );
            None
        }
        _ => {
            not_literal(cx, arg, expr, "2000");
            None
        }
    }
}

fn dsn(cx: &Ctxt, arg: &RawArg) -> Option<Spanned<DsnArg>> {
    const EXAMPLE: &str = "env(\"SENTRY_DSN\")";
    let expr = expr_of(cx, arg, EXAMPLE)?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(spanned(arg, expr, DsnArg::Literal(s.clone()))),
        Expr::Call(call) if is_env_call(&call.func) => {
            let var = match call.args.first() {
                Some(Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                })) if call.args.len() == 1 => s,
                _ => {
                    cx.error_spanned(
                        &call.args,
                        format!(
                            "`env(...)` takes one string literal, the variable's name: `{EXAMPLE}`"
                        ),
                    );
                    return None;
                }
            };
            Some(spanned(arg, expr, DsnArg::Env(var.clone())))
        }
        _ => {
            cx.error_spanned(
                expr,
                format!(
                    "`dsn` must be a string literal or `{EXAMPLE}` (read in the worker at start-up); \
                     keep DSN keys out of source code where you can"
                ),
            );
            None
        }
    }
}

fn is_env_call(func: &Expr) -> bool {
    matches!(func, Expr::Path(p) if p.path.is_ident("env"))
}
