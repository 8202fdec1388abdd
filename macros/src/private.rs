//! The one door generated code goes through: `::forkline::__private::v1`, or
//! `<path>::__private::v1` when the user wrote `crate = <path>`. No generated path names forkline
//! any other way. `v1` is the version of the contract with forkline's `__private` module, whose
//! comment says when it changes and what a mismatch looks like.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};

/// The path to forkline's `__private::v1`; interpolated with `#p`.
pub(crate) struct Private(TokenStream);

impl Private {
    /// Through `krate`, the user's `crate = path`, if there is one.
    pub(crate) fn new(krate: Option<&syn::Path>) -> Self {
        let krate = krate.map_or_else(|| quote!(::forkline), ToTokens::to_token_stream);
        Self(quote!(#krate::__private::v1))
    }

    /// The same path with every token at `span`: for code in `quote_spanned!`, so that an error
    /// in a call through it (a bound the user's type does not meet) points at the user's token.
    pub(crate) fn at(&self, span: Span) -> TokenStream {
        self.0
            .clone()
            .into_iter()
            .map(|mut token| {
                token.set_span(span);
                token
            })
            .collect()
    }
}

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.0.to_tokens(tokens);
    }
}
