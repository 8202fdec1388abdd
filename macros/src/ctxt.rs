//! Collects every error of one macro invocation, so the user sees them all at once (the way
//! `serde_derive` does) instead of fixing them one compile at a time. Whoever makes a `Ctxt` must
//! take its errors with [`Ctxt::check`]: dropping it unchecked panics, so an error cannot be
//! collected and then lost.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use std::cell::RefCell;
use std::fmt::Display;

pub(crate) struct Ctxt {
    /// `None` once `check` has taken them.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    pub(crate) fn error(&self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    pub(crate) fn error_spanned(&self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// An error marking everything from `start` to `end` (the tokens of one value, such as the
    /// sign and the number of `-0.1`).
    pub(crate) fn error_range(&self, start: Span, end: Span, message: impl Display) {
        let mut first = proc_macro2::Ident::new("start", start);
        first.set_span(start);
        let last = proc_macro2::Ident::new("end", end);
        self.push(syn::Error::new_spanned(
            quote::quote!(#first #last),
            message,
        ));
    }

    pub(crate) fn push(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("Ctxt::push after Ctxt::check")
            .push(error);
    }

    /// Every collected error, combined into one (each keeps its own span), or `Ok` if none.
    pub(crate) fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("forgot to check for errors");
        }
    }
}

/// `item` as written, followed by `error` as `compile_error!`s (one at each error's span): the
/// item stays, so the rest of the crate and the IDE still see it.
pub(crate) fn keep_item(item: impl ToTokens, error: &syn::Error) -> TokenStream {
    let mut out = item.into_token_stream();
    out.extend(error.to_compile_error());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_returns_every_error() {
        let cx = Ctxt::new();
        cx.error(Span::call_site(), "first");
        cx.error(Span::call_site(), "second");
        let error = cx.check().expect_err("two errors");
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(Ctxt::new().check().is_ok());
    }

    #[test]
    #[should_panic(expected = "forgot to check for errors")]
    fn unchecked_errors_panic_on_drop() {
        let cx = Ctxt::new();
        cx.error(Span::call_site(), "lost");
    }
}
