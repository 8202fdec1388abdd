//! The rules of `#[derive(SpanAttributes)]`: a struct with named fields, a field's options that
//! agree, and keys that are valid, current (not a renamed semantic-convention key) and used by
//! one field only. Gives each recorded field its full key and how it is recorded.

use crate::ctxt::Ctxt;
use crate::semconv;
use crate::span_attributes::args::{field_args, StructArgs};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, Type};

/// How a field's value becomes attributes.
pub(crate) enum How {
    /// Its `SpanAttributes` impl, under the field's key.
    Value,
    /// A `&'static str`, recorded without a copy.
    StaticStr,
    /// A fixed stand-in instead of the value.
    Redacted,
    /// A nested struct's attributes under the struct's own prefix (not the field's key).
    Flattened,
}

pub(crate) struct Recorded<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    /// The full key, prefix included.
    pub(crate) key: String,
    pub(crate) how: How,
}

pub(crate) fn check<'a>(cx: &Ctxt, input: &'a DeriveInput, args: &StructArgs) -> Vec<Recorded<'a>> {
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
    let mut recorded = Vec::new();
    let mut keys: HashMap<String, Span> = HashMap::new();
    for field in fields.into_iter().flatten() {
        let options = field_args(cx, &field.attrs);
        let (skip, redact, flatten) = (
            options.skip.is_set(),
            options.redact.is_set(),
            options.flatten.is_set(),
        );
        // Each conflict is reported at the later of its two options, where the user added the
        // one that contradicts the other.
        let later = |a: &str, b: &str| {
            let at = |name: &str| options.given.iter().position(|(given, _)| given == name);
            match (at(a), at(b)) {
                (Some(i), Some(j)) => options.given[i.max(j)].1,
                _ => field.span(),
            }
        };
        let conflicts = [
            (
                skip && redact,
                later("skip", "redact"),
                "`skip` and `redact`: a skipped field records nothing to redact; keep one",
            ),
            (
                flatten && options.name.is_set(),
                later("flatten", "name"),
                "`flatten` and `name`: a flattened struct has no key of its own; keep one",
            ),
            (
                flatten && redact,
                later("flatten", "redact"),
                "`flatten` and `redact`: redact the nested struct's fields instead",
            ),
        ];
        for (conflict, span, message) in conflicts {
            if conflict {
                cx.error(span, message);
            }
        }
        if skip {
            continue;
        }
        let Some(ident) = &field.ident else { continue };
        let (relative, key_span) = match options.name.value() {
            Some(name) => (name.value(), name.span()),
            None => (ident.to_string(), ident.span()),
        };
        let key = match args.prefix.value() {
            Some(p) => format!("{}.{relative}", p.value()),
            None => relative,
        };
        if let Some(problem) = semconv::problem(&key) {
            let hint = if options.name.is_set() {
                String::new()
            } else {
                "; give this field a valid key with #[span(name = \"...\")]".to_string()
            };
            cx.error(key_span, format!("{problem}{hint}"));
            continue;
        }
        if !flatten && keys.insert(key.clone(), key_span).is_some() {
            cx.error(
                key_span,
                format!("the key `{key}` is used by two fields; rename one with #[span(name = \"...\")]"),
            );
        }
        let how = if redact {
            How::Redacted
        } else if is_static_str(&field.ty) {
            How::StaticStr
        } else if flatten {
            How::Flattened
        } else {
            How::Value
        };
        recorded.push(Recorded {
            ident,
            ty: &field.ty,
            key,
            how,
        });
    }
    recorded
}

/// `&'static str`, written as such.
fn is_static_str(ty: &Type) -> bool {
    match ty {
        Type::Reference(r) => {
            r.mutability.is_none()
                && r.lifetime.as_ref().is_some_and(|l| l.ident == "static")
                && matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str"))
        }
        _ => false,
    }
}
