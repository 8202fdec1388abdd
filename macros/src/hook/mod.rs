//! The lifecycle hooks (`#[post_fork(...)]` and the others): reads the function (`item.rs`) and
//! the arguments, checks both, and registers the function with the runtime; on any error, the
//! function as written and every error.

mod args;
mod check;
mod expand;
mod guard;
pub(crate) mod kind;
mod signature;
mod value;

use crate::ctxt::{keep_item, Ctxt};
use crate::item::parse_fn;
use crate::private::Private;
use kind::HookKind;
use proc_macro2::{Span, TokenStream};

pub(crate) fn hook(kind: HookKind, args: TokenStream, item: TokenStream) -> TokenStream {
    let not_a_fn = format!(
        "#[{}] goes on a function: `fn name(worker: &forkline::Worker) {{ ... }}`",
        kind.attr_name()
    );
    let func = match parse_fn(item, &not_a_fn) {
        Ok(func) => func,
        Err(tokens) => return tokens,
    };

    let cx = Ctxt::new();
    let parsed = args::parse(&cx, kind, args);
    check::check(&cx, &parsed);
    let sig = signature::check(&cx, kind, &func);
    let p = Private::new(parsed.krate.value(), kind.attr_name());
    if let Some(problem) = p.problem() {
        cx.error(Span::call_site(), problem);
    }
    match cx.check() {
        Ok(()) => expand::expand(&p, kind, &parsed, &sig, &func),
        Err(errors) => keep_item(&func, &errors),
    }
}
