//! Reads the value of one hook argument: a string, a boolean, a number or the DSN, each a literal
//! so that forkline can check it at compile time. The shape errors come from `grammar.rs`; the
//! rules on what a value may be (ranges, names) are in `check.rs`.

use crate::ctxt::Ctxt;
use crate::grammar::{self, Arg, Value};
use syn::{Expr, ExprLit, Lit, LitStr, UnOp};

pub(crate) enum DsnArg {
    Literal(LitStr),
    Env(LitStr),
}

fn not_literal(cx: &Ctxt, arg: &Arg, expr: &Expr, example: &str) {
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

pub(crate) fn string(cx: &Ctxt, arg: &Arg) -> Option<LitStr> {
    let expr = grammar::expr(cx, arg, "\"...\"")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        _ => {
            not_literal(cx, arg, expr, "\"...\"");
            None
        }
    }
}

pub(crate) fn boolean(cx: &Ctxt, arg: &Arg) -> Option<bool> {
    if let Value::Flag = arg.value {
        // A bare `debug` reads as `debug = true`.
        return Some(true);
    }
    let expr = grammar::expr(cx, arg, "true")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.value),
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

pub(crate) fn float(cx: &Ctxt, arg: &Arg) -> Option<f64> {
    let expr = grammar::expr(cx, arg, "0.25")?;
    match number(expr) {
        Some(Ok(value)) => Some(value),
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

pub(crate) fn integer(cx: &Ctxt, arg: &Arg) -> Option<u64> {
    let expr = grammar::expr(cx, arg, "2000")?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => match i.base10_parse::<u64>() {
            Ok(value) => Some(value),
            Err(e) => {
                cx.push(e);
                None
            }
        },
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => {
            cx.error_spanned(
                expr,
                format!("`{}` must be a positive {}", arg.name, whole(arg)),
            );
            None
        }
        // A literal, of another kind: say what kind.
        Expr::Lit(_) => {
            cx.error_spanned(
                expr,
                format!(
                    "`{}` is an integer ({}), such as `2000`",
                    arg.name,
                    whole(arg)
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

/// What an integer argument counts: milliseconds for a `_ms` name.
fn whole(arg: &Arg) -> &'static str {
    if arg.name.to_string().ends_with("_ms") {
        "number of milliseconds"
    } else {
        "whole number"
    }
}

pub(crate) fn dsn(cx: &Ctxt, arg: &Arg) -> Option<DsnArg> {
    const EXAMPLE: &str = "env(\"SENTRY_DSN\")";
    let expr = grammar::expr(cx, arg, EXAMPLE)?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(DsnArg::Literal(s.clone())),
        Expr::Call(call) if is_env_call(&call.func) => match call.args.first() {
            Some(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })) if call.args.len() == 1 => Some(DsnArg::Env(s.clone())),
            _ => {
                cx.error_spanned(
                    &call.args,
                    format!(
                        "`env(...)` takes one string literal, the variable's name: `{EXAMPLE}`"
                    ),
                );
                None
            }
        },
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
