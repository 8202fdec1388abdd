//! The HTTP client of a guarded path (OTLP/HTTP spans, metrics and logs; Sentry envelopes).

use crate::config::{GuardConfig, OtlpExporter};
use std::path::Path;

/// The client of one OTLP/HTTP destination: its headers, and its extra trust roots if any.
pub(crate) fn for_otlp(
    otlp: &OtlpExporter,
    policy: &GuardConfig,
) -> std::io::Result<reqwest::Client> {
    build(policy, &otlp.headers, otlp.certificate.as_deref())
}

/// The HTTP client of a guarded path: every attempt bounded in connecting and in total, extra
/// headers marked sensitive (never printed), the build's TLS (`config::tls`) trusting the
/// system's roots and the certificates of `roots`. It holds no thread and no socket until first
/// used, so the master can build it once before forking and every worker reuses it: building one
/// loads the TLS trust store, the bulk of a worker's telemetry boot otherwise.
pub(crate) fn build(
    policy: &GuardConfig,
    headers: &[(String, String)],
    roots: Option<&Path>,
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
    let builder = reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.attempt_timeout)
        .default_headers(map);
    with_tls(builder, roots)?
        .build()
        .map_err(std::io::Error::other)
}

/// rustls when the feature is on (whatever else turned on reqwest's native-tls), else OpenSSL.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
fn with_tls(
    builder: reqwest::ClientBuilder,
    roots: Option<&Path>,
) -> std::io::Result<reqwest::ClientBuilder> {
    #[cfg(feature = "rustls")]
    let mut builder = builder.tls_backend_rustls();
    #[cfg(not(feature = "rustls"))]
    let mut builder = builder.tls_backend_native();
    if let Some(path) = roots {
        for root in crate::config::tls::read_pem_roots(path).map_err(std::io::Error::other)? {
            builder = builder.add_root_certificate(root);
        }
    }
    Ok(builder)
}

/// No TLS: configuration refuses https:// endpoints and certificates before this is reached.
#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
fn with_tls(
    builder: reqwest::ClientBuilder,
    _roots: Option<&Path>,
) -> std::io::Result<reqwest::ClientBuilder> {
    Ok(builder)
}
