//! Rules between `#[handler(...)]` arguments and the function they instrument: which arguments
//! exist, which are recorded, that attribute keys are valid and unique, that `err` has a
//! `Result` to look at, and what kind of function can carry a span.

use crate::ctxt::Ctxt;
use crate::handler::args::HandlerArgs;
use crate::item::ItemFn;
use crate::returns::{self, Shape};
use crate::semconv;
use proc_macro2::Span;
use std::collections::HashMap;
use syn::{FnArg, Ident, Pat, ReturnType, Type};

/// The function's arguments that will be recorded, by binding name.
pub(crate) struct Recorded {
    pub(crate) bindings: Vec<Ident>,
}

pub(crate) fn check(cx: &Ctxt, args: &HandlerArgs, func: &ItemFn) -> Recorded {
    let sig = &func.sig;
    if let Some(constness) = &sig.constness {
        cx.error(
            constness.span,
            "#[forkline::handler] cannot instrument a `const fn`: a span is made at run time; remove `const` or the attribute",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned(
            abi,
            "#[forkline::handler] does not instrument `extern` functions; wrap the call in a Rust function",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned(
            variadic,
            "#[forkline::handler] cannot instrument a variadic function",
        );
    }

    // Every binding the arguments introduce, in order (`self` is never recorded).
    let mut bindings: Vec<Ident> = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input {
            collect_bindings(&typed.pat, &mut bindings);
        }
    }

    let skip = args.skip.value().map_or(&[][..], Vec::as_slice);
    if let (true, Some(first)) = (args.skip_all.is_set(), skip.first()) {
        cx.error(
            first.span(),
            "`skip_all` already leaves out every argument: remove `skip(...)` or `skip_all`",
        );
    }
    let mut skipped = HashMap::new();
    for name in skip {
        if name == "self" {
            continue;
        }
        if !bindings.iter().any(|b| b == name) {
            let known: Vec<String> = bindings.iter().map(ToString::to_string).collect();
            cx.error(
                name.span(),
                if known.is_empty() {
                    format!("`skip({name})`: this function takes no arguments to skip; remove it")
                } else {
                    format!(
                        "`skip({name})`: no argument is named `{name}`; the arguments are: {}",
                        known.join(", ")
                    )
                },
            );
        } else if skipped.insert(name.to_string(), name.span()).is_some() {
            cx.error(
                name.span(),
                format!("`{name}` is skipped twice; remove one"),
            );
        }
    }
    let recorded: Vec<Ident> = if args.skip_all.is_set() {
        Vec::new()
    } else {
        bindings
            .iter()
            .filter(|b| !skipped.contains_key(&b.to_string()))
            .cloned()
            .collect()
    };

    // Keys: valid, current, and each recorded once.
    let mut keys: HashMap<String, Span> =
        recorded.iter().map(|b| (b.to_string(), b.span())).collect();
    for field in args.fields.value().into_iter().flatten() {
        if let Some(problem) = semconv::problem(&field.key) {
            cx.error(field.key_span, problem);
        } else if keys.insert(field.key.clone(), field.key_span).is_some() {
            cx.error(
                field.key_span,
                format!(
                    "`{}` is recorded twice: an argument of that name is already recorded (or the key \
                     is listed twice); `skip({})` the argument or rename the field",
                    field.key, field.key
                ),
            );
        }
    }
    for binding in &recorded {
        let name = binding.to_string();
        if let Some(problem) = semconv::problem(&name) {
            cx.error(
                binding.span(),
                format!(
                    "argument `{name}` would be recorded under its name, but {problem}; \
                     `skip({name})` it and record it with `fields(key = {name})`"
                ),
            );
        }
    }

    if let Some(err) = args.err.get() {
        // Certain from the tokens alone; an alias or a type of the user's is left to the type
        // system (`ReturnsResult`, at the return type).
        let certainly_not = match returns::shape(&sig.output) {
            Shape::Unit => Some("returns nothing"),
            Shape::NotResult(_) => Some("does not return a `Result`"),
            Shape::ResultOf(_) | Shape::Opaque => None,
        };
        if let Some(why) = certainly_not {
            cx.error(
                err.name_span,
                format!(
                    "`err` records `Err` values, but `{}` {why}; remove `err`",
                    sig.ident
                ),
            );
        }
    }
    Recorded { bindings: recorded }
}

fn collect_bindings(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.clone());
            if let Some((_, sub)) = &p.subpat {
                collect_bindings(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| collect_bindings(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| collect_bindings(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| collect_bindings(&f.pat, out)),
        Pat::Reference(r) => collect_bindings(&r.pat, out),
        Pat::Slice(s) => s.elems.iter().for_each(|p| collect_bindings(p, out)),
        Pat::Paren(p) => collect_bindings(&p.pat, out),
        Pat::Type(t) => collect_bindings(&t.pat, out),
        _ => {}
    }
}

/// Whether the return type can be written as a `let` annotation (not `impl Trait`).
pub(crate) fn nameable(output: &ReturnType) -> bool {
    fn nameable_type(ty: &Type) -> bool {
        match ty {
            Type::ImplTrait(_) | Type::Infer(_) => false,
            Type::Reference(r) => nameable_type(&r.elem),
            Type::Tuple(t) => t.elems.iter().all(nameable_type),
            Type::Paren(p) => nameable_type(&p.elem),
            Type::Path(p) => p.path.segments.iter().all(|s| match &s.arguments {
                syn::PathArguments::AngleBracketed(a) => a.args.iter().all(|arg| match arg {
                    syn::GenericArgument::Type(t) => nameable_type(t),
                    _ => true,
                }),
                _ => true,
            }),
            _ => true,
        }
    }
    match output {
        ReturnType::Default => true,
        ReturnType::Type(_, ty) => nameable_type(ty),
    }
}
