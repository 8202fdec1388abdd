//! `#[forkline::handler]`: an OTel span around a request handler, through the global provider.
//! Reads the function (`item.rs`) and the arguments, checks them against each other, and
//! generates the instrumented function; on any error, the function as written and every error.

mod args;
mod check;
mod expand;

use crate::ctxt::{keep_item, Ctxt};
use crate::item::parse_fn;
use proc_macro2::TokenStream;

pub(crate) fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match parse_fn(
        item,
        "#[forkline::handler] goes on a function (`fn` or `async fn`); for a method, put it on \
         the method inside the `impl` block",
    ) {
        Ok(func) => func,
        Err(tokens) => return tokens,
    };
    let cx = Ctxt::new();
    let parsed = args::parse(&cx, args);
    let recorded = check::check(&cx, &parsed, &func);
    match cx.check() {
        Ok(()) => expand::expand(&parsed, &recorded, &func),
        Err(errors) => keep_item(&func, &errors),
    }
}
