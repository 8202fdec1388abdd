//! The HTTP client of a guarded path (OTLP/HTTP spans, metrics and logs; Sentry envelopes).

use crate::config::GuardPolicy;

/// The HTTP client of a guarded path: every attempt bounded in connecting and in total, extra
/// headers marked sensitive (never printed). It holds no thread and no socket until first used,
/// so the master can build it once before forking and every worker reuses it: building one
/// loads the TLS trust store, the bulk of a worker's telemetry boot otherwise.
pub(crate) fn build(
    policy: &GuardPolicy,
    headers: &[(String, String)],
) -> std::io::Result<reqwest::Client> {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let invalid = || std::io::Error::other(format!("invalid header {name:?}"));
        let name =
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| invalid())?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.attempt_timeout)
        .default_headers(map)
        .build()
        .map_err(std::io::Error::other)
}
