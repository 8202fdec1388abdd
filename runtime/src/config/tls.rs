//! TLS for the guarded paths' `https://` endpoints (OTLP over HTTP, the Sentry DSN): which
//! implementation is built in (feature `rustls`, the default, with the system's trust roots; or
//! `native-tls`, the system's OpenSSL), and the extra trust roots a signal may name. Without
//! either feature an `https://` endpoint is a start-up error, not a failure in every export.

use crate::error::{Error, Result};
use std::path::Path;

/// Whether this build can speak TLS.
pub(crate) const BUILT_IN: bool = cfg!(any(feature = "rustls", feature = "native-tls"));

/// The TLS implementation this build uses, as the start line names it.
pub(crate) const IMPLEMENTATION: &str = if cfg!(feature = "rustls") {
    "rustls"
} else if cfg!(feature = "native-tls") {
    "native-tls"
} else {
    "none"
};

/// An `https://` endpoint needs one of the TLS features; `source` names who set it.
pub(crate) fn check_https(url: &str, source: &str) -> Result<()> {
    if BUILT_IN || !url.starts_with("https://") {
        return Ok(());
    }
    Err(Error::config(
        source,
        "an https:// endpoint needs TLS, and this build has none: turn on forkline's `rustls` \
         feature (the default) or `native-tls`",
    ))
}

/// The certificates of a PEM file, each a trust root: a file that cannot be read, or holds no
/// certificate, is an error that says which.
#[cfg(any(feature = "rustls", feature = "native-tls"))]
pub(crate) fn read_pem_roots(
    path: &Path,
) -> std::result::Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("{} is no PEM certificate file: {e}", path.display()))?;
    if roots.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(roots)
}

/// Without TLS there is nothing to trust a certificate for.
#[cfg(not(any(feature = "rustls", feature = "native-tls")))]
pub(crate) fn read_pem_roots(path: &Path) -> std::result::Result<Vec<()>, String> {
    Err(format!(
        "{} is not used: this build has no TLS (forkline's `rustls` or `native-tls` feature)",
        path.display()
    ))
}
