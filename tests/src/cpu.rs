//! Pinning for benches on this 2-core VM: the server on one core, the load generator on the
//! other, so that the two do not take turns on the same core and a comparison measures the
//! server's cost per request.

/// Pins the calling thread (and the threads and processes it starts later) to `core`.
pub fn pin_to(core: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(rc, 0, "pinning to core {core}");
    }
}

/// A fixture started with `FIXTURE_PIN_CORE=N` pins itself (and so its workers) to core `N`.
pub fn pin_from_env() {
    if let Some(core) = std::env::var("FIXTURE_PIN_CORE")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        pin_to(core);
    }
}
