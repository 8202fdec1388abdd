//! One HTTP delivery attempt, for any guarded path: bounded in time, classified, with the
//! backend's `Retry-After` and the response's headers; plus the words and the drop counter for
//! a failure.

use crate::config::GuardConfig;
use crate::export::engine::signal::Attempted;
use crate::export::figures::DropReason;
use crate::export::outcome::{self, FailureKind, Outcome};
use crate::export::retry_after;
use std::time::SystemTime;

/// Sends `request` within the policy's attempt timeout. Returns the outcome, and the response's
/// headers when there was a response (Sentry reads its rate limits from them).
pub(crate) async fn send(request: reqwest::RequestBuilder, policy: &GuardConfig) -> Attempted {
    let retryable = |reason| Outcome::Retryable {
        reason,
        after: None,
    };
    let response = match tokio::time::timeout(policy.attempt_timeout, request.send()).await {
        Err(_) => return retryable(FailureKind::Timeout).into(),
        Ok(Err(e)) if e.is_timeout() => return retryable(FailureKind::Timeout).into(),
        Ok(Err(_)) => return retryable(FailureKind::Network).into(),
        Ok(Ok(response)) => response,
    };
    let after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after::parse(v, SystemTime::now(), policy.backoff_cap));
    let outcome = outcome::from_status(response.status().as_u16(), after);
    Attempted {
        outcome,
        headers: Some(response.headers().clone()),
    }
}

/// A failure in words, for `last_error` (never contains secrets: no URL, no header).
pub(crate) fn describe(reason: FailureKind, backend: &str, policy: &GuardConfig) -> String {
    match reason {
        FailureKind::Network => format!("could not connect to the {backend}"),
        FailureKind::Timeout => {
            format!("no answer within {} ms", policy.attempt_timeout.as_millis())
        }
        FailureKind::Throttled => "throttled (429/503)".into(),
        FailureKind::Status(answer) => answer.to_string(),
    }
}

/// The drop counter for a delivery that failed for `reason`.
pub(crate) fn drop_reason(reason: FailureKind) -> DropReason {
    match reason {
        FailureKind::Network => DropReason::Network,
        FailureKind::Timeout => DropReason::Timeout,
        FailureKind::Throttled => DropReason::Throttled,
        FailureKind::Status(_) => DropReason::ServerError,
    }
}
