//! Attribute macros for [forkline](https://docs.rs/forkline): lifecycle hooks for pre-fork
//! servers that generate a correctly ordered OpenTelemetry + Sentry setup, `#[handler]` spans and
//! `#[derive(SpanAttributes)]`. This file holds the entry points only.
//!
//! Use them through the `forkline` crate (`#[forkline::post_fork(...)]`). Generated code reaches
//! forkline through its `__private::v1`, under the name the user's Cargo.toml gives forkline;
//! where forkline is re-exported by another crate, every macro takes `crate = path`
//! (`#[post_fork(crate = my::forkline)]`, `#[handler(crate = my::forkline)]`,
//! `#[span(crate = my::forkline)]` on a derived struct).
//!
//! Layers, each importing only those below it: `ctxt`, `suggest`, `semconv` and `private`;
//! `grammar` (the argument grammar), `item` (the function a macro is on) and `returns` (what a
//! return type shows of being a `Result`); then one folder a
//! macro (`hook/`, `handler/`, `span_attributes/`), each reading its arguments (`args.rs`),
//! checking them (`check.rs`) and generating code (`expand.rs`); then this file.

#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod ctxt;
mod grammar;
mod handler;
mod hook;
mod item;
mod private;
mod returns;
mod semconv;
mod span_attributes;
mod suggest;

use hook::kind::HookKind;
use proc_macro::TokenStream;

/// Master, once, before the listening socket is bound. No telemetry threads or sockets here.
///
/// The master hooks (`on_starting`, `when_ready`, `pre_fork`, `on_reload`, `nworkers_changed`,
/// `child_exit`, `on_exit`) and `worker_int` / `worker_abort` take one argument only: `crate =
/// path`, where forkline is re-exported by another crate (default: forkline under its name in
/// Cargo.toml). They take `&forkline::Master` (the master hooks) or `&forkline::Worker` (the
/// worker ones), or nothing.
///
/// ```no_run
/// #[forkline::on_starting]
/// fn starting(master: &forkline::Master) {
///     let _ = master.pid();
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn on_starting(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::OnStarting, args.into(), item.into()).into()
}

/// Master, after the listening socket is bound and before the first fork. Takes
/// `&forkline::Master` or nothing; its only argument is `crate = path` (see `on_starting`).
///
/// ```no_run
/// #[forkline::when_ready]
/// fn ready(master: &forkline::Master) {
///     eprintln!("serving on {:?}", master.local_addr());
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn when_ready(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WhenReady, args.into(), item.into()).into()
}

/// Master, right before each fork (`Master::forking_worker` tells which worker). Takes
/// `&forkline::Master` or nothing; its only argument is `crate = path`.
///
/// ```no_run
/// #[forkline::pre_fork]
/// fn before(master: &forkline::Master) {
///     eprintln!("forking worker {:?}", master.forking_worker());
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn pre_fork(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::PreFork, args.into(), item.into()).into()
}

