//! `#[derive(SpanAttributes)]`: each field of a struct becomes a span attribute under its name
//! (or `#[span(name = "...")]`), checked at compile time against the attribute key rules and the
//! renamed semantic-convention keys. `#[span(skip)]` leaves a field out, `#[span(redact)]`
//! records a fixed stand-in instead of the value, a nested struct's attributes are prefixed with
//! its field's key (`#[span(flatten)]`: not prefixed), `#[span(prefix = "...")]` on the struct
//! prefixes every key (`#[span(crate = path)]`: forkline renamed). Options are read in `args.rs`,
//! checked in `check.rs`, and the impl is generated in `expand.rs`, even with errors (with the
//! valid fields), so that uses elsewhere do not cascade.

mod args;
mod check;
mod expand;

use crate::ctxt::{keep_item, Ctxt};
use crate::private::Private;
use proc_macro2::{Span, TokenStream};
use syn::DeriveInput;

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let args = args::struct_args(&cx, &input.attrs);
    let recorded = check::check(&cx, &input, &args);
    let p = Private::new(args.krate.value(), "span");
    if let Some(problem) = p.problem() {
        cx.error(Span::call_site(), problem);
    }
    let item = expand::expand(&input, &p, &recorded);
    match cx.check() {
        Ok(()) => item,
        // Still emit the impl (with the valid fields) so that uses elsewhere do not cascade.
        Err(errors) => keep_item(item, &errors),
    }
}
