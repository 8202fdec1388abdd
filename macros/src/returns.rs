//! What a function's return type says about being a `Result`, for the rule hooks and
//! `#[handler(err)]` share: the macro decides only where the syntax is certain (no return type,
//! `()`, `impl Trait`, a reference, a tuple; `Result<u32, _>` for a hook, whose `Ok` value would be
//! dropped), and leaves every path it cannot see through (`AppResult<T>`, `anyhow::Result<T>`, an
//! alias) to the type system, where a trait of forkline's says what is expected in its own words.

use syn::{GenericArgument, PathArguments, ReturnType, Type};

/// Types that are never a `Result`, however a crate aliases things: the primitives and the
/// standard library's prelude types.
const NOT_RESULTS: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64",
    "i128", "isize", "f32", "f64", "String", "Vec", "Option", "Box",
];

/// The return type, as far as its tokens tell.
pub(crate) enum Shape<'a> {
    /// No return type, or `()`.
    Unit,
    /// `…Result<T, …>` or `…Result<T>`: a path whose last segment is named `Result`, with its
    /// first type argument.
    ResultOf(&'a Type),
    /// A path the tokens cannot see through: an alias, a type of the user's.
    Opaque,
    /// Certainly not a `Result`: `impl Trait`, a reference, a tuple, an array, `!`...
    NotResult(&'a Type),
}

pub(crate) fn shape(output: &ReturnType) -> Shape<'_> {
    let ReturnType::Type(_, ty) = output else {
        return Shape::Unit;
    };
    shape_of(ty)
}

fn shape_of(ty: &Type) -> Shape<'_> {
    match ty {
        Type::Tuple(tuple) if tuple.elems.is_empty() => Shape::Unit,
        Type::Paren(paren) => shape_of(&paren.elem),
        Type::Group(group) => shape_of(&group.elem),
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return Shape::Opaque;
            };
            if last.ident != "Result" {
                // A single well-known name is no alias of a `Result`.
                let known = path.path.segments.len() == 1
                    && NOT_RESULTS.iter().any(|name| last.ident == name);
                return if known {
                    Shape::NotResult(ty)
                } else {
                    Shape::Opaque
                };
            }
            let first = match &last.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
                    GenericArgument::Type(t) => Some(t),
                    _ => None,
                }),
                _ => None,
            };
            first.map_or(Shape::Opaque, Shape::ResultOf)
        }
        Type::Path(_) | Type::Macro(_) | Type::Verbatim(_) => Shape::Opaque,
        other => Shape::NotResult(other),
    }
}

/// The error type of `…Result<T, E>`, when written.
pub(crate) fn error_type(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::Path(path) = &**ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    match &last.arguments {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .filter_map(|a| match a {
                GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .nth(1),
        _ => None,
    }
}

/// Whether `ty` is `()`.
pub(crate) fn is_unit(ty: &Type) -> bool {
    matches!(shape_of(ty), Shape::Unit)
}
