//! The master's boot: everything between `Server::serve` and the supervisor's loop, in the order
//! that keeps it fork-safe: inherited and systemd sockets taken before any hook can start a
//! thread, the telemetry prepared once for every worker, the run folder, the signals blocked
//! before the hooks run, the scoreboard mapped, the sockets opened (or adopted), the pid file,
//! the start lines; then the supervisor (or, without fork, the one worker in this process); then
//! `on_exit`.

use crate::config::TelemetryConfig;
use crate::error::{Error, Result};
use crate::lifecycle::plan::Plan;
use crate::lifecycle::run;
use crate::lifecycle::Master;
use crate::server::accept::listeners::{BindOptions, Listeners};
use crate::server::accept::socket_activation;
use crate::server::app::App;
use crate::server::master::binary_upgrade::{self, Origin};
use crate::server::master::in_process;
use crate::server::master::pidfile::Pidfile;
use crate::server::master::supervisor::{self, Booted};
use crate::server::master::upgrade::Upgrade;
use crate::server::scoreboard::Scoreboard;
use crate::server::settings::Settings;
use crate::server::signals::{self, SignalInbox};
use crate::sys;

/// The signals the master takes.
pub(crate) const MASTER_SIGNALS: [libc::c_int; 10] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGCHLD,
    libc::SIGHUP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

pub(crate) fn run<A: App>(
    plan: &Plan,
    config: &TelemetryConfig,
    settings: &Settings,
    app: &A,
) -> Result<()> {
    crate::diag::set_verbose(config.profile.verbose());
    // Both before any hook can start a thread or change the folder (see `binary_upgrade`).
    let inherited = binary_upgrade::take_inherited()?;
    let activated = socket_activation::take().map_err(|e| Error::config("LISTEN_FDS", e))?;
    let origin = Origin::capture()
        .inspect_err(|e| {
            crate::diag::log_warn!(
                "this executable's path cannot be read ({e}): USR2 cannot upgrade"
            )
        })
        .ok();
    // Thread-free preparation shared by every worker through fork (HTTP clients, TLS roots).
    let mut config = config.clone();
    config.prepare()?;
    let config = &config;
    std::fs::create_dir_all(&config.run_dir).map_err(|e| {
        Error::io(
            format!("creating the run folder {}", config.run_dir.display()),
            e,
        )
    })?;
    let removed = crate::sink::old_runs::prune(
        &std::env::temp_dir(),
        crate::sink::old_runs::KEEP_OLD_RUNS,
        &config.run_dir,
        sys::is_alive,
    );
    if !removed.is_empty() {
        crate::diag::log_info!(
            "removed {} old run folders from {} (the newest {} finished runs are kept)",
            removed.len(),
            std::env::temp_dir().display(),
            crate::sink::old_runs::KEEP_OLD_RUNS
        );
    }
    crate::diag::emit("info", format_args!("telemetry: {}", config.destinations()));
    if let Some(warning) = config.production_local_files_warning() {
        crate::diag::log_warn!("{warning}");
    }
    // Blocked before any hook runs, so a TERM during start-up waits for the loop; the inbox is
    // made now, before the user's hooks can start a thread.
    let signals = if settings.no_fork {
        None
    } else {
        let mask = signals::block(&MASTER_SIGNALS).map_err(|e| Error::io("blocking signals", e))?;
        let inbox = SignalInbox::install(&MASTER_SIGNALS, &[])
            .map_err(|e| Error::io("installing the master's signal handlers", e))?;
        Some((inbox, mask))
    };

    // Before any fork, so that every worker shares it; room for TTIN well past the start size.
    let board = Scoreboard::map(settings.workers.max(1) * 4 + 16)
        .map_err(|e| Error::io("mapping the scoreboard", e))?;
    let master = Master::new(settings.workers, config.run_dir.clone());
    run::master_hooks("on_starting", plan.on_starting, &master)?;
    // Sockets handed down by an old master or passed by systemd replace every configured one.
    let replaced = inherited.is_some() || activated.is_some();
    let (listeners, upgraded_from) = match inherited {
        Some(inherited) => (inherited.listeners, inherited.from),
        None => (
            Listeners::open(
                settings.binds(),
                &BindOptions {
                    unix_mode: settings.unix_socket_mode,
                    backlog: settings.backlog,
                },
                activated,
            )?,
            None,
        ),
    };
    close_unused(settings, replaced);
    master.set_local_addr(listeners.first_tcp());
    let local = listeners.describe();
    if let Some(old) = upgraded_from {
        crate::diag::log_notice!(
            "binary upgrade: serving the sockets {local}, handed down by the master with pid {old}"
        );
    }
    let pidfile = settings
        .pidfile
        .as_deref()
        .map(|path| Pidfile::create(path, std::process::id()))
        .transpose()?;
    // Always shown, whatever the profile: what runs where, and where its files go.
    crate::diag::emit(
        "info",
        format_args!("{}", start_line(&local, settings.workers, config)),
    );
    run::master_hooks("when_ready", plan.when_ready, &master)?;

    let booted = Booted {
        master: &master,
        plan,
        config,
        settings,
        listeners: &listeners,
        app,
        board,
    };
    let result = if let Some((inbox, mask)) = &signals {
        let upgrade = Upgrade::new(origin, upgraded_from);
        supervisor::supervise(&booted, inbox, mask, upgrade, pidfile)
    } else {
        let served = in_process::serve(&booted);
        listeners.remove_files();
        served
    };
    let on_exit = run::master_hooks("on_exit", plan.on_exit, &master);
    result.and(on_exit)
}

/// Closes the listening sockets given in code (`Server::listener`, `fd://`) that are not served
/// because `FORKLINE_BIND`, systemd or a binary upgrade replaced them: a socket left open and
/// never accepted on would take connections that nobody answers.
fn close_unused(settings: &Settings, replaced: bool) {
    let served = if replaced { &[][..] } else { settings.binds() };
    for address in &settings.code_binds {
        if let crate::server::accept::bind_address::BindAddress::Fd(fd) = address {
            if !served.contains(address) {
                // SAFETY: `Server::listener` and `fd://` hand the descriptor's ownership to
                // the server, and nothing else took it.
                drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(*fd) });
            }
        }
    }
}

/// The master's start line: addresses, workers, profile, environment and run folder.
fn start_line(local: &str, workers: usize, config: &TelemetryConfig) -> String {
    let environment =
        if config.sentry.enabled && config.sentry.environment != config.otel.environment {
            format!(
                "{} (Sentry: {})",
                config.otel.environment, config.sentry.environment
            )
        } else {
            config.otel.environment.clone()
        };
    format!(
        "listening on {local} with {workers} workers; profile {}, environment {environment}; run folder {}",
        config.profile.name(),
        config.run_dir.display()
    )
}
