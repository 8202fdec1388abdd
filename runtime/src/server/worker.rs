//! One worker process, from fork to exit: post_fork → runtime → worker_init → serve →
//! worker_exit. The setup each point generates runs before the user's hook for that point;
//! at exit the user's hook runs first, so it can still emit telemetry, then the teardown.

use crate::config::TelemetryConfig;
use crate::error::{Error, Result};
use crate::lifecycle::context::Worker;
use crate::lifecycle::plan::Plan;
use crate::lifecycle::run;
use crate::server::shutdown_signal::{Shutdown, StopKind, StopSender};
use crate::server::sys;
use crate::server::{App, Serve, Settings};
use crate::sink::report::{BootTimes, WorkerReport};
use crate::telemetry::otel_pipeline::{self, Previous, ProcessIdentity};
use crate::telemetry::stats::COUNTERS;
use crate::telemetry::{sentry_pipeline, shutdown};
use std::net::TcpListener;
use std::time::Duration;

/// Exit code of a worker that could not boot: the master stops rather than respawn it.
pub(crate) const BOOT_ERROR: i32 = 3;
/// Exit code of a worker whose app returned an error or panicked while serving.
pub(crate) const SERVE_ERROR: i32 = 1;
/// The telemetry flush budget of a quick stop (INT / QUIT).
const QUICK_DEADLINE: Duration = Duration::from_millis(500);

pub(crate) struct WorkerRun<'a, A> {
    pub(crate) id: usize,
    pub(crate) master_pid: u32,
    pub(crate) forked: bool,
    pub(crate) plan: &'a Plan,
    pub(crate) config: &'a TelemetryConfig,
    pub(crate) settings: &'a Settings,
    pub(crate) listener: &'a TcpListener,
    pub(crate) app: &'a A,
    /// The signal mask to restore once the worker's own handlers are in place.
    pub(crate) mask: Option<&'a sys::SignalMask>,
}

