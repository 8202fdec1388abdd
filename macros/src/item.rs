//! The function an attribute macro is on, read with its body left as tokens (as
//! tracing-attributes' `MaybeItemFn`): the macros need the signature, never the statements, so a
//! syntax error in the body is left for rustc to report at its place while the macro still
//! expands. Only an item that is not a function (a struct, an `impl`, a `static`...) gets the
//! macro's "goes on a function" message; a function whose signature does not parse gets syn's own
//! error at its span.

use crate::ctxt::keep_item;
use proc_macro2::{Group, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt};
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Abi, Attribute, Signature, Token, Visibility};

pub(crate) struct ItemFn {
    /// The outer attributes (inner ones stay in the body).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// `{ ... }`, as written.
    pub(crate) block: Group,
}

impl Parse for ItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        if input.peek(Token![;]) {
            return Err(input.error(
                "this function has no body to instrument (a trait method's declaration): put the \
                 attribute on the method in the `impl` block",
            ));
        }
        if !input.peek(syn::token::Brace) {
            return Err(input.error("expected the function's body, `{ ... }`"));
        }
        let block = input.parse()?;
        Ok(Self {
            attrs,
            vis,
            sig,
            block,
        })
    }
}

impl ToTokens for ItemFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.block.to_tokens(tokens);
    }
}

/// The function in `item`; else what to emit instead: the item as written and the error,
/// `not_a_fn` at the item's first token when it is not a function, syn's error when it is one
/// that does not parse.
pub(crate) fn parse_fn(item: TokenStream, not_a_fn: &str) -> Result<ItemFn, TokenStream> {
    let error = match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => return Ok(func),
        Err(error) if is_fn(item.clone()) => error,
        // Point at the item's first token (its keyword), where the fix happens.
        Err(_) => {
            let span = item.clone().into_iter().next().map(|t| t.span());
            syn::Error::new(span.unwrap_or_else(Span::call_site), not_a_fn)
        }
    };
    Err(keep_item(item, &error))
}

/// Whether `item` starts as a function does: attributes, visibility, qualifiers, then `fn`.
fn is_fn(item: TokenStream) -> bool {
    let starts_as_fn = |input: ParseStream<'_>| {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        input.parse::<Option<Token![const]>>()?;
        input.parse::<Option<Token![async]>>()?;
        input.parse::<Option<Token![unsafe]>>()?;
        input.parse::<Option<Abi>>()?;
        let is_fn = input.peek(Token![fn]);
        input.parse::<TokenStream>()?;
        Ok(is_fn)
    };
    starts_as_fn.parse2(item).unwrap_or(false)
}
