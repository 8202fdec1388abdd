//! One delivery attempt, shared by both guarded paths: bounded in time, classified, with the
//! backend's `Retry-After`; plus the words for failures and breaker changes in logs and health.

use crate::config::GuardPolicy;
use crate::export::figures::DropReason;
use crate::export::outcome::{self, FailureKind, Outcome};
use crate::export::retry_after;
use std::time::SystemTime;

/// Sends `request` within the policy's attempt timeout. Returns the outcome, and the response's
/// headers when there was a response (Sentry reads its rate limits from them).
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    policy: &GuardPolicy,
) -> (Outcome, Option<reqwest::header::HeaderMap>) {
    let retryable = |reason| Outcome::Retryable {
        reason,
        after: None,
    };
    let response = match tokio::time::timeout(policy.attempt_timeout, request.send()).await {
        Err(_) => return (retryable(FailureKind::Timeout), None),
        Ok(Err(e)) if e.is_timeout() => return (retryable(FailureKind::Timeout), None),
        Ok(Err(_)) => return (retryable(FailureKind::Network), None),
        Ok(Ok(response)) => response,
    };
    let after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after::parse(v, SystemTime::now(), policy.backoff_cap));
    let outcome = outcome::from_status(response.status().as_u16(), after);
    (outcome, Some(response.headers().clone()))
}

/// A failure in words, for `last_error` (never contains secrets: no URL, no header).
pub(crate) fn describe(reason: FailureKind, backend: &str, policy: &GuardPolicy) -> String {
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

/// The export thread's runtime, built on first use: built at thread start, it competed with the
/// worker's boot for the CPU (a measurable share of a 2 ms boot on 2 cores).
#[derive(Default)]
pub(crate) struct LazyRuntime(Option<tokio::runtime::Runtime>);

impl LazyRuntime {
    pub(crate) fn get(&mut self) -> std::io::Result<&tokio::runtime::Runtime> {
        if self.0.is_none() {
            self.0 = Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            );
        }
        self.0
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no runtime"))
    }
}
