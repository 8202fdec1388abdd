//! Request handler instrumentation: the runtime side of `#[forkline::handler]` and
//! `#[derive(forkline::SpanAttributes)]`.

pub(crate) mod attributes;
pub(crate) mod capture;
pub(crate) mod error_event;
pub(crate) mod span;
pub(crate) mod unwind;

pub use crate::telemetry::tracer_cache::provider_installed;
pub use attributes::{AttributeKey, SpanAttributes, SpanValue, MAX_VALUE_BYTES};
pub use error_event::{capture_stacks, STACKTRACE_TAG};
pub use span::HandlerSpan;
pub use unwind::Instrumented;
