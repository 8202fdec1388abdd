//! What one delivery attempt means for the next: done, try again (maybe after a given wait), or
//! give up because the backend refused the data itself.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Delivered (2xx).
    Delivered,
    /// Worth retrying: network error, timeout, 408, 429, 5xx. `after` is the backend's own wait
    /// (`Retry-After`, Sentry rate limits) when it gave one.
    Retryable {
        reason: FailureKind,
        after: Option<Duration>,
    },
    /// The backend refused this data (4xx other than 408/429): retrying cannot help.
    Rejected { status: u16 },
}

/// Why an attempt failed, for the drop counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FailureKind {
    /// Connection refused, reset, DNS, TLS.
    Network,
    /// No answer within the attempt's time budget.
    Timeout,
    /// 429 or 503 with a wait.
    Throttled,
    /// Any other retryable status.
    Status(u16),
}

/// Classifies an HTTP status (`after` is the parsed `Retry-After`, if any).
pub(crate) fn from_status(status: u16, after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        429 | 503 => Outcome::Retryable {
            reason: FailureKind::Throttled,
            after,
        },
        408 | 500..=599 => Outcome::Retryable {
            reason: FailureKind::Status(status),
            after,
        },
        _ => Outcome::Rejected { status },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_throttling_timeouts_and_server_errors_are_retried() {
        let wait = Some(Duration::from_secs(3));
        assert_eq!(from_status(200, None), Outcome::Delivered);
        assert_eq!(from_status(204, None), Outcome::Delivered);
        assert_eq!(
            from_status(429, wait),
            Outcome::Retryable {
                reason: FailureKind::Throttled,
                after: wait
            }
        );
        assert!(matches!(
            from_status(503, None),
            Outcome::Retryable {
                reason: FailureKind::Throttled,
                ..
            }
        ));
        assert!(matches!(
            from_status(502, None),
            Outcome::Retryable {
                reason: FailureKind::Status(502),
                ..
            }
        ));
        assert!(matches!(from_status(408, None), Outcome::Retryable { .. }));
        for status in [400, 401, 403, 404, 413, 415] {
            assert_eq!(
                from_status(status, wait),
                Outcome::Rejected { status },
                "{status}"
            );
        }
    }
}
