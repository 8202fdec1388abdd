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
    /// The backend refused this data (4xx other than 408/429, or a gRPC status that the OTLP
    /// specification does not list as retryable): retrying cannot help.
    Rejected { status: Answer },
}

/// A backend's answer, as logs and health show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Answer {
    Http(u16),
    /// A gRPC status code (never 0, OK).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    Grpc(i32),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const GRPC: [&str; 17] = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        match *self {
            Self::Http(status) => write!(f, "HTTP {status}"),
            Self::Grpc(code) => match usize::try_from(code).ok().and_then(|c| GRPC.get(c)) {
                Some(name) => write!(f, "gRPC {name}"),
                None => write!(f, "gRPC status {code}"),
            },
        }
    }
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
    Status(Answer),
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
            reason: FailureKind::Status(Answer::Http(status)),
            after,
        },
        _ => Outcome::Rejected {
            status: Answer::Http(status),
        },
    }
}

/// Classifies a gRPC status code as the OTLP specification does: CANCELLED, DEADLINE_EXCEEDED,
/// ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retried; RESOURCE_EXHAUSTED is
/// throttling (retried with backoff: the guard does not read `RetryInfo`, and its breaker stops
/// a collector that never recovers); every other code refuses the data.
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) fn from_grpc(code: i32) -> Outcome {
    match code {
        0 => Outcome::Delivered,
        8 => Outcome::Retryable {
            reason: FailureKind::Throttled,
            after: None,
        },
        1 | 4 | 10 | 11 | 14 | 15 => Outcome::Retryable {
            reason: FailureKind::Status(Answer::Grpc(code)),
            after: None,
        },
        _ => Outcome::Rejected {
            status: Answer::Grpc(code),
        },
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
                reason: FailureKind::Status(Answer::Http(502)),
                ..
            }
        ));
        assert!(matches!(from_status(408, None), Outcome::Retryable { .. }));
        for status in [400, 401, 403, 404, 413, 415] {
            assert_eq!(
                from_status(status, wait),
                Outcome::Rejected {
                    status: Answer::Http(status)
                },
                "{status}"
            );
        }
    }

    #[test]
    fn grpc_codes_follow_the_otlp_retry_table() {
        assert_eq!(from_grpc(0), Outcome::Delivered);
        for retryable in [1, 4, 10, 11, 14, 15] {
            assert!(
                matches!(from_grpc(retryable), Outcome::Retryable { .. }),
                "{retryable}"
            );
        }
        assert!(matches!(
            from_grpc(8),
            Outcome::Retryable {
                reason: FailureKind::Throttled,
                ..
            }
        ));
        for refused in [2, 3, 5, 6, 7, 9, 12, 13, 16, 99] {
            assert!(
                matches!(from_grpc(refused), Outcome::Rejected { .. }),
                "{refused}"
            );
        }
        assert_eq!(Answer::Grpc(14).to_string(), "gRPC UNAVAILABLE");
        assert_eq!(Answer::Grpc(99).to_string(), "gRPC status 99");
        assert_eq!(Answer::Http(503).to_string(), "HTTP 503");
    }
}
