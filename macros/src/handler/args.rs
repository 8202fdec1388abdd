//! `#[handler(...)]` arguments: `name = "..."`, `kind = "internal"`, `fields(key = expr, ...)`,
//! `skip(arg, ...)`, `skip_all`, `err`, `metrics` and `crate = path`, read in the shared grammar into `Attr`
//! slots (a name given twice is reported by its slot), every problem collected. Rules between
//! arguments and the function live in `check.rs`.

use crate::ctxt::Ctxt;
use crate::grammar::{self, Arg, Attr};
use crate::suggest::did_you_mean;
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

pub(crate) const KINDS: &[&str] = &["server", "client", "internal", "producer", "consumer"];
const KNOWN: &[&str] = &[
    "name", "kind", "fields", "skip", "skip_all", "err", "metrics",
];

/// One `fields(...)` entry: `key = expr`, or a bare variable `key` (recorded under its name).
pub(crate) struct Field {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: Expr,
}

#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub(crate) name: Attr<LitStr>,
    /// One of `KINDS`.
    pub(crate) kind: Attr<String>,
    pub(crate) fields: Attr<Vec<Field>>,
    pub(crate) skip: Attr<Vec<Ident>>,
    pub(crate) skip_all: Attr<()>,
    pub(crate) err: Attr<()>,
    pub(crate) metrics: Attr<()>,
    pub(crate) krate: Attr<syn::Path>,
}

/// A key: `a.b.c` (identifiers joined by dots) or a string literal.
struct FieldSyntax {
    key: String,
    key_span: Span,
    value: Option<Expr>,
    bare: Option<Ident>,
}

impl Parse for FieldSyntax {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // Keys such as `type` are fine attribute names, so any identifier is accepted.
        let (key, key_span, bare) = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            (lit.value(), lit.span(), None)
        } else {
            let first: Ident = input.call(Ident::parse_any)?;
            let mut key = first.to_string();
            let mut span = first.span();
            let mut dotted = false;
            while input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                let part: Ident = input.call(Ident::parse_any)?;
                key.push('.');
                key.push_str(&part.to_string());
                span = span.join(part.span()).unwrap_or(span);
                dotted = true;
            }
            (key, span, (!dotted).then_some(first))
        };
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Self {
            key,
            key_span,
            value,
            bare,
        })
    }
}

pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream) -> HandlerArgs {
    let mut args = HandlerArgs::default();
    for arg in grammar::parse(cx, tokens) {
        match arg.name.to_string().as_str() {
            "name" => args.name.set(cx, &arg, name),
            "kind" => args.kind.set(cx, &arg, kind),
            "fields" => args.fields.set(cx, &arg, fields),
            "skip" => args.skip.set(cx, &arg, skip),
            "skip_all" => args.skip_all.set(cx, &arg, grammar::flag),
            "err" => args.err.set(cx, &arg, grammar::flag),
            "metrics" => args.metrics.set(cx, &arg, grammar::flag),
            "crate" => args.krate.set(cx, &arg, grammar::crate_path),
            other => cx.error(
                arg.name.span(),
                format!(
                    "unknown argument `{other}` for #[forkline::handler]{}; known arguments: {}",
                    did_you_mean(other, KNOWN),
                    KNOWN.join(", ")
                ),
            ),
        }
    }
    args
}

fn name(cx: &Ctxt, arg: &Arg) -> Option<LitStr> {
    let name = grammar::string_literal(cx, arg, "\"GET /orders/{id}\"")?;
    if name.value().trim().is_empty() {
        cx.error(
            name.span(),
            "the span name must not be empty; remove `name` to use the function's name",
        );
    }
    Some(name)
}

fn kind(cx: &Ctxt, arg: &Arg) -> Option<String> {
    match grammar::expr(cx, arg, "\"server\"")? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) if KINDS.contains(&s.value().as_str()) => Some(s.value()),
        other => {
            cx.error_spanned(
                other,
                format!(
                    "`kind` is one of {}; by default a handler is \"server\" at the head of a trace and \"internal\" under a span of this process",
                    KINDS
                        .iter()
                        .map(|k| format!("\"{k}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            None
        }
    }
}

fn skip(cx: &Ctxt, arg: &Arg) -> Option<Vec<Ident>> {
    let tokens = grammar::list(cx, arg, "db, request")?;
    // `self` is accepted (it is never recorded anyway), as in `tracing::instrument`.
    let parser = |input: ParseStream<'_>| {
        Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any)
    };
    match parser.parse2(tokens.clone()) {
        Ok(list) => Some(list.into_iter().collect()),
        Err(e) => {
            cx.error(e.span(), "`skip` takes argument names: `skip(db, request)`");
            None
        }
    }
}

fn fields(cx: &Ctxt, arg: &Arg) -> Option<Vec<Field>> {
    let tokens = grammar::list(cx, arg, "order.id = order.id, user")?;
    let list = match Punctuated::<FieldSyntax, Token![,]>::parse_terminated.parse2(tokens.clone()) {
        Ok(list) => list,
        Err(e) => {
            cx.error(
                e.span(),
                format!(
                    "{e}; `fields` takes `key = value` pairs, as in `fields(order.id = order.id, \
                     user)`; a key is dotted identifiers or a string: `\"order-id\" = value`"
                ),
            );
            return None;
        }
    };
    let mut fields = Vec::new();
    for field in list {
        let value = match (field.value, field.bare) {
            (Some(value), _) => value,
            (None, Some(ident)) => syn::parse_quote!(#ident),
            (None, None) => {
                cx.error(
                    field.key_span,
                    format!(
                        "`{}` needs a value: write `{} = expr` (only a plain variable name may stand alone)",
                        field.key, field.key
                    ),
                );
                continue;
            }
        };
        fields.push(Field {
            key: field.key,
            key_span: field.key_span,
            value,
        });
    }
    Some(fields)
}
