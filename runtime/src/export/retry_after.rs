//! `Retry-After` (RFC 9110): delay-seconds or an HTTP-date. Anything else is ignored, and a
//! hostile value cannot make a worker wait longer than the caller's cap.

use std::time::{Duration, SystemTime};

/// The wait a `Retry-After` value asks for, seen at `now`, at most `cap`.
pub(crate) fn parse(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 still means "a long time": the cap applies.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(60);

    #[test]
    fn seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00
        assert_eq!(parse("7", now, CAP), Some(Duration::from_secs(7)));
        assert_eq!(parse(" 0 ", now, CAP), Some(Duration::ZERO));
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:30 GMT", now, CAP),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:27:00 GMT", now, CAP),
            Some(Duration::ZERO),
            "past"
        );
    }

    #[test]
    fn hostile_values_are_capped_or_ignored() {
        let now = SystemTime::now();
        assert_eq!(parse("999999999999999999999999", now, CAP), Some(CAP));
        assert_eq!(parse("86400", now, CAP), Some(CAP));
        for junk in ["", "-5", "1.5", "soon", "Wed, 99 Foo 2015", "\u{0}"] {
            assert_eq!(parse(junk, now, CAP), None, "{junk:?}");
        }
    }
}
