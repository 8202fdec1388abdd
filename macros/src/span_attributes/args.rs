//! The `#[span(...)]` options of `#[derive(SpanAttributes)]`, read in the shared grammar into
//! `Attr` slots (an option given twice, in one `#[span(...)]` or across two, is reported by its
//! slot): `prefix = "..."` and `crate = path` on the struct; `name = "..."`, `skip`, `redact` and
//! `flatten` on a field. Which options agree, and the keys they make, are `check.rs`'s.

use crate::ctxt::Ctxt;
use crate::grammar::{self, Arg, Attr};
use crate::suggest::did_you_mean;
use syn::{Attribute, LitStr};

const FIELD_OPTIONS: &[&str] = &["name", "skip", "redact", "flatten"];

#[derive(Default)]
pub(crate) struct StructArgs {
    pub(crate) prefix: Attr<LitStr>,
    pub(crate) krate: Attr<syn::Path>,
}

#[derive(Default)]
pub(crate) struct FieldArgs {
    pub(crate) name: Attr<LitStr>,
    pub(crate) skip: Attr<()>,
    pub(crate) redact: Attr<()>,
    pub(crate) flatten: Attr<()>,
    /// Every option's name where it was given, in order: a conflict is reported at the later.
    pub(crate) given: Vec<(String, proc_macro2::Span)>,
}

pub(crate) fn struct_args(cx: &Ctxt, attrs: &[Attribute]) -> StructArgs {
    let mut args = StructArgs::default();
    for arg in span_args(cx, attrs) {
        match arg.name.to_string().as_str() {
            "prefix" => args.prefix.set(cx, &arg, |cx, arg| {
                grammar::string_literal(cx, arg, "\"checkout\"")
            }),
            "crate" => args.krate.set(cx, &arg, grammar::crate_path),
            other => cx.error(
                arg.name.span(),
                format!(
                    "unknown struct option `{other}`{}: the struct takes #[span(prefix = \"...\")] \
                     and #[span(crate = path::to::forkline)]; `name`, `skip`, `redact` and \
                     `flatten` go on fields",
                    did_you_mean(other, &["prefix", "crate"])
                ),
            ),
        }
    }
    args
}

pub(crate) fn field_args(cx: &Ctxt, attrs: &[Attribute]) -> FieldArgs {
    let mut args = FieldArgs::default();
    for arg in span_args(cx, attrs) {
        args.given.push((arg.name.to_string(), arg.name.span()));
        match arg.name.to_string().as_str() {
            "name" => args.name.set(cx, &arg, |cx, arg| {
                grammar::string_literal(cx, arg, "\"order.id\"")
            }),
            "skip" => args.skip.set(cx, &arg, grammar::flag),
            "redact" => args.redact.set(cx, &arg, grammar::flag),
            "flatten" => args.flatten.set(cx, &arg, grammar::flag),
            other => cx.error(
                arg.name.span(),
                format!(
                    "unknown field option `{other}`{}; known options: name = \"...\", skip, redact, flatten",
                    did_you_mean(other, FIELD_OPTIONS)
                ),
            ),
        }
    }
    args
}

/// The arguments of every `#[span(...)]` among `attrs`, in order.
fn span_args(cx: &Ctxt, attrs: &[Attribute]) -> Vec<Arg> {
    let mut args = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("span")) {
        match attr.meta.require_list() {
            Ok(list) => args.extend(grammar::parse(cx, list.tokens.clone())),
            Err(e) => cx.push(e),
        }
    }
    args
}