/// Worker, right after fork, single-threaded: builds the OTel base (resource, sampler, exporter,
/// tracer provider with a late-bound processor slot) from its arguments, then runs the function.
/// At most one per binary. The function takes `&forkline::Worker` (or nothing) and returns `()`
/// or a `Result` whose `Err` is a boot failure.
///
/// Every argument is optional; a standard variable, where one exists, overrides it, and code
/// (`Server::telemetry`) overrides both:
///
/// | argument | type | default | meaning |
/// |---|---|---|---|
/// | `service_name` | string literal | your crate's name | `service.name` (`OTEL_SERVICE_NAME`) |
/// | `service_version` | string literal | your crate's version | `service.version` |
/// | `environment` | string literal | the profile's name | `deployment.environment.name`, and Sentry's environment unless it has its own |
/// | `sampler` | string literal | `parentbased_always_on` (development), `parentbased_traceidratio` (production) | an `OTEL_TRACES_SAMPLER` name: `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` |
/// | `ratio` | float in [0, 1] | 1.0 (development), 0.1 (production) | the ratio of the ratio samplers (`OTEL_TRACES_SAMPLER_ARG`); an error on the others |
/// | `exporter` | `"otlp"`, `"embedded"`, `"none"` | `otlp` with an endpoint, else `embedded` (files in the run folder) | `OTEL_TRACES_EXPORTER` |
/// | `endpoint` | string literal, `http(s)://` URL | none | the OTLP base endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`); `/v1/traces` is appended for HTTP |
/// | `guard(...)` | nested | the profile's | the OTLP path's protection against a failing collector: `connect_timeout_ms` (1000), `attempt_timeout_ms` (5000), `backoff_base_ms` (100), `backoff_cap_ms` (5000), `breaker_failures` (5), `breaker_cooldown_ms` (2000 development, 10000 production), `queue_capacity` (1024 spans), `buffer_budget_bytes` (64 MiB of encoded spans kept through an outage) |
/// | `metrics(exporter = ...)` | `"otlp"`, `"embedded"`, `"none"` | as for spans | where the worker's metrics go (`OTEL_METRICS_EXPORTER`) |
/// | `metrics(interval_ms = ...)` | integer, 1 to 86 400 000 | 60 000 | how often metrics are collected and exported (`OTEL_METRIC_EXPORT_INTERVAL`) |
/// | `metrics(timeout_ms = ...)` | integer, 1 to 600 000 | 30 000 | the longest one export may take (`OTEL_METRIC_EXPORT_TIMEOUT`) |
/// | `metrics(temporality = ...)` | `"cumulative"`, `"delta"`, `"lowmemory"` | `cumulative` | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` |
/// | `logs(exporter = ...)` | `"otlp"`, `"embedded"`, `"none"` | as for spans | where the worker's log records go (`OTEL_LOGS_EXPORTER`) |
/// | `logs(level = ...)` | RUST_LOG-style filter: `"info"`, `"warn,my_crate=debug"` | `info` | which `tracing` events become log records (feature `tracing`; `RUST_LOG`) |
/// | `logs(schedule_delay_ms = ...)` | integer, 1 to 600 000 | 1000 | the longest a record waits for its batch (`OTEL_BLRP_SCHEDULE_DELAY`) |
/// | `crate` | path | forkline, as Cargo.toml names it | where another crate re-exports forkline |
///
/// ```no_run
/// #[forkline::post_fork(
///     service_name = "checkout",
///     sampler = "parentbased_traceidratio",
///     ratio = 0.25,
///     guard(attempt_timeout_ms = 2000, breaker_failures = 3),
///     metrics(interval_ms = 10000),
///     logs(level = "info"),
/// )]
/// fn otel(worker: &forkline::Worker) {
///     let _ = worker.id();
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn post_fork(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::PostFork, args.into(), item.into()).into()
}

