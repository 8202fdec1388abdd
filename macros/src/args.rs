//! The raw grammar of hook arguments: `name = value`, `name(nested, ...)` or a bare `name`.
//! Meaning is given to them in `attr.rs`; this file only knows the shape.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token};

pub(crate) struct RawArg {
    pub(crate) name: Ident,
    pub(crate) value: RawValue,
}

pub(crate) enum RawValue {
    /// `name = expr`
    Expr(Box<Expr>),
    /// `name(arg, arg, ...)`
    List(Vec<RawArg>, Span),
    /// `name`
    Flag,
}

pub(crate) struct RawArgs(pub(crate) Vec<RawArg>);

impl Parse for RawArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let args = Punctuated::<RawArg, Token![,]>::parse_terminated(input)?;
        Ok(Self(args.into_iter().collect()))
    }
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        // `Ident::parse_any` would accept keywords; hook arguments never are keywords,
        // so a keyword gets syn's "expected identifier" at its own span.
        let name: Ident = input.parse()?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            RawValue::Expr(Box::new(input.parse()?))
        } else if input.peek(syn::token::Paren) {
            let content;
            let paren = syn::parenthesized!(content in input);
            let nested = Punctuated::<RawArg, Token![,]>::parse_terminated(&content)?;
            RawValue::List(nested.into_iter().collect(), paren.span.join())
        } else {
            RawValue::Flag
        };
        Ok(Self { name, value })
    }
}
