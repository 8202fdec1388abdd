//! `#[forkline::handler]`: an OTel span around a request handler, through the global provider.

mod args;
mod check;
mod expand;

use crate::ctxt::{keep_item, Ctxt};
use proc_macro2::TokenStream;

pub(crate) fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let span = item.clone().into_iter().next().map(|t| t.span());
            let error = syn::Error::new(
                span.unwrap_or_else(proc_macro2::Span::call_site),
                "#[forkline::handler] goes on a function (`fn` or `async fn`); for a method, put it \
                 on the method inside the `impl` block",
            );
            let mut out = item;
            out.extend(error.to_compile_error());
            return out;
        }
    };
    let cx = Ctxt::new();
    let parsed = args::parse(&cx, args);
    let recorded = check::check(&cx, &parsed, &func);
    match cx.check() {
        Ok(()) => expand::expand(&parsed, &recorded, &func),
        Err(errors) => keep_item(&func, &errors),
    }
}
