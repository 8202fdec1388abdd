//! HTTP integration (feature `tower`, included in `axum`): a tower layer for server spans and
//! server metrics with the stable HTTP semantic conventions and Sentry capture of 5xx and
//! panics, and the headers side of context propagation for incoming and outgoing requests.

mod headers;
mod host;
mod layer;
mod query;
mod request_of_event;
mod route_names;

pub use headers::{extract, inject, inject_context, HeaderExtractor, HeaderInjector};
pub use layer::{ResponseFuture, TelemetryLayer, TelemetryService};
