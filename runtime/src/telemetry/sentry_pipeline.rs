//! `worker_init`'s generated setup, in its fixed order: `sentry::init` on the worker's main
//! thread (binding the process hub, before any other thread touches Sentry), then the Sentry
//! span processor into the provider's late-bound slot (never before init: created earlier it
//! silently registers nothing), then the global propagators.

use crate::config::TelemetryConfig;
use crate::error::{Error, Result};
use crate::export::sentry_transport::GuardedSentryTransport;
use crate::sink::sentry_file::SentryFileTransport;
use crate::stats::{counters, ProcessCounters};
use crate::telemetry::symbolizing_transport::SymbolizingFactory;
use sentry::integrations::opentelemetry::SentrySpanProcessor;
use std::sync::Arc;

/// Any valid DSN: the embedded transport never connects, but the client needs one to be enabled.
const EMBEDDED_DSN: &str = "http://embedded@127.0.0.1/0";

/// Initialises Sentry for this process. Must run on the thread that owns the process hub.
pub fn init(telemetry: &TelemetryConfig, pid: u32) -> Result<bool> {
    let (config, run_dir) = (&telemetry.sentry, telemetry.run_dir.as_path());
    if !config.enabled {
        return Ok(false);
    }
    if !on_main_thread() {
        return Err(Error::Telemetry(
            "Sentry must be initialised on the worker's main thread (Sentry hubs are per thread, \
             cloned from the process hub); forkline runs #[worker_init] there — do not call this \
             from a spawned thread or task"
                .into(),
        ));
    }
    let (dsn, transport): (_, Option<Arc<dyn sentry::TransportFactory>>) = match &config.dsn {
        Some(dsn) => {
            let policy = telemetry.sentry_guard;
            let started = match &telemetry.prepared.sentry_http {
                Some(client) => GuardedSentryTransport::start(dsn, client.clone(), policy),
                None => GuardedSentryTransport::new(dsn, policy),
            };
            let guarded =
                Arc::new(started.map_err(|e| Error::io("starting the Sentry transport", e))?);
            crate::health::register_sentry(guarded.shared());
            let factory: Arc<dyn sentry::TransportFactory> = Arc::new(guarded);
            (Some(dsn.clone()), Some(factory))
        }
        None => {
            let limit = telemetry.embedded_file_limit();
            let file = SentryFileTransport::create(run_dir, pid, limit).map_err(|e| {
                Error::io(
                    format!("opening the Sentry file in {}", run_dir.display()),
                    e,
                )
            })?;
            let transport: Arc<dyn sentry::TransportFactory> = Arc::new(Arc::new(file));
            (EMBEDDED_DSN.parse().ok(), Some(transport))
        }
    };
    let mut options = sentry::ClientOptions::new()
        .sample_rate(config.sample_rate)
        .traces_sample_rate(config.traces_sample_rate)
        .environment(config.environment.clone())
        .maybe_release(config.release.clone())
        .debug(config.debug)
        .send_default_pii(config.send_default_pii)
        // Release health for a server: one session per request, aggregated before sending
        // (`forkline::http::TelemetryLayer` starts and ends them), for the crash-free rate.
        // The worker's flush at exit sends what is aggregated.
        .session_mode(sentry::SessionMode::Request)
        .auto_session_tracking(true)
        .before_send(|event| {
            ProcessCounters::add(&counters().sentry_events_captured, 1);
            Some(event)
        });
    options.dsn = dsn;
    // Sentry's defaults, with its panic integration making the stack the same way.
    options.default_integrations = false;
    options.integrations = vec![
        Arc::new(sentry::integrations::backtrace::AttachStacktraceIntegration::new()),
        Arc::new(sentry::integrations::contexts::ContextIntegration::new()),
        Arc::new(crate::telemetry::deferred_stacks::panic_integration()),
        Arc::new(sentry::integrations::backtrace::ProcessStacktraceIntegration::new()),
    ];
    // Sentry takes `&'static str`: one crate name leaked once per worker process.
    options.in_app_include = config
        .in_app_include
        .iter()
        .map(|c| &*String::leak(c.clone()))
        .collect();
    // Stacks are resolved on a thread of their own, never on the request's (deferred_stacks).
    options.transport = transport.map(|inner| {
        Arc::new(SymbolizingFactory::new(inner, &options)) as Arc<dyn sentry::TransportFactory>
    });
    // The guard is never dropped: dropping it joins the transport thread with no deadline.
    // The worker closes the client itself, under the worker_exit deadline.
    let send_default_pii = options.send_default_pii;
    std::mem::forget(sentry::init(options));
    // On the process hub, before any other thread clones it: every event captured inside an
    // HTTP request gets its route and request.
    crate::telemetry::request_scope::install_event_processor(send_default_pii);
    Ok(true)
}

/// Puts the Sentry span processor into the provider's slot. Call only after `init`.
pub fn bind_span_processor() -> Result<()> {
    let Some(slot) = crate::telemetry::otel_pipeline::current_slot() else {
        return Ok(()); // OTel is disabled: there is nothing to link Sentry events to.
    };
    slot.bind(Box::new(SentrySpanProcessor::new()))
        .map_err(|_| Error::Telemetry("the Sentry span processor is already bound".into()))
}

fn on_main_thread() -> bool {
    // SAFETY: gettid has no preconditions. On Linux the main thread's tid is the pid.
    #[cfg(target_os = "linux")]
    {
        (unsafe { libc::gettid() }) as u32 == std::process::id()
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}
