//! The scoreboard: one small record per worker slot, in memory the master maps before its first
//! fork and every worker shares (Apache httpd's model). A worker writes only its own record;
//! every worker reads the others' to decide whether to take the next connection, and the master
//! can read what a worker did even after it was killed. Plain atomics in a shared anonymous
//! mapping: no lock, nothing for `fork()` to break. (A record itself is `health::serving`.)

use crate::health::serving::Record;
use std::io;
use std::ptr::NonNull;

/// The shared records, one per slot.
#[derive(Debug)]
pub(crate) struct Scoreboard {
    records: NonNull<Record>,
    slots: usize,
}

// SAFETY: the records are atomics only, and the mapping lives as long as the process.
unsafe impl Send for Scoreboard {}
// SAFETY: as above.
unsafe impl Sync for Scoreboard {}

impl Scoreboard {
    /// Maps `slots` zeroed records shared with every process forked after this call. The
    /// mapping is never unmapped: workers hold references to it for their whole life.
    pub(crate) fn map(slots: usize) -> io::Result<&'static Self> {
        let slots = slots.max(1);
        let bytes = slots * std::mem::size_of::<Record>();
        // SAFETY: an anonymous shared mapping with no address hint; the kernel zeroes it, and
        // an all-zero `Record` is a valid one (atomics at 0).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let records = NonNull::new(ptr.cast::<Record>()).ok_or_else(io::Error::last_os_error)?;
        Ok(Box::leak(Box::new(Self { records, slots })))
    }

    /// The record of `slot`, if the board has one (a slot past its size goes unbalanced).
    pub(crate) fn record(&self, slot: usize) -> Option<&Record> {
        // SAFETY: in bounds of the mapping, which lives as long as the process.
        (slot < self.slots).then(|| unsafe { &*self.records.as_ptr().add(slot) })
    }

    fn records(&self) -> impl Iterator<Item = &Record> {
        (0..self.slots).filter_map(|slot| self.record(slot))
    }

    /// Frees the slot `pid` held (after the master reaped it).
    pub(crate) fn release(&self, slot: usize, pid: u32) {
        if let Some(record) = self.record(slot) {
            record.release(pid);
        }
    }

    /// Open connections over the live workers, and how many workers are live.
    pub(crate) fn load(&self) -> (u64, u64) {
        self.records()
            .filter(|r| r.live())
            .fold((0, 0), |(open, live), r| (open + r.open(), live + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_shared_with_a_forked_child() {
        let board = Scoreboard::map(4).expect("map");
        // SAFETY: the child only touches atomics in the shared mapping, then _exit.
        match unsafe { libc::fork() } {
            0 => {
                let record = board.record(2).expect("slot 2");
                record.claim(std::process::id());
                record.connection_opened();
                record.connection_opened();
                record.request_served();
                // SAFETY: _exit has no preconditions.
                unsafe { libc::_exit(0) }
            }
            child => {
                let mut status = 0;
                // SAFETY: waits for our own child.
                unsafe { libc::waitpid(child, &mut status, 0) };
                let serving = board.record(2).expect("slot 2").serving();
                assert_eq!(serving.connections_accepted, 2);
                assert_eq!(serving.requests_served, 1);
                assert_eq!(board.load(), (2, 1));
                board.release(2, child as u32);
                assert_eq!(board.load(), (0, 0));
                assert!(board.record(4).is_none());
            }
        }
    }
}
