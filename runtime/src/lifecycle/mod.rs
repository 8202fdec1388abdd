//! The lifecycle points and their hooks.

pub(crate) mod context;
pub(crate) mod hooks;
pub(crate) mod plan;
pub(crate) mod run;
