//! Signal delivery for the master and for each worker, built from nothing inherited.
//!
//! Why not `tokio::signal` (or `signal-hook`): both keep process-wide state that is created
//! lazily the first time any runtime is built — one socket pair that the signal handler writes
//! to and every runtime's driver reads. A master that built a runtime before `serve` (to run a
//! migration, through a blocking HTTP client, or inside an SDK provider kept in a static) hands
//! that one socket pair to every worker. TERM to worker A then wakes whichever process reads the
//! byte first, and A may never learn that it was asked to stop: seen as 2 of 3 workers killed at
//! the graceful timeout, in every run.
//!
//! So each process that serves (the master, then each worker right after `fork()`) calls
//! [`SignalInbox::install`], which replaces the handler of every signal it takes with one that
//! only sets a bit in this process's memory and writes a byte to a pipe made right there. A
//! handler, bit or pipe left by the master or by a library is replaced or closed, never used.
//!
//! The signals an inbox takes stay blocked on the thread that installs it until it
//! [`unblock`](SignalInbox::unblock)s them (the worker) or waits with them unblocked (the master,
//! in `ppoll`). A signal that arrives in between stays pending in the kernel, is not lost, and
//! cannot be confused with one the master had received when it forked.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// Write end of this process's wake-up pipe; -1 until an inbox is installed.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Read end, kept so that a re-install (the worker after fork) can close the inherited one.
static READ_FD: AtomicI32 = AtomicI32::new(-1);
/// One bit per signal number received and not yet taken.
static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// A set of signal numbers (1..64).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signals(u64);

impl Signals {
    pub(crate) fn contains(self, signal: libc::c_int) -> bool {
        (1..64).contains(&signal) && self.0 & (1 << signal) != 0
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe work: atomics and write(2), with errno kept for the interrupted code.
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    if (1..64).contains(&signal) {
        RECEIVED.fetch_or(1 << signal, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // A full pipe already holds a wake-up: the bit above is what carries the signal.
        // SAFETY: writes one byte from a valid buffer; a stale fd only yields EBADF.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// This process's signal inbox: the read end of its wake-up pipe.
#[derive(Debug)]
pub(crate) struct SignalInbox {
    read: RawFd,
    handled: Vec<libc::c_int>,
}

impl AsRawFd for SignalInbox {
    fn as_raw_fd(&self) -> RawFd {
        self.read
    }
}

impl SignalInbox {
    /// Makes this process's inbox for `handled`, and puts `defaulted` back to their default
    /// action (the signals the master takes and a worker does not). Call while `handled` are
    /// blocked on this thread, before any other thread exists (the master before its first
    /// hook, a worker right after `fork()`): every step is a system call on state made here.
    pub(crate) fn install(handled: &[libc::c_int], defaulted: &[libc::c_int]) -> io::Result<Self> {
        let mut fds = [-1; 2];
        // SAFETY: fds has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let (read, write) = (fds[0], fds[1]);
        // Anything the bits hold was received by the process this one was forked from.
        RECEIVED.store(0, Ordering::SeqCst);
        for old in [
            WAKE_FD.swap(write, Ordering::SeqCst),
            READ_FD.swap(read, Ordering::SeqCst),
        ] {
            if old >= 0 {
                // SAFETY: the inherited pipe end belongs to this module and is no longer used.
                unsafe { libc::close(old) };
            }
        }
        for &signal in handled {
            set_action(signal, on_signal as *const () as libc::sighandler_t)?;
        }
        for &signal in defaulted {
            set_action(signal, libc::SIG_DFL)?;
        }
        Ok(Self {
            read,
            handled: handled.to_vec(),
        })
    }

    /// Unblocks the handled signals on this thread; threads it starts later inherit that.
    pub(crate) fn unblock(&self) -> io::Result<()> {
        let set = sigset(&self.handled);
        // SAFETY: a valid set; the old mask is not wanted.
        match unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) } {
            0 => Ok(()),
            rc => Err(io::Error::from_raw_os_error(rc)),
        }
    }

    /// The signals received since the last call; drains the wake-up pipe first, so that a
    /// signal arriving during the call leaves a byte behind for the next wait.
    pub(crate) fn take(&self) -> Signals {
        let mut buf = [0u8; 64];
        // SAFETY: reads into a valid buffer from our own non-blocking pipe.
        while unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        Signals(RECEIVED.swap(0, Ordering::SeqCst))
    }

    /// Waits up to `timeout` for a signal, with the thread's mask set to `base` less the handled
    /// signals for the wait only (`ppoll`), then takes what arrived.
    pub(crate) fn wait(&self, timeout: Duration, base: &SignalMask) -> Signals {
        let mut during = base.0;
        for &signal in &self.handled {
            // SAFETY: `during` is an initialised set.
            unsafe { libc::sigdelset(&mut during, signal) };
        }
        let mut fd = libc::pollfd {
            fd: self.read,
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec and mask. EINTR (a handler ran) and a
        // timeout both just mean "look at the bits".
        unsafe { libc::ppoll(&mut fd, 1, &ts, &during) };
        self.take()
    }
}

fn set_action(signal: libc::c_int, handler: libc::sighandler_t) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid once its mask is emptied; the handler is either a
    // constant disposition or `on_signal`, which is async-signal-safe.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A thread's signal mask, as `pthread_sigmask` gives it.
#[derive(Clone)]
pub(crate) struct SignalMask(libc::sigset_t);

pub(crate) fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset uses it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks `signals` on this thread (threads started later inherit the mask); returns the old mask.
pub(crate) fn block(signals: &[libc::c_int]) -> io::Result<SignalMask> {
    let set = sigset(signals);
    // SAFETY: both pointers are valid for the call.
    unsafe {
        let mut old: libc::sigset_t = std::mem::zeroed();
        match libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) {
            0 => Ok(SignalMask(old)),
            rc => Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

/// Sets this thread's mask back to `mask`.
pub(crate) fn restore(mask: &SignalMask) {
    // SAFETY: the mask came from pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_signal_is_taken_once() {
        let signal = libc::SIGUSR2;
        let mask = block(&[signal]).expect("block");
        let inbox = SignalInbox::install(&[signal], &[]).expect("install");
        // SAFETY: raise sends to this thread, which has a handler for it.
        unsafe { libc::raise(signal) };
        // Blocked: pending in the kernel, not yet in the inbox.
        assert_eq!(inbox.take(), Signals::default());
        inbox.unblock().expect("unblock");
        let taken = inbox.take();
        assert!(taken.contains(signal), "{taken:?}");
        assert!(!taken.contains(libc::SIGUSR1));
        assert_eq!(inbox.take(), Signals::default(), "taken once");
        restore(&mask);
    }
}
