//! What a hook function may look like: checked token by token so every error points at the
//! piece of the signature to change.

use crate::ctxt::Ctxt;
use crate::hook::kind::{HookKind, Param};
use crate::item::ItemFn;
use crate::returns::{self, Shape};
use syn::{FnArg, GenericParam, ReturnType, Type};

pub(crate) struct Signature {
    /// The context each parameter receives, in the user's order, with the span of its type
    /// (so a type mismatch in the generated call points at the parameter).
    pub(crate) params: Vec<(Param, proc_macro2::Span)>,
    pub(crate) is_async: bool,
}

pub(crate) fn check(cx: &Ctxt, kind: HookKind, item: &ItemFn) -> Signature {
    let sig = &item.sig;
    let hook = kind.attr_name();

    if sig.ident == "main" {
        cx.error_spanned(
            &sig.ident,
            format!(
                "#[{hook}] cannot be on `main`: forkline would run `main` again at this lifecycle \
                 point (in every worker, for a worker hook), serving once more from inside the \
                 server; write the hook as a function of its own and keep `main` for building \
                 and serving the server"
            ),
        );
    }
    if let Some(constness) = &sig.constness {
        cx.error_spanned(
            constness,
            format!("#[{hook}] hooks cannot be `const fn`: they run at {}'s lifecycle points; remove `const`", kind.runs_in()),
        );
    }
    if let Some(asyncness) = &sig.asyncness {
        if !kind.allows_async() {
            cx.error_spanned(
                asyncness,
                format!(
                    "#[{hook}] hooks cannot be `async`: {}; remove `async` (async setup belongs \
                     in #[worker_init], which may be async)",
                    kind.why_not_async().map_or_else(
                        || format!(
                            "they run in {} before any async runtime exists there",
                            kind.runs_in()
                        ),
                        str::to_string
                    )
                ),
            );
        }
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned(unsafety, format!("#[{hook}] hooks cannot be `unsafe fn`: forkline calls them with no way to uphold a safety contract"));
    }
    if let Some(abi) = &sig.abi {
        cx.error_spanned(
            abi,
            format!("#[{hook}] hooks use the Rust ABI; remove the `extern` qualifier"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned(variadic, format!("#[{hook}] hooks cannot be variadic"));
    }
    for param in &sig.generics.params {
        let what = match param {
            GenericParam::Lifetime(_) => "lifetime parameters",
            GenericParam::Type(_) => "type parameters",
            GenericParam::Const(_) => "const parameters",
        };
        cx.error_spanned(param, format!("#[{hook}] hooks cannot have {what}: forkline calls one concrete function; remove it"));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        cx.error_spanned(
            where_clause,
            format!("#[{hook}] hooks cannot have a `where` clause"),
        );
    }

    let params = parameters(cx, kind, item);
    return_type(cx, kind, &sig.output);
    Signature {
        params,
        is_async: sig.asyncness.is_some(),
    }
}

fn allowed_list(kind: HookKind) -> String {
    kind.allowed_params()
        .iter()
        .map(|p| format!("`&forkline::{}`", p.type_name()))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn parameters(cx: &Ctxt, kind: HookKind, item: &ItemFn) -> Vec<(Param, proc_macro2::Span)> {
    let hook = kind.attr_name();
    let mut params = Vec::new();
    for input in &item.sig.inputs {
        let ty = match input {
            FnArg::Receiver(receiver) => {
                cx.error_spanned(receiver, format!("#[{hook}] must be on a free function, not a method; move it out of the `impl`"));
                continue;
            }
            FnArg::Typed(pat_type) => &*pat_type.ty,
        };
        match context_param(ty) {
            Some((param, false)) if kind.allowed_params().contains(&param) => {
                if params.iter().any(|(p, _)| *p == param) {
                    cx.error_spanned(
                        ty,
                        format!("`&{}` is taken twice; take it once", param.type_name()),
                    );
                } else {
                    params.push((param, syn::spanned::Spanned::span(ty)));
                }
            }
            Some((param, true)) if kind.allowed_params().contains(&param) => cx.error_spanned(
                ty,
                format!(
                    "take `&{}` (a shared reference), not `&mut {}`, `{}` by value or `Box<…>`",
                    param.type_name(),
                    param.type_name(),
                    param.type_name()
                ),
            ),
            Some((param, _)) => cx.error_spanned(
                ty,
                format!(
                    "#[{hook}] runs in {} and does not receive `{}`; it may take {}",
                    kind.runs_in(),
                    param.type_name(),
                    allowed_list(kind)
                ),
            ),
            None => cx.error_spanned(
                ty,
                format!(
                    "#[{hook}] hooks take only lifecycle context: {} (or nothing)",
                    allowed_list(kind)
                ),
            ),
        }
    }
    params
}

/// Recognises `&Worker`, `&forkline::Worker`, ... The bool is true when the shape is wrong
/// (`&mut`, by value). The generated call checks the real type; this gives the better message.
fn context_param(ty: &Type) -> Option<(Param, bool)> {
    match ty {
        Type::Reference(reference) => {
            let (param, _) = context_param(&reference.elem)?;
            Some((param, reference.mutability.is_some()))
        }
        Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            Param::from_ident(&last.ident.to_string()).map(|p| (p, true))
        }
        Type::Paren(paren) => context_param(&paren.elem),
        Type::Group(group) => context_param(&group.elem),
        _ => None,
    }
}

/// A hook returns `()` or `Result<(), E>`: what the tokens show for certain is checked here,
/// the rest (an alias such as `forkline::Result<()>` or `AppResult`) by `HookReturn`, at the
/// return type.
fn return_type(cx: &Ctxt, kind: HookKind, output: &ReturnType) {
    let hook = kind.attr_name();
    match returns::shape(output) {
        Shape::Unit | Shape::Opaque => {}
        Shape::ResultOf(ok) if returns::is_unit(ok) => {}
        Shape::ResultOf(ok) => cx.error_spanned(
            ok,
            format!(
                "#[{hook}] hooks return `()` or `Result<(), E>`: nothing takes an `Ok` value; \
                 return `Ok(())` (an `Err` {})",
                kind.on_err()
            ),
        ),
        Shape::NotResult(ty) => cx.error_spanned(
            ty,
            format!(
                "#[{hook}] hooks return `()` or `Result<(), E>` (E: Display); an `Err` {}",
                kind.on_err()
            ),
        ),
    }
}
