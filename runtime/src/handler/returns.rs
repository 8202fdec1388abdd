//! What `#[handler(err)]` looks into: the function's return value, when it is a `Result`. The
//! macro cannot tell an alias (`AppResult<T>`, `anyhow::Result<T>`) from another type by its
//! tokens, so this trait decides, and says so in the user's terms when it is not one. Its
//! `Err` comes out as a type of its own (`ErrRef`), so that when the trait is not implemented
//! the code that reports the error has no type to go wrong on: the one error is the trait's.

use crate::handler::capture::ErrorRef;

/// A return type `#[handler(err)]` can take an `Err` from: every `Result<T, E>`, however it is
/// spelled.
#[diagnostic::on_unimplemented(
    message = "`#[handler(err)]` records `Err` values, but `{Self}` is not a `Result`",
    label = "not a `Result`",
    note = "remove `err`, or return a `Result`"
)]
pub trait ReturnsResult {
    /// The `Err` value, borrowed for the report.
    #[doc(hidden)]
    type ErrRef<'a>
    where
        Self: 'a;
    /// The `Err` value, if it is one.
    #[doc(hidden)]
    fn err_ref(&self) -> Self::ErrRef<'_>;
}

impl<T, E> ReturnsResult for Result<T, E> {
    type ErrRef<'a>
        = Option<ErrorRef<'a, E>>
    where
        Self: 'a;

    #[inline]
    fn err_ref(&self) -> Option<ErrorRef<'_, E>> {
        self.as_ref().err().map(ErrorRef)
    }
}