impl<A: App> WorkerRun<'_, A> {
    /// Runs the worker to its end and returns its exit code.
    pub(crate) fn run(self) -> i32 {
        if self.forked {
            sys::die_with_parent(libc::SIGTERM);
            if sys::parent_pid() != self.master_pid {
                return 0; // The master died between fork and here.
            }
            COUNTERS.reset();
            // Before anything draws a random id: see `fork_rng`.
            crate::telemetry::fork_rng::reseed_thread_rng();
        }
        let threads_at_post_fork = sys::thread_count();
        let worker = Worker::new(self.id, self.master_pid, self.config.run_dir.clone());

        let mut boot = BootTimes::default();
        if let Err(e) = post_fork(&worker, self.config, self.plan, &mut boot) {
            crate::diag::log_error!("worker {} failed in post_fork: {e}", self.id);
            return BOOT_ERROR;
        }
        let rt = match self.build_runtime() {
            Ok(rt) => rt,
            Err(e) => {
                crate::diag::log_error!("worker {}: {e}", self.id);
                return BOOT_ERROR;
            }
        };
        worker.set_runtime(rt.handle().clone());
        let _context = rt.enter();
        let (stop, shutdown) = Shutdown::channel();
        if let Err(e) = listen_for_signals(stop) {
            crate::diag::log_error!("worker {}: installing signal handlers: {e}", self.id);
            return BOOT_ERROR;
        }
        if let Some(mask) = self.mask {
            sys::restore(mask);
        }
        if let Err(e) = worker_init(&worker, self.config, self.plan, &mut boot) {
            crate::diag::log_error!("worker {} failed in worker_init: {e}", self.id);
            return BOOT_ERROR;
        }
        crate::diag::log_info!("worker {} booted (pid {})", self.id, worker.pid());

        let mut code = 0;
        match self.serve(&rt, &worker, shutdown.clone()) {
            Ok(()) => {}
            Err(e) => {
                crate::diag::log_error!("worker {} stopped serving: {e}", self.id);
                code = SERVE_ERROR;
            }
        }

        let quick = shutdown.requested() == Some(StopKind::Quick);
        let exit_hook = self.plan.worker_exit.map(|h| (&h.site, h.run));
        if let Err(e) = run::optional_worker_hook("worker_exit", exit_hook, &worker) {
            crate::diag::log_error!("{e}");
        }
        let deadline = if quick {
            self.config.worker_exit_deadline.min(QUICK_DEADLINE)
        } else {
            self.config.worker_exit_deadline
        };
        let shutdown = shutdown::shutdown(deadline);
        let health = crate::health();
        let report = WorkerReport {
            worker_id: self.id,
            pid: worker.pid(),
            threads_at_post_fork,
            boot,
            shutdown,
            stats: crate::telemetry::stats(),
            otlp: health.otlp,
            sentry: health.sentry,
        };
        if let Err(e) = report.write(&self.config.run_dir) {
            crate::diag::log_warn!("could not write the worker report: {e}");
        }
        crate::diag::log_info!(
            "worker {} exiting: {} spans exported, {} dropped, {} discarded by the embedded budget, {} Sentry events; telemetry shut down in {} ms",
            self.id,
            report.stats.spans_exported,
            report.stats.spans_export_failed
                + report.stats.spans_dropped_unexported
                + report.stats.spans_dropped_inherited,
            report.stats.spans_discarded_budget,
            report.stats.sentry_events_captured,
            report.shutdown.elapsed_ms
        );
        code
    }

    fn build_runtime(&self) -> Result<tokio::runtime::Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.enable_all().thread_name("forkline-worker");
        if let Some(n) = self.settings.worker_threads {
            builder.worker_threads(n);
        }
        builder
            .build()
            .map_err(|e| Error::io("building the worker's async runtime", e))
    }

    fn serve(
        &self,
        rt: &tokio::runtime::Runtime,
        worker: &Worker,
        shutdown: Shutdown,
    ) -> Result<()> {
        let std_listener = self
            .listener
            .try_clone()
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| Error::io("preparing the listener", e))?;
        let listener = tokio::net::TcpListener::from_std(std_listener)
            .map_err(|e| Error::io("registering the listener", e))?;
        let serve = Serve {
            worker: worker.clone(),
            listener,
            shutdown: shutdown.clone(),
        };
        let app = self.app.serve(serve);
        rt.block_on(async move {
            tokio::select! {
                result = app => result.map_err(|e| Error::io("the app", e)),
                // A quick stop does not wait for the app to wind down.
                () = shutdown.wait_quick() => Ok(()),
            }
        })
    }
}

fn post_fork(
    worker: &Worker,
    config: &TelemetryConfig,
    plan: &Plan,
    boot: &mut BootTimes,
) -> Result<()> {
    let started = std::time::Instant::now();
    let who = ProcessIdentity {
        worker_id: Some(worker.id()),
        pid: worker.pid(),
        instance_id: worker.instance_id().to_string(),
    };
    if let Previous::InheritedFrom(pid) = otel_pipeline::install(config, &who)? {
        crate::diag::log_warn!(
            "the tracer provider built in pid {pid} before fork() was detected in worker {} and rebuilt",
            worker.id()
        );
    }
    boot.post_fork_setup_us = started.elapsed().as_micros() as u64;
    run::optional_worker_hook(
        "post_fork",
        plan.post_fork.map(|h| (&h.site, h.run)),
        worker,
    )
}

fn worker_init(
    worker: &Worker,
    config: &TelemetryConfig,
    plan: &Plan,
    boot: &mut BootTimes,
) -> Result<()> {
    let started = std::time::Instant::now();
    if sentry_pipeline::init(config, worker.pid())? {
        sentry_pipeline::bind_span_processor()?;
    }
    crate::telemetry::propagation::install(&config.propagators);
    #[cfg(feature = "tracing")]
    crate::telemetry::tracing_bridge::install();
    boot.worker_init_setup_us = started.elapsed().as_micros() as u64;
    run::optional_worker_hook(
        "worker_init",
        plan.worker_init.map(|h| (&h.site, h.run)),
        worker,
    )
}

fn listen_for_signals(stop: StopSender) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    tokio::spawn(async move {
        loop {
            let kind = tokio::select! {
                _ = term.recv() => StopKind::Graceful,
                _ = int.recv() => StopKind::Quick,
                _ = quit.recv() => StopKind::Quick,
            };
            stop.stop(kind);
        }
    });
    Ok(())
}
