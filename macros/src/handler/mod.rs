//! `#[forkline::handler]`: an OTel span around a request handler, through the global provider.
//! Reads the function (`item.rs`) and the arguments, checks them against each other, and
//! generates the instrumented function; on any error, the function as written and every error.

mod args;
mod check;
mod expand;

use crate::ctxt::{keep_item, Ctxt};
use crate::item::parse_fn;
use crate::private::Private;
use proc_macro2::{Span, TokenStream};

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
    let p = Private::new(parsed.krate.value(), "handler");
    if let Some(problem) = p.problem() {
        cx.error(Span::call_site(), problem);
    }
    match cx.check() {
        Ok(()) => expand::expand(&p, &parsed, &recorded, &func),
        Err(errors) => keep_item(&func, &errors),
    }
}
