//! The lifecycle hooks (`#[post_fork(...)]` and the others): reads the function and the
//! arguments, checks them, and registers the function with the runtime.

mod args;
mod check;
mod expand;
mod guard;
pub(crate) mod kind;
mod signature;
mod value;

use crate::ctxt::{keep_item, Ctxt};
use kind::HookKind;
use proc_macro2::{Span, TokenStream};

pub(crate) fn hook(kind: HookKind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let message = format!(
                "#[{}] goes on a function: `fn name(worker: &forkline::Worker) {{ ... }}`",
                kind.attr_name()
            );
            // Point at the item's first tokens (its keyword), where the fix happens.
            let span = item.clone().into_iter().next().map(|t| t.span());
            let error = syn::Error::new(span.unwrap_or_else(Span::call_site), message);
            return keep_item(item, &error);
        }
    };

    let cx = Ctxt::new();
    let parsed = args::parse(&cx, kind, args);
    check::check(&cx, &parsed);
    let sig = signature::check(&cx, kind, &func);
    match cx.check() {
        Ok(()) => expand::expand(kind, &parsed, &sig, &func),
        Err(errors) => keep_item(&func, &errors),
    }
}
