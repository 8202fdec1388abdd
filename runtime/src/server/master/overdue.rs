//! The master's timeout rule for one worker, from what its scoreboard record says: Gunicorn's
//! `timeout` for a runtime that stopped beating or a request stuck in one poll (a runtime
//! thread blocked, while the others keep beating), and uWSGI's `harakiri` for a request that
//! has simply run too long.

use std::time::Duration;

/// What the master reads of one worker, in `sys::monotonic_ms` milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    /// Its runtime's last beat.
    pub(crate) beat: Option<u64>,
    /// Since when a request has been in one poll (as of the last beat).
    pub(crate) stuck_since: Option<u64>,
    /// When its oldest request in flight came in (as of the last beat).
    pub(crate) oldest_request: Option<u64>,
}

/// Why the worker is overdue at `now`, if it is.
pub(crate) fn overdue(
    now: u64,
    timeout: Option<Duration>,
    harakiri: Option<Duration>,
    seen: Seen,
) -> Option<String> {
    let past = |since: Option<u64>, limit: Option<Duration>| {
        let (since, limit) = (since?, limit?);
        let age = now.saturating_sub(since);
        (u128::from(age) > limit.as_millis()).then_some((age, limit.as_millis()))
    };
    if let Some((age, limit)) = past(seen.beat, timeout) {
        return Some(format!(
            "its runtime made no progress for {age} ms (timeout {limit} ms)"
        ));
    }
    if let Some((age, limit)) = past(seen.stuck_since, timeout) {
        return Some(format!(
            "a request has been stuck in one poll for {age} ms, blocking a runtime thread \
             (timeout {limit} ms)"
        ));
    }
    if let Some((age, limit)) = past(seen.oldest_request, harakiri) {
        return Some(format!(
            "a request has run for {age} ms (harakiri {limit} ms)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Option<Duration> = Some(Duration::from_secs(1));

    fn seen(beat: u64, stuck: u64, oldest: u64) -> Seen {
        let some = |ms: u64| (ms > 0).then_some(ms);
        Seen {
            beat: some(beat),
            stuck_since: some(stuck),
            oldest_request: some(oldest),
        }
    }

    #[test]
    fn a_silent_runtime_a_stuck_poll_and_an_old_request_are_each_overdue() {
        let now = 10_000;
        // Healthy: beating, a request polled briefly, one in flight for 5 s without harakiri.
        assert_eq!(overdue(now, S, None, seen(9_900, 9_500, 5_000)), None);
        assert!(overdue(now, S, None, seen(8_000, 0, 0))
            .is_some_and(|w| w.contains("no progress for 2000 ms")));
        // The other threads keep beating while one request blocks its thread.
        assert!(overdue(now, S, None, seen(9_990, 8_500, 8_500))
            .is_some_and(|w| w.contains("stuck in one poll for 1500 ms")));
        // At the limit, not past it.
        assert_eq!(overdue(now, S, None, seen(9_990, 9_000, 9_000)), None);
        // harakiri: the age of the request, stuck or not.
        assert!(overdue(now, S, S, seen(9_990, 0, 8_000))
            .is_some_and(|w| w.contains("run for 2000 ms (harakiri 1000 ms)")));
        assert_eq!(overdue(now, S, None, seen(9_990, 0, 1)), None);
        // Neither limit set: never.
        assert_eq!(overdue(now, None, None, seen(1, 1, 1)), None);
    }
}
