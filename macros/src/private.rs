//! The one door generated code goes through: forkline's `__private::v1`, imported once per
//! expansion as `__forkline_private` (`Private::import`), so that a path that does not resolve
//! is one error at one place, never a cascade through every generated item (rustc reports a
//! failed `use` and stays quiet about what goes through it). forkline is found under whatever
//! name the user's `Cargo.toml` gives it (`fl = { package = "forkline" }`); `crate = <path>`
//! names it where it comes re-exported by another crate. `v1` is the version of the contract
//! with forkline's `__private` module, whose comment says when it changes and what a mismatch
//! looks like.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, ToTokens};

/// The name `__private::v1` is imported under in generated code; interpolated with `#p`.
pub(crate) struct Private {
    /// forkline's path, as the user's crate reaches it.
    krate: TokenStream,
    /// Why forkline's path could not be found (the expansion reports it).
    problem: Option<String>,
}

const ALIAS: &str = "__forkline_private";

impl Private {
    /// Through `krate`, the user's `crate = path`, if there is one; else forkline under its
    /// name in the user's `Cargo.toml`. When forkline is not among the dependencies there (it is
    /// re-exported, or missing), the error says to name it with `crate = path`.
    /// `attr` names the macro in the message (`post_fork`, `handler`, `span`).
    pub(crate) fn new(krate: Option<&syn::Path>, attr: &str) -> Self {
        match krate {
            Some(path) => Self {
                krate: path.to_token_stream(),
                problem: None,
            },
            None => match found(attr) {
                Ok(krate) => Self {
                    krate,
                    problem: None,
                },
                Err(problem) => Self {
                    krate: quote!(::forkline),
                    problem: Some(problem),
                },
            },
        }
    }

    /// Why forkline could not be found, to report at the attribute.
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// `use <forkline>::__private::v1 as __forkline_private;`: first in every expansion's scope
    /// (a function's body, a `const _` block).
    pub(crate) fn import(&self) -> TokenStream {
        let krate = &self.krate;
        let alias = Ident::new(ALIAS, Span::call_site());
        quote!(use #krate::__private::v1 as #alias;)
    }

    /// The alias with its token at `span`: for code in `quote_spanned!`, so that an error in a
    /// call through it (a bound the user's type does not meet) points at the user's token.
    pub(crate) fn at(&self, span: Span) -> TokenStream {
        Ident::new(ALIAS, span).into_token_stream()
    }
}

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        Ident::new(ALIAS, Span::call_site()).to_tokens(tokens);
    }
}

/// forkline's path in the crate being compiled, from its `Cargo.toml`.
fn found(attr: &str) -> Result<TokenStream, String> {
    use proc_macro_crate::{crate_name, Error, FoundCrate};
    match crate_name("forkline") {
        Ok(FoundCrate::Name(name)) => {
            let name = Ident::new(&name, Span::call_site());
            Ok(quote!(::#name))
        }
        // forkline's own examples, tests and doc tests, which reach it as a crate too.
        Ok(FoundCrate::Itself) => Ok(quote!(::forkline)),
        Err(Error::CrateNotFound { .. }) => Err(format!(
            "`forkline` is not a dependency of this crate: add it to Cargo.toml, or, if another \
             crate re-exports it, say where: `#[{attr}(crate = other_crate::forkline)]`"
        )),
        // No manifest to read (a build outside cargo): forkline under its own name.
        Err(_) => Ok(quote!(::forkline)),
    }
}
