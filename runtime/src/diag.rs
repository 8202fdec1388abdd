//! forkline's own messages on stderr, prefixed with the process so that lines from a master and
//! its workers can be told apart. Never given secrets: callers pass redacted values.

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(true);

pub(crate) fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
}

pub(crate) fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// One `write` per line: the master and its workers share stderr, and `eprintln!` writes a
/// line in pieces, which interleave across processes.
pub(crate) fn emit(level: &str, message: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = format!("forkline[{}] {level}: {message}\n", std::process::id());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Lifecycle chatter, shown in the development profile.
macro_rules! log_info {
    ($($arg:tt)*) => {
        if $crate::diag::verbose() {
            $crate::diag::emit("info", format_args!($($arg)*))
        }
    };
}

/// Something the user should look at; always shown.
macro_rules! log_warn {
    ($($arg:tt)*) => {
        $crate::diag::emit("warn", format_args!($($arg)*))
    };
}

/// Something failed; always shown.
macro_rules! log_error {
    ($($arg:tt)*) => {
        $crate::diag::emit("error", format_args!($($arg)*))
    };
}

pub(crate) use {log_error, log_info, log_warn};
