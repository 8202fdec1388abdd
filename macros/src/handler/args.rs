//! `#[handler(...)]` arguments: `name = "..."`, `kind = "server"`, `fields(key = expr, ...)`,
//! `skip(arg, ...)`, `skip_all`, `err`. Read here, every problem collected; rules between
//! arguments and the function live in `check.rs`.

use crate::ctxt::Ctxt;
use proc_macro2::Span;
use std::collections::HashMap;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

pub(crate) const KINDS: &[&str] = &["server", "client", "internal", "producer", "consumer"];
const KNOWN: &[&str] = &["name", "kind", "fields", "skip", "skip_all", "err"];

/// One `fields(...)` entry: `key = expr`, or a bare variable `key` (recorded under its name).
pub(crate) struct Field {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: Expr,
}

#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) kind: Option<(String, Span)>,
    pub(crate) fields: Vec<Field>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) skip_all: Option<Span>,
    pub(crate) err: Option<Span>,
}

/// The raw shape, before meaning: `ident`, `ident = expr`, `ident(...)`.
enum Raw {
    Flag(Ident),
    Value(Ident, Expr),
    List(Ident, proc_macro2::TokenStream),
}

struct RawList(Vec<Raw>);

impl Parse for RawList {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let name: Ident = input.parse()?;
            if input.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                out.push(Raw::Value(name, input.parse()?));
            } else if input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in input);
                out.push(Raw::List(name, content.parse()?));
            } else {
                out.push(Raw::Flag(name));
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(Self(out))
    }
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

pub(crate) fn parse(cx: &Ctxt, tokens: proc_macro2::TokenStream) -> HandlerArgs {
    let mut args = HandlerArgs::default();
    let raw = match syn::parse2::<RawList>(tokens) {
        Ok(raw) => raw.0,
        Err(e) => {
            cx.push(e);
            return args;
        }
    };
    let mut seen: HashMap<String, Span> = HashMap::new();
    for arg in raw {
        let name = match &arg {
            Raw::Flag(n) | Raw::Value(n, _) | Raw::List(n, _) => n.clone(),
        };
        let key = name.to_string();
        if seen.insert(key.clone(), name.span()).is_some() {
            cx.error(
                name.span(),
                format!("duplicate argument `{key}`: it is already given earlier in this list; remove one of the two"),
            );
            continue;
        }
        match (key.as_str(), arg) {
            ("name", Raw::Value(_, expr)) => match expr {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => {
                    if s.value().trim().is_empty() {
                        cx.error(s.span(), "the span name must not be empty; remove `name` to use the function's name");
                    }
                    args.name = Some(s);
                }
                other => cx.error_spanned(
                    &other,
                    "`name` must be a string literal such as `name = \"GET /orders/{id}\"`",
                ),
            },
            ("kind", Raw::Value(_, expr)) => match expr {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) if KINDS.contains(&s.value().as_str()) => {
                    args.kind = Some((s.value(), s.span()))
                }
                other => cx.error_spanned(
                    &other,
                    format!(
                        "`kind` is one of {}; handlers are \"server\" by default",
                        KINDS
                            .iter()
                            .map(|k| format!("\"{k}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
            },
            ("fields", Raw::List(_, tokens)) => fields(cx, tokens, &mut args),
            ("skip", Raw::List(_, tokens)) => {
                // `self` is accepted (it is never recorded anyway), as in `tracing::instrument`.
                let parser = Punctuated::<Ident, Token![,]>::parse_terminated_with;
                match syn::parse::Parser::parse2(
                    |input: ParseStream<'_>| parser(input, Ident::parse_any),
                    tokens,
                ) {
                    Ok(list) => args.skip.extend(list),
                    Err(e) => cx.push(syn::Error::new(
                        e.span(),
                        "`skip` takes argument names: `skip(db, request)`",
                    )),
                }
            }
            ("skip_all", Raw::Flag(n)) => args.skip_all = Some(n.span()),
            ("err", Raw::Flag(n)) => args.err = Some(n.span()),
            ("name" | "kind", _) => cx.error(
                name.span(),
                format!("`{key}` takes a string: write `{key} = \"...\"`"),
            ),
            ("fields" | "skip", _) => cx.error(
                name.span(),
                format!("`{key}` takes a list: write `{key}(...)`"),
            ),
            ("skip_all" | "err", _) => cx.error(
                name.span(),
                format!("`{key}` takes no value: write just `{key}`"),
            ),
            (other, _) => cx.error(
                name.span(),
                format!(
                    "unknown argument `{other}` for #[forkline::handler]{}; known arguments: {}",
                    crate::suggest::nearest(other, KNOWN)
                        .map(|near| format!(" (did you mean `{near}`?)"))
                        .unwrap_or_default(),
                    KNOWN.join(", ")
                ),
            ),
        }
    }
    args
}

fn fields(cx: &Ctxt, tokens: proc_macro2::TokenStream, args: &mut HandlerArgs) {
    let list = match syn::parse::Parser::parse2(
        Punctuated::<FieldSyntax, Token![,]>::parse_terminated,
        tokens,
    ) {
        Ok(list) => list,
        Err(e) => {
            cx.push(syn::Error::new(
                e.span(),
                format!("{e}; `fields` takes `key = value` pairs, as in `fields(order.id = order.id, user)`"),
            ));
            return;
        }
    };
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
        args.fields.push(Field {
            key: field.key,
            key_span: field.key_span,
            value,
        });
    }
}