/// Worker main thread, after its runtime starts: `sentry::init` (from `sentry(...)`), the Sentry
/// span processor into the late-bound slot, then the propagators; then runs the function (it may
/// be `async`). At most one per binary; takes `&forkline::Worker` (or nothing).
///
/// | argument | type | default | meaning |
/// |---|---|---|---|
/// | `sentry` or `sentry(...)` | flag or nested | Sentry from the environment | the Sentry client; the nested options below, each overridden by its `SENTRY_*` variable and by code |
/// | `sentry(enabled = ...)` | bool | `true` | `false` leaves Sentry off |
/// | `sentry(dsn = ...)` | `"literal"` or `env("VAR")` | `SENTRY_DSN` | the DSN; none (or `""`): events go to the run folder |
/// | `sentry(environment = ...)` | string literal | the OTel environment | Sentry's environment (`SENTRY_ENVIRONMENT`) |
/// | `sentry(release = ...)` | string literal | `<your crate>@<version>` | Sentry's release (`SENTRY_RELEASE`) |
/// | `sentry(traces_sample_rate = ...)` | float in [0, 1] | 1.0 (development), 0.1 (production) | share of transactions sent (`SENTRY_TRACES_SAMPLE_RATE`) |
/// | `sentry(sample_rate = ...)` | float in [0, 1] | 1.0 | share of error events sent (`SENTRY_SAMPLE_RATE`) |
/// | `sentry(debug = ...)` | bool | `false` | Sentry's debug logging (`SENTRY_DEBUG`) |
/// | `sentry(guard(...))` | nested | the profile's | the Sentry transport's protection: as `post_fork`'s `guard(...)` without `buffer_budget_bytes`, plus `max_retries` (3) per envelope |
/// | `propagators` | string literal | `"tracecontext,baggage,sentry"` | the propagators installed, in order (`OTEL_PROPAGATORS`); `"none"` for none |
/// | `crate` | path | forkline, as Cargo.toml names it | where another crate re-exports forkline |
///
/// ```no_run
/// #[forkline::worker_init(
///     sentry(dsn = env("SENTRY_DSN"), traces_sample_rate = 1.0, guard(max_retries = 1)),
///     propagators = "tracecontext,baggage",
/// )]
/// async fn telemetry(worker: &forkline::Worker) {
///     let _ = worker.id();
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn worker_init(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerInit, args.into(), item.into()).into()
}

/// Worker, on graceful stop: runs the function (it may be `async`), then flushes and shuts down
/// all telemetry within one total deadline. At most one per binary; takes `&forkline::Worker`.
///
/// | argument | type | default | meaning |
/// |---|---|---|---|
/// | `deadline_ms` | integer, 1 to 600000 | 2000 (development), 5000 (production) | the one deadline for the OTel and Sentry flush and shutdown together |
/// | `crate` | path | forkline, as Cargo.toml names it | where another crate re-exports forkline |
///
/// ```no_run
/// #[forkline::worker_exit(deadline_ms = 2000)]
/// fn bye(worker: &forkline::Worker) {
///     let _ = worker.id();
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn worker_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerExit, args.into(), item.into()).into()
}

/// Master, after a worker has been reaped. Takes `&forkline::Master` and
/// `&forkline::WorkerExit` (worker id, pid, exit status), each optional; its only argument is
/// `crate = path`.
///
/// ```no_run
/// #[forkline::child_exit]
/// fn gone(_master: &forkline::Master, exit: &forkline::WorkerExit) {
///     eprintln!("worker {} (pid {}) exited: {:?}", exit.worker_id, exit.pid, exit.status);
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn child_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::ChildExit, args.into(), item.into()).into()
}

/// Master, on HUP, before the new workers are forked (Gunicorn's `on_reload`). Each old worker is
/// then asked to stop once its replacement is ready. Takes `&forkline::Master` or nothing; its only
/// argument is `crate = path`.
///
/// ```no_run
/// #[forkline::on_reload]
/// fn reloading() -> Result<(), std::io::Error> {
///     std::fs::metadata("/etc/hosts").map(drop) // an `Err` is logged; the HUP goes on
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn on_reload(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::OnReload, args.into(), item.into()).into()
}

/// Master, after TTIN or TTOU changed the number of workers (Gunicorn's
/// `nworkers_changed(arbiter, new_value, old_value)`): takes `&forkline::Master` and
/// `&forkline::WorkersChanged` (`new`, `old`), each optional; its only argument is `crate = path`.
///
/// ```no_run
/// #[forkline::nworkers_changed]
/// fn resized(changed: &forkline::WorkersChanged) {
///     eprintln!("{} workers, was {}", changed.new, changed.old);
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn nworkers_changed(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::NWorkersChanged, args.into(), item.into()).into()
}

/// Worker, when it receives INT or QUIT (a quick stop), on its main thread once it stopped
/// serving, before `worker_exit` (Gunicorn's `worker_int`). Takes `&forkline::Worker` or
/// nothing; its only argument is `crate = path`.
///
/// ```no_run
/// #[forkline::worker_int]
/// fn interrupted(worker: &forkline::Worker) {
///     eprintln!("worker {} interrupted", worker.id());
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn worker_int(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerInt, args.into(), item.into()).into()
}

