//! Request handler instrumentation: the runtime side of `#[forkline::handler]` and
//! `#[derive(forkline::SpanAttributes)]`.
//!
//! # The exception type of `#[handler(err)]`
//!
//! An `Err` is recorded on the handler's span (an `exception` event) and sent to Sentry under
//! one type, by one rule:
//!
//! - an error of a concrete type is named after that type as Rust spells it, never after an
//!   enum variant: the Sentry exception's `type` is the type's name and its `module` the type's
//!   path, and the span's `exception.type` is `module::type`. For
//!   `inventory::InventoryError::NotFound`: Sentry `type = "InventoryError"`,
//!   `module = "inventory"`; span `exception.type = "inventory::InventoryError"`. Generic
//!   parameters are left out (`my::Error<String>` → `my::Error`);
//! - an error behind `dyn Error` (`Box<dyn Error>`, `anyhow::Error` with the `anyhow` feature)
//!   has no static type: both sides use the name Sentry's `event_from_error` reads from its
//!   `Debug` output (`Error` when that is only the message), with no module;
//! - the causes (`source()`) are further exceptions in Sentry, named from their `Debug`
//!   output as Sentry does.
//!
//! # The request of an error event
//!
//! Behind `forkline::http::TelemetryLayer` (feature `tower`), the event also
//! carries the route template as its `transaction` and the request (method, URL, headers) as
//! its `request`, without cookies, credential headers or query values unless Sentry's
//! `send_default_pii` is on.

pub(crate) mod attributes;
pub(crate) mod capture;
pub(crate) mod error_event;
pub(crate) mod metrics;
pub(crate) mod returns;
pub(crate) mod span;
pub(crate) mod unwind;

pub use attributes::{AttributeKey, SpanAttributes, SpanValue, MAX_VALUE_BYTES};
pub use error_event::{capture_stacks, STACKTRACE_TAG};
pub use returns::ReturnsResult;
pub use span::HandlerSpan;
pub use unwind::Instrumented;
