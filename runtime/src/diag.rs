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

/// One `write(2)` per line: the master and its workers share stderr, and `eprintln!` writes a
/// line in pieces, which interleave across processes. Not through `std::io::stderr()`: its lock
/// may have been held by another master thread at the instant of `fork()`, and then it stays
/// locked in the worker forever.
pub(crate) fn emit(level: &str, message: std::fmt::Arguments<'_>) {
    let line = format!("forkline[{}] {level}: {message}\n", std::process::id());
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        // SAFETY: writes from a valid buffer to fd 2; a closed stderr only yields an error.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return; // Nowhere to report it: stderr is gone or broken.
        }
        rest = &rest[n as usize..];
    }
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

/// What an operator asked for (a signal to the master) and what came of it, and the run's
/// summary: always shown, at info, whatever the profile.
macro_rules! log_notice {
    ($($arg:tt)*) => {
        $crate::diag::emit("info", format_args!($($arg)*))
    };
}

/// Something failed; always shown.
macro_rules! log_error {
    ($($arg:tt)*) => {
        $crate::diag::emit("error", format_args!($($arg)*))
    };
}

pub(crate) use {log_error, log_info, log_notice, log_warn};

/// The message of a panic payload (`panic!` with a literal or a formatted string).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
