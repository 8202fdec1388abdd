//! `#[derive(SpanAttributes)]`: each field of a struct becomes a span attribute under its name
//! (or `#[span(name = "...")]`), checked at compile time against the attribute key rules and the
//! renamed semantic-convention keys. `#[span(skip)]` leaves a field out, `#[span(redact)]`
//! records a fixed stand-in instead of the value, a nested struct's attributes are prefixed with
//! its field's key (`#[span(flatten)]`: not prefixed), `#[span(prefix = "...")]` on the struct
//! prefixes every key.

use crate::ctxt::{keep_item, Ctxt};
use crate::grammar::{self, Arg, Attr};
use crate::suggest::did_you_mean;
use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr};

#[derive(Default)]
struct FieldOptions {
    name: Attr<LitStr>,
    skip: Attr<()>,
    redact: Attr<()>,
    flatten: Attr<()>,
}

struct FieldAttrs {
    name: Option<LitStr>,
    skip: bool,
    redact: bool,
    flatten: bool,
}

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let prefix = struct_prefix(&cx, &input);
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => Some(&named.named),
            _ => {
                cx.error(
                    input.ident.span(),
                    "#[derive(SpanAttributes)] needs named fields: attribute keys come from field \
                     names (a tuple struct has none); name the fields, or implement \
                     `forkline::SpanAttributes` by hand for a single value",
                );
                None
            }
        },
        _ => {
            cx.error(
                input.ident.span(),
                "#[derive(SpanAttributes)] is for structs with named fields; for an enum, \
                 implement `forkline::SpanAttributes` by hand (for example recording its name as \
                 a string under `key.key()`)",
            );
            None
        }
    };
    let mut statements = Vec::new();
    let mut keys: HashMap<String, Span> = HashMap::new();
    for field in fields.into_iter().flatten() {
        let attrs = field_attrs(&cx, field);
        if attrs.skip {
            continue;
        }
        let Some(ident) = &field.ident else { continue };
        let (relative, key_span) = match &attrs.name {
            Some(name) => (name.value(), name.span()),
            None => (ident.to_string(), ident.span()),
        };
        let key = match &prefix {
            Some(p) => format!("{}.{relative}", p.value()),
            None => relative,
        };
        if let Some(problem) = crate::semconv::problem(&key) {
            let hint = if attrs.name.is_none() {
                "; give this field a valid key with #[span(name = \"...\")]".to_string()
            } else {
                String::new()
            };
            cx.error(key_span, format!("{problem}{hint}"));
            continue;
        }
        if !attrs.flatten && keys.insert(key.clone(), key_span).is_some() {
            cx.error(
                key_span,
                format!("the key `{key}` is used by two fields; rename one with #[span(name = \"...\")]"),
            );
        }
        let ty = &field.ty;
        let static_str = is_static_str(ty);
        let stmt = if attrs.redact {
            quote_spanned! {ty.span()=>
                __forkline_out.push(::forkline::__private::handler::KeyValue::new(
                    match __forkline_key.prefix() {
                        ::core::option::Option::None => ::forkline::opentelemetry::Key::from_static_str(#key),
                        ::core::option::Option::Some(_) => ::forkline::opentelemetry::Key::from(__forkline_key.join(#key)),
                    },
                    ::forkline::__private::handler::REDACTED,
                ));
            }
        } else if static_str {
            // A `&'static str` needs no copy.
            quote_spanned! {ty.span()=>
                ::forkline::__private::handler::record_static(
                    self.#ident,
                    match __forkline_key.prefix() {
                        ::core::option::Option::None => ::forkline::__private::handler::AttributeKey::Field(#key),
                        ::core::option::Option::Some(_) => ::forkline::__private::handler::AttributeKey::Joined(__forkline_key.join(#key)),
                    },
                    __forkline_out,
                );
            }
        } else if attrs.flatten {
            quote_spanned! {ty.span()=>
                ::forkline::SpanAttributes::record(&self.#ident, ::core::clone::Clone::clone(&__forkline_key), __forkline_out);
            }
        } else {
            quote_spanned! {ty.span()=>
                match __forkline_key.prefix() {
                    ::core::option::Option::None => ::forkline::SpanAttributes::record(
                        &self.#ident,
                        ::forkline::__private::handler::AttributeKey::Field(#key),
                        __forkline_out,
                    ),
                    ::core::option::Option::Some(_) => ::forkline::SpanAttributes::record(
                        &self.#ident,
                        ::forkline::__private::handler::AttributeKey::Joined(__forkline_key.join(#key)),
                        __forkline_out,
                    ),
                }
            }
        };
        statements.push(stmt);
    }
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let item = quote! {
        #[automatically_derived]
        impl #impl_generics ::forkline::SpanAttributes for #ident #ty_generics #where_clause {
            fn record(
                &self,
                __forkline_key: ::forkline::__private::handler::AttributeKey,
                __forkline_out: &mut ::std::vec::Vec<::forkline::__private::handler::KeyValue>,
            ) {
                #(#statements)*
            }
        }
    };
    match cx.check() {
        Ok(()) => item,
        // Still emit the impl (with the valid fields) so that uses elsewhere do not cascade.
        Err(errors) => keep_item(item, &errors),
    }
}

/// `&'static str`, written as such.
fn is_static_str(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(r) => {
            r.mutability.is_none()
                && r.lifetime.as_ref().is_some_and(|l| l.ident == "static")
                && matches!(&*r.elem, syn::Type::Path(p) if p.path.is_ident("str"))
        }
        _ => false,
    }
}

/// The arguments of every `#[span(...)]` among `attrs`, in order, in the shared grammar.
fn span_args(cx: &Ctxt, attrs: &[syn::Attribute]) -> Vec<Arg> {
    let mut args = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("span")) {
        match attr.meta.require_list() {
            Ok(list) => args.extend(grammar::parse(cx, list.tokens.clone())),
            Err(e) => cx.push(e),
        }
    }
    args
}

fn struct_prefix(cx: &Ctxt, input: &DeriveInput) -> Option<LitStr> {
    let mut prefix = Attr::default();
    for arg in span_args(cx, &input.attrs) {
        match arg.name.to_string().as_str() {
            "prefix" => prefix.set(cx, &arg, |cx, arg| {
                grammar::string_literal(cx, arg, "\"checkout\"")
            }),
            other => cx.error(
                arg.name.span(),
                format!(
                    "unknown struct option `{other}`: #[span(prefix = \"...\")] is the one option on \
                     the struct; `name`, `skip`, `redact` and `flatten` go on fields"
                ),
            ),
        }
    }
    prefix.value().cloned()
}

fn field_attrs(cx: &Ctxt, field: &syn::Field) -> FieldAttrs {
    let mut options = FieldOptions::default();
    for arg in span_args(cx, &field.attrs) {
        match arg.name.to_string().as_str() {
            "name" => options.name.set(cx, &arg, |cx, arg| {
                grammar::string_literal(cx, arg, "\"order.id\"")
            }),
            "skip" => options.skip.set(cx, &arg, grammar::flag),
            "redact" => options.redact.set(cx, &arg, grammar::flag),
            "flatten" => options.flatten.set(cx, &arg, grammar::flag),
            other => cx.error(
                arg.name.span(),
                format!(
                    "unknown field option `{other}`{}; known options: name = \"...\", skip, redact, flatten",
                    did_you_mean(other, &["name", "skip", "redact", "flatten"])
                ),
            ),
        }
    }
    let attrs = FieldAttrs {
        name: options.name.value().cloned(),
        skip: options.skip.is_set(),
        redact: options.redact.is_set(),
        flatten: options.flatten.is_set(),
    };
    let conflicts = [
        (
            attrs.skip && attrs.redact,
            "`skip` and `redact`: a skipped field records nothing to redact; keep one",
        ),
        (
            attrs.flatten && attrs.name.is_some(),
            "`flatten` and `name`: a flattened struct has no key of its own; keep one",
        ),
        (
            attrs.flatten && attrs.redact,
            "`flatten` and `redact`: redact the nested struct's fields instead",
        ),
    ];
    for (conflict, message) in conflicts {
        if conflict {
            cx.error(field.span(), message);
        }
    }
    attrs
}