/// Worker, when the master aborts it for its `timeout` (ABRT), on the worker's abort thread while
/// its runtime is stuck, before the telemetry flush (Gunicorn's `worker_abort`). Takes
/// `&forkline::Worker` or nothing; keep it short and lock-free: the stuck runtime may hold any
/// lock. Its only argument is `crate = path`.
///
/// ```no_run
/// #[forkline::worker_abort]
/// fn aborted(worker: &forkline::Worker) {
///     eprintln!("worker {} timed out", worker.id());
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn worker_abort(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::WorkerAbort, args.into(), item.into()).into()
}

/// Master, just before it exits. Takes `&forkline::Master` or nothing; its only argument is
/// `crate = path`.
///
/// ```no_run
/// #[forkline::on_exit]
/// fn goodbye(master: &forkline::Master) {
///     eprintln!("master {} exits", master.pid());
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn on_exit(args: TokenStream, item: TokenStream) -> TokenStream {
    hook::hook(HookKind::OnExit, args.into(), item.into()).into()
}

/// An OpenTelemetry span around a handler (`fn` or `async fn`, free function or method), made
/// through the global tracer provider and active for the whole body (across `.await`). The span
/// ends when the call returns, panics (recorded on the span, then resumed) or is cancelled.
/// Under an unsampled parent (with forkline's parent-based samplers) no span is made. The
/// function's signature, attributes, `#[must_use]` and lints are kept.
///
/// # Arguments
///
/// All optional, in any order, each at most once:
///
/// | argument | type | default | meaning |
/// |---|---|---|---|
/// | `name = "..."` | string literal, not empty | the function's name | the span's name |
/// | `kind = "..."` | `"server"`, `"client"`, `"internal"`, `"producer"` or `"consumer"` | decided per call, see below | the span's kind |
/// | `skip(a, b, ...)` | the function's argument names | nothing skipped | arguments not recorded (`self` never is) |
/// | `skip_all` | flag | off | no argument recorded (not together with `skip`) |
/// | `fields(key = expr, ...)` | keys `a.b.c` or `"a.b"`; any expression; a bare `name` records the variable `name` | none | extra attributes, evaluated when the call starts |
/// | `err` | flag, on a function returning `Result` | off | an `Err` sets the span's status to error, adds an `exception` event, and is sent to Sentry linked to the span |
/// | `metrics` | flag | off | each call's duration in the histogram `forkline.handler.duration` (seconds, the HTTP conventions' buckets) by `code.function.name` (the span's name), and `error.type = "panic"` for a call that panicked; recorded through the worker's meter provider |
/// | `crate = path` | path | forkline, as Cargo.toml names it | where another crate re-exports forkline |
///
/// **`kind`'s default** is decided per call: `server` when the handler starts the trace in this
/// process (no active span, or only a parent extracted from another process's headers), and
/// `internal` under a span of this process — `forkline::http::TelemetryLayer`'s server span, or
/// an outer handler's — so a request has one SERVER span. An explicit `kind` always wins.
///
/// **Arguments as attributes**: each argument not skipped is recorded under its name: numbers,
/// strings, `bool`, `char`, `Option` (nothing when `None`), slices and `Vec`s of values, and
/// references, `Box` and `Arc` of those. A struct deriving
/// [`SpanAttributes`](derive@SpanAttributes) is recorded under its own keys. Any other type is a
/// compile error naming `SpanAttributes`: `skip` it, or record a part of it with `fields`. Keys
/// are checked at compile time (shape, and renamed semantic-convention keys).
///
/// **`err`**: the error is reported with its cause chain through `std::error::Error` (each
/// `source()` its own exception), through `anyhow::Error` (feature `anyhow`), or through
/// `Display` — whichever the type offers.
///
/// # Examples
///
/// ```
/// #[derive(Debug)]
/// struct OutOfStock(String);
///
/// impl std::fmt::Display for OutOfStock {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         write!(f, "{} is out of stock", self.0)
///     }
/// }
///
/// impl std::error::Error for OutOfStock {}
///
/// struct Db;
///
/// // Span "reserve" with the attributes `sku`, `quantity` and `tenant`; `db` is not recorded;
/// // an `Err` goes to Sentry, linked to the span; each call's duration goes to the
/// // `forkline.handler.duration` histogram.
/// #[forkline::handler(err, metrics, skip(db), fields(tenant = "acme"))]
/// async fn reserve(db: &Db, sku: String, quantity: u32) -> Result<u32, OutOfStock> {
///     let _ = db;
///     if quantity > 10 {
///         Err(OutOfStock(sku))
///     } else {
///         Ok(quantity)
///     }
/// }
///
/// // A named client span for an outgoing call: no argument recorded, two fields.
/// #[forkline::handler(
///     name = "GET /inventory/{sku}",
///     kind = "client",
///     skip_all,
///     fields(http.request.method = "GET", sku.length = sku.len())
/// )]
/// fn fetch_inventory(sku: &str) -> u32 {
///     sku.len() as u32
/// }
///
/// // A bare key in `fields` records the variable of that name.
/// #[forkline::handler(skip_all, fields(region))]
/// fn route(region: &str, payload: &[u8]) -> usize {
///     payload.len() + region.len()
/// }
///
/// let _ = reserve(&Db, "sku-1".into(), 1);
/// assert_eq!(fetch_inventory("abc"), 3);
/// assert_eq!(route("eu", b"xy"), 4);
/// ```
///
/// Where forkline is renamed (`fl = { package = "forkline", ... }` in `Cargo.toml`, here a
/// `use` stands for it):
///
/// ```
/// use forkline as fl;
///
/// #[fl::handler(crate = fl, kind = "internal")]
/// fn step(n: u64) -> u64 {
///     n + 1
/// }
///
/// assert_eq!(step(1), 2);
/// ```
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::handler(args.into(), item.into()).into()
}

