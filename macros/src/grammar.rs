//! The one grammar of macro arguments, read the same way by the lifecycle hooks, `#[handler]`
//! and the derive's `#[span(...)]`: a comma-separated list of `name = expr`, `name(...)` or a
//! bare `name`, where `name` is an identifier or `crate`.
//!
//! [`Attr`] is the slot one argument's value is read into. It remembers where its name was first
//! given and reports the same name given again at the second place, so duplicates are caught by
//! the shape of each macro's argument struct, not by a list of seen names kept by hand. The
//! readers here say what is wrong with a value's shape (`needs a value`, `takes a list`, `takes
//! no value`); what each name means is each macro's `args.rs`.

use crate::ctxt::Ctxt;
use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

/// One argument: its name and what follows the name.
pub(crate) struct Arg {
    pub(crate) name: Ident,
    pub(crate) value: Value,
}

pub(crate) enum Value {
    /// `name = expr`
    Expr(Box<Expr>),
    /// `name(...)`: the tokens inside, read by the argument that knows their grammar (nested
    /// arguments for `sentry(...)`, keys for `fields(...)`), and the parentheses' span.
    List(TokenStream, Span),
    /// `name`
    Flag,
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `Ident::parse_any` would accept every keyword; `crate` is the one argument named by a
        // keyword, so any other keyword gets syn's "expected identifier" at its own span.
        let name = if input.peek(Token![crate]) {
            let keyword: Token![crate] = input.parse()?;
            Ident::new("crate", keyword.span)
        } else {
            input.parse()?
        };
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Value::Expr(Box::new(input.parse()?))
        } else if input.peek(syn::token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            Value::List(content.parse()?, paren.span.join())
        } else {
            Value::Flag
        };
        Ok(Self { name, value })
    }
}

impl Arg {
    /// The value's last token.
    fn value_end(&self) -> Span {
        match &self.value {
            Value::Expr(expr) => quote::ToTokens::to_token_stream(expr)
                .into_iter()
                .last()
                .map_or_else(|| self.value_span(), |t| t.span()),
            _ => self.value_span(),
        }
    }

    /// Where the value is (the name's span for a bare `name`).
    fn value_span(&self) -> Span {
        match &self.value {
            Value::Expr(expr) => syn::spanned::Spanned::span(expr),
            Value::List(_, span) => *span,
            Value::Flag => self.name.span(),
        }
    }
}

/// Reads an argument list. A syntax error is collected at its span, and then no argument is read.
pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream) -> Vec<Arg> {
    match Punctuated::<Arg, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(args) => args.into_iter().collect(),
        Err(e) => {
            cx.push(e);
            Vec::new()
        }
    }
}

/// A value the user wrote, with the span of its name (for errors about the argument) and of the
/// value itself (for errors about the value).
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) name_span: Span,
    pub(crate) value_span: Span,
    /// The value's last token (its first is `value_span`): `Ctxt::error_range` marks the whole.
    pub(crate) value_end: Span,
}

/// The slot of one argument, as `serde_derive`'s `Attr<T>`: set once; given again, the second
/// is reported as a duplicate and not read.
pub(crate) struct Attr<T> {
    /// Where the name was first given, even if its value was then rejected.
    first: Option<Span>,
    value: Option<Spanned<T>>,
}

impl<T> Default for Attr<T> {
    fn default() -> Self {
        Self {
            first: None,
            value: None,
        }
    }
}

impl<T> Attr<T> {
    /// Reads `arg`'s value with `read` (which reports its own errors and returns `None` for a
    /// value it rejects), unless this argument was given before.
    pub(crate) fn set(
        &mut self,
        cx: &Ctxt,
        arg: &Arg,
        read: impl FnOnce(&Ctxt, &Arg) -> Option<T>,
    ) {
        if self.first.is_some() {
            cx.error(
                arg.name.span(),
                format!(
                    "duplicate argument `{}`: it is already given earlier in this list; remove one of the two",
                    arg.name
                ),
            );
            return;
        }
        self.first = Some(arg.name.span());
        self.value = read(cx, arg).map(|value| Spanned {
            value,
            name_span: arg.name.span(),
            value_span: arg.value_span(),
            value_end: arg.value_end(),
        });
    }

    /// The value read, with its spans; `None` if not given or rejected.
    pub(crate) fn get(&self) -> Option<&Spanned<T>> {
        self.value.as_ref()
    }

    /// The value read; `None` if not given or rejected.
    pub(crate) fn value(&self) -> Option<&T> {
        self.value.as_ref().map(|v| &v.value)
    }

    /// Whether a value was read (for a flag: whether it was given).
    pub(crate) fn is_set(&self) -> bool {
        self.value.is_some()
    }
}

/// A bare `name`.
pub(crate) fn flag(cx: &Ctxt, arg: &Arg) -> Option<()> {
    if let Value::Flag = arg.value {
        return Some(());
    }
    cx.error(
        arg.value_span(),
        format!("`{0}` takes no value: write just `{0}`", arg.name),
    );
    None
}

/// The expression of `name = expr`; `example` is a value to show in the error.
pub(crate) fn expr<'a>(cx: &Ctxt, arg: &'a Arg, example: &str) -> Option<&'a Expr> {
    let problem = match &arg.value {
        Value::Expr(expr) => return Some(expr),
        Value::Flag => "needs a value",
        Value::List(..) => "takes a single value",
    };
    cx.error(
        arg.value_span(),
        format!("`{0}` {problem}: write `{0} = {example}`", arg.name),
    );
    None
}

/// The tokens of `name(...)`; `example` is what to show between the parentheses in the error.
pub(crate) fn list<'a>(cx: &Ctxt, arg: &'a Arg, example: &str) -> Option<&'a TokenStream> {
    if let Value::List(tokens, _) = &arg.value {
        return Some(tokens);
    }
    cx.error(
        arg.value_span(),
        format!("`{0}` takes a list: write `{0}({example})`", arg.name),
    );
    None
}

/// The arguments of `name(a = 1, b)`, in this same grammar.
pub(crate) fn nested(cx: &Ctxt, arg: &Arg, example: &str) -> Option<Vec<Arg>> {
    list(cx, arg, example).map(|tokens| parse(cx, tokens.clone()))
}

/// `name = "..."`; `example` is a literal to show in the error.
pub(crate) fn string_literal(cx: &Ctxt, arg: &Arg, example: &str) -> Option<LitStr> {
    match expr(cx, arg, example)? {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        other => {
            cx.error_spanned(
                other,
                format!(
                    "`{0}` must be a string literal such as `{0} = {example}`",
                    arg.name
                ),
            );
            None
        }
    }
}

/// `crate = path::to::forkline` (or the path as a string, as serde and tokio take it): where
/// generated code finds forkline when it is renamed or re-exported.
pub(crate) fn crate_path(cx: &Ctxt, arg: &Arg) -> Option<syn::Path> {
    const EXAMPLE: &str = "my_crate::forkline";
    let expr = expr(cx, arg, EXAMPLE)?;
    let path = match expr {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => Some(p.path.clone()),
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => s.parse().ok(),
        _ => None,
    };
    if path.is_none() {
        cx.error_spanned(
            expr,
            format!("`crate` takes the path forkline is reached by, as in `crate = {EXAMPLE}`"),
        );
    }
    path
}
