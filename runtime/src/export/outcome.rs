//! What one delivery attempt means for the next: done, try again (maybe after a given wait), or
//! give up because the backend refused the data itself.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// A gRPC status (never `Ok`).
    #[cfg(feature = "grpc")]
    Grpc(tonic::Code),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Http(status) => write!(f, "HTTP {status}"),
            #[cfg(feature = "grpc")]
            Self::Grpc(code) => {
                // The specification's name (UNAVAILABLE, DEADLINE_EXCEEDED) from tonic's variant.
                let mut name = String::new();
                for (i, c) in format!("{code:?}").chars().enumerate() {
                    if c.is_ascii_uppercase() && i > 0 {
                        name.push('_');
                    }
                    name.push(c.to_ascii_uppercase());
                }
                write!(f, "gRPC {name}")
            }
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
}
