//! A server whose master does, before `serve`, what users' programs do (`FIXTURE_MASTER`):
//! - `clean`: nothing;
//! - `dropped_runtime`: builds a tokio runtime, uses it (a timer, a spawned task, a signal
//!   listener) and drops it, so no thread is left but the runtime's process-wide signal state is;
//! - `live_runtime`: the same runtime, still alive at `serve`;
//! - `thread`: a plain thread left running;
//! - `static_provider`: an OTel SDK provider with an OTLP/HTTP batch exporter (a reqwest blocking
//!   client, so a runtime of its own) kept in a static, never installed globally.
//!
//! `FIXTURE_ON_RELOAD=thread` makes `#[on_reload]` leave a thread running in the master (every
//! fork after it is refused by the fork check); `FIXTURE_PRE_FORK_FAILS=PATH` makes `#[pre_fork]`
//! fail while a file exists at PATH.
//!
//! `FIXTURE_BOOT` breaks the worker's boot: `panic_in_runtime_start` (after `post_fork` the
//! kernel refuses new threads, as in a container at its thread limit, so tokio panics while it
//! starts the worker's runtime) or `panic_in_worker_init`; `crash_after_boot` lets the worker
//! boot and then exits it with code 7 a moment later (a crash loop). The app carries the HTTP layer, so
//! `/panic` is answered with a 500. Every master and worker hook but `post_fork` records itself.

use forkline::{Master, Worker};
use forkline_tests::fixture::{publish_addr, record, router};
use std::sync::OnceLock;

static KEPT_RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static KEPT_PROVIDER: OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = OnceLock::new();

fn busy_runtime() -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime in main");
    rt.block_on(async {
        // What a migration or a config fetch does: timers, tasks, and a signal listener (Ctrl-C
        // handling is a common habit), which creates the runtime's process-wide signal state.
        let _ctrl_c = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            .expect("signal listener");
        tokio::spawn(async { tokio::time::sleep(std::time::Duration::from_millis(1)).await })
            .await
            .expect("task");
    });
    rt
}

fn prepare_master(mode: &str) {
    match mode {
        "clean" => {}
        "dropped_runtime" => drop(busy_runtime()),
        "live_runtime" => {
            let _ = KEPT_RUNTIME.set(busy_runtime());
        }
        "thread" => {
            let (ready, started) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("user-helper".into())
                .spawn(move || {
                    let _ = ready.send(());
                    loop {
                        std::thread::park();
                    }
                })
                .expect("thread");
            let _ = started.recv();
        }
        "static_provider" => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint("http://127.0.0.1:9/v1/traces")
                .build()
                .expect("exporter");
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .build();
            let _ = KEPT_PROVIDER.set(provider);
        }
        other => panic!("unknown FIXTURE_MASTER {other:?}"),
    }
}

fn boot_mode() -> String {
    std::env::var("FIXTURE_BOOT").unwrap_or_default()
}

#[forkline::when_ready]
fn ready(master: &Master) {
    publish_addr(master);
}

#[forkline::pre_fork]
fn before_fork(master: &Master) -> Result<(), String> {
    forkline_tests::fixture::record_pre_fork(master);
    match std::env::var_os("FIXTURE_PRE_FORK_FAILS") {
        Some(path) if std::path::Path::new(&path).exists() => {
            Err("pre_fork failed on purpose".into())
        }
        _ => Ok(()),
    }
}

#[forkline::post_fork]
fn after_fork(_worker: &Worker) {
    if boot_mode() == "panic_in_runtime_start" {
        refuse_new_threads();
    }
}

/// From here on, this process cannot start a thread: a seccomp filter makes `clone` and
/// `clone3` fail with EAGAIN (thread limit reached).
fn refuse_new_threads() {
    use libc::{sock_filter, sock_fprog};
    let ret = |k: u32| sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let is = |nr: libc::c_long| sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt: 0,
        jf: 1,
        k: nr as u32,
    };
    let refuse = libc::SECCOMP_RET_ERRNO | libc::EAGAIN as u32;
    let mut filter = [
        // The system call number: the first field of `seccomp_data`.
        sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        is(libc::SYS_clone3),
        ret(refuse),
        is(libc::SYS_clone),
        ret(refuse),
        ret(libc::SECCOMP_RET_ALLOW),
    ];
    let program = sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: a valid filter program that outlives the call; no_new_privs is required for an
    // unprivileged filter and only affects this worker.
    let installed = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const sock_fprog,
            ) == 0
    };
    assert!(installed, "seccomp: {}", std::io::Error::last_os_error());
}

#[forkline::worker_init]
fn init(worker: &Worker) {
    if boot_mode() == "panic_in_worker_init" {
        panic!("worker_init panicked on purpose");
    }
    record("worker_init", &format!("worker={}", worker.id()));
    if boot_mode() == "crash_after_boot" {
        tokio::spawn(async {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            // SAFETY: _exit has no preconditions; the crash a loop is made of.
            unsafe { libc::_exit(7) }
        });
    }
}

#[forkline::on_reload]
fn reload(master: &Master) {
    record("on_reload", &format!("workers={}", master.workers()));
    if std::env::var("FIXTURE_ON_RELOAD").as_deref() == Ok("thread") {
        prepare_master("thread");
    }
}

#[forkline::nworkers_changed]
fn resized(_master: &Master, change: &forkline::WorkersChanged) {
    record(
        "nworkers_changed",
        &format!("new={} old={}", change.new, change.old),
    );
}

#[forkline::worker_int]
fn interrupted(worker: &Worker) {
    record("worker_int", &format!("worker={}", worker.id()));
}

#[forkline::worker_abort]
fn aborted(worker: &Worker) {
    record("worker_abort", &format!("worker={}", worker.id()));
}

#[forkline::worker_exit(deadline_ms = 1000)]
fn exit(worker: &Worker) {
    record("worker_exit", &format!("worker={}", worker.id()));
}

fn main() {
    forkline_tests::cpu::pin_from_env();
    prepare_master(&std::env::var("FIXTURE_MASTER").unwrap_or_else(|_| "clean".into()));
    let app = router().layer(forkline::http::TelemetryLayer::new());
    forkline_tests::fixture::serve_or_exit(app);
}