/// Implements forkline's `SpanAttributes` for a struct with named fields, so that it can be a
/// `#[handler]` argument (or a field of another such struct): each field becomes a span
/// attribute. Field types must be recordable (numbers, strings, `bool`, `char`, `Option`,
/// slices and `Vec`s of values, references, `Box`, `Arc`, and structs deriving
/// `SpanAttributes`); another type is a compile error naming `SpanAttributes`. String values
/// are cut at 4 KiB (and counted in `forkline::Stats::attribute_values_truncated`).
///
/// # Options
///
/// On the struct, `#[span(...)]`:
///
/// | option | type | default | meaning |
/// |---|---|---|---|
/// | `prefix = "..."` | string literal | none: keys are the fields' own | put before every key of the struct (`prefix.field`) |
/// | `crate = path` | path | forkline, as Cargo.toml names it | where another crate re-exports forkline |
///
/// On a field, `#[span(...)]` (several in one attribute, or several attributes):
///
/// | option | type | default | meaning |
/// |---|---|---|---|
/// | `name = "..."` | string literal, a key `a.b.c` | the field's name | the field's key (after the prefix) |
/// | `skip` | flag | off | not recorded (secrets, payloads, types that cannot be attributes) |
/// | `redact` | flag | off | recorded as `"[redacted]"`: the key says the value was there, the value is not sent |
/// | `flatten` | flag, on a field whose type derives `SpanAttributes` | off | the nested struct's keys as they are, without this field's key in front |
///
/// A struct given as a handler argument is recorded under its own keys (not the argument's
/// name). A nested struct (not flattened) has its keys put after the field's key
/// (`order.customer.id`). Conflicting options (`skip` with `redact`, `flatten` with `name` or
/// `redact`), two fields with one key, invalid keys and renamed semantic-convention keys
/// (`http.method` → `http.request.method`) are compile errors that say the fix.
///
/// # Example
///
/// ```
/// #[derive(forkline::SpanAttributes)]
/// struct Customer {
///     id: u64,           // order.customer.id
///     #[span(redact)]
///     email: String,     // order.customer.email = "[redacted]"
/// }
///
/// #[derive(forkline::SpanAttributes)]
/// struct Http {
///     #[span(name = "http.request.method")]
///     method: &'static str,
/// }
///
/// #[derive(forkline::SpanAttributes)]
/// #[span(prefix = "order")]
/// struct Order {
///     id: u64,           // order.id
///     #[span(name = "total_cents")]
///     total: i64,        // order.total_cents
///     #[span(skip)]
///     card_number: String,
///     coupon: Option<String>, // order.coupon, only when Some
///     customer: Customer,     // order.customer.*
///     #[span(flatten)]
///     http: Http,        // http.request.method, as Http names it
/// }
///
/// #[forkline::handler]
/// fn place(order: &Order) -> u64 {
///     let _ = (&order.card_number, &order.customer.email);
///     order.id
/// }
///
/// let order = Order {
///     id: 7,
///     total: 1999,
///     card_number: "4111111111111111".into(),
///     coupon: None,
///     customer: Customer { id: 1, email: "someone@example.com".into() },
///     http: Http { method: "POST" },
/// };
/// assert_eq!(place(&order), 7);
/// ```
#[proc_macro_derive(SpanAttributes, attributes(span))]
pub fn derive_span_attributes(item: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(item) {
        Ok(input) => span_attributes::derive(input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[cfg(test)]
mod tests {
    //! The paths generated code names outside itself: forkline only through
    //! `::forkline::__private::v1`, the standard library only as `::core` or `::std`.

    use crate::HookKind;
    use proc_macro2::{Spacing, TokenStream, TokenTree};
    use quote::quote;

    /// Each macro on an input that uses every part of its expansion, with `crate = krate` when
    /// there is one.
    fn expansions(krate: Option<TokenStream>) -> Vec<TokenStream> {
        let krate = krate.map(|k| quote!(crate = #k));
        let comma = krate.as_ref().map(|_| quote!(,));
        let hook = |kind, args: TokenStream, item: TokenStream| {
            crate::hook::hook(kind, quote!(#krate #comma #args), item)
        };
        let handler = |args: TokenStream, item: TokenStream| {
            crate::handler::handler(quote!(#krate #comma #args), item)
        };
        let item = quote!(
            fn f(_master: &Master) {}
        );
        vec![
            hook(
                HookKind::PostFork,
                quote!(
                    service_name = "a",
                    ratio = 0.5,
                    guard(attempt_timeout_ms = 100)
                ),
                quote!(
                    fn otel(_worker: &Worker) {}
                ),
            ),
            hook(
                HookKind::WorkerInit,
                quote!(
                    sentry(dsn = env("DSN"), debug, guard(max_retries = 1)),
                    propagators = "baggage"
                ),
                quote!(
                    async fn init(_worker: &Worker) {}
                ),
            ),
            hook(
                HookKind::WorkerExit,
                quote!(deadline_ms = 100),
                quote!(
                    fn bye() {}
                ),
            ),
            hook(
                HookKind::ChildExit,
                quote!(),
                quote!(
                    fn c(_m: &Master, _e: &WorkerExit) {}
                ),
            ),
            hook(
                HookKind::NWorkersChanged,
                quote!(),
                quote!(
                    fn n(_m: &Master, _c: &WorkersChanged) {}
                ),
            ),
            hook(
                HookKind::WorkerInt,
                quote!(),
                quote!(
                    fn i(_w: &Worker) {}
                ),
            ),
            hook(HookKind::OnReload, quote!(), item.clone()),
            hook(HookKind::OnStarting, quote!(), item.clone()),
            hook(HookKind::WhenReady, quote!(), item.clone()),
            hook(HookKind::PreFork, quote!(), item.clone()),
            hook(HookKind::OnExit, quote!(), item),
            handler(
                quote!(name = "get", err, fields(order.id = id, kind = "x")),
                quote!(
                    async fn get(id: u64) -> Result<u64, String> {
                        Ok(id)
                    }
                ),
            ),
            handler(
                quote!(kind = "client"),
                quote!(
                    fn call(id: u64) -> u64 {
                        id
                    }
                ),
            ),
            crate::span_attributes::derive(syn::parse_quote! {
                #[span(prefix = "order")]
                #[span(#krate)]
                struct Order {
                    id: u64,
                    #[span(redact)]
                    token: String,
                    note: &'static str,
                    #[span(flatten)]
                    inner: Inner,
                }
            }),
        ]
    }

    /// Every path in `tokens` (`a::b`, `::a::b`), as (whether it starts with `::`, its segments).
    fn paths(tokens: TokenStream, out: &mut Vec<(bool, Vec<String>)>) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        let colons = |i: usize| {
            matches!(
                (tokens.get(i), tokens.get(i + 1)),
                (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                    if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
            )
        };
        let mut i = 0;
        while i < tokens.len() {
            if let TokenTree::Group(group) = &tokens[i] {
                paths(group.stream(), out);
            }
            let leading = colons(i) && matches!(tokens.get(i + 2), Some(TokenTree::Ident(_)));
            // A keyword before `::` (`use ::core::...`) is not a segment.
            let relative = matches!(&tokens[i], TokenTree::Ident(ident)
                    if !["use", "as", "in", "for", "impl", "dyn", "mut", "return"]
                        .contains(&ident.to_string().as_str()))
                && colons(i + 1);
            if !(leading || relative) {
                i += 1;
                continue;
            }
            let mut j = if leading { i + 2 } else { i };
            let mut segments = Vec::new();
            while let Some(TokenTree::Ident(ident)) = tokens.get(j) {
                segments.push(ident.to_string());
                j += 1;
                if !colons(j) {
                    break;
                }
                j += 2;
            }
            out.push((leading, segments));
            i = j;
        }
    }

    /// Every path of every expansion, which must not be a `compile_error!`.
    fn expanded_paths(krate: Option<TokenStream>) -> Vec<(bool, Vec<String>)> {
        let mut found = Vec::new();
        for expansion in expansions(krate) {
            assert!(
                !expansion.to_string().contains("compile_error"),
                "{expansion}"
            );
            paths(expansion, &mut found);
        }
        found
    }

    #[test]
    fn forkline_is_named_only_through_private_v1() {
        let found = expanded_paths(None);
        assert!(found.iter().any(|(_, s)| s[0] == "forkline"));
        for (leading, segments) in found {
            let path = segments.join("::");
            if leading {
                assert!(
                    ["forkline", "core", "std"].contains(&segments[0].as_str()),
                    "::{path}"
                );
                if segments[0] == "forkline" {
                    assert!(
                        segments[1..].starts_with(&["__private".into(), "v1".into()]),
                        "::{path}"
                    );
                }
            } else {
                assert!(
                    !segments.iter().any(|s| s == "forkline" || s == "__private"),
                    "{path}"
                );
            }
        }
    }

    #[test]
    fn crate_path_replaces_forkline_everywhere() {
        let found = expanded_paths(Some(quote!(my::fl)));
        assert!(found
            .iter()
            .any(|(_, s)| s.contains(&"__private".to_string())));
        for (leading, segments) in found {
            let path = segments.join("::");
            assert!(!segments.iter().any(|s| s == "forkline"), "{path}");
            if leading {
                assert!(["core", "std"].contains(&segments[0].as_str()), "::{path}");
            } else if segments.iter().any(|s| s == "__private") {
                assert!(
                    segments.starts_with(&["my", "fl", "__private", "v1"].map(String::from)),
                    "{path}"
                );
            }
        }
    }
}
