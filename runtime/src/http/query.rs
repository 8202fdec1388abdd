//! Query strings without their secrets. A Sentry event's request keeps only the keys (every
//! value `[Filtered]`) unless `send_default_pii` is on; a server span's `url.query` keeps the
//! values except those of keys that name a credential (`token`, `password`, `api_key`,
//! `signature`…), which become `REDACTED` as the OTel semantic conventions suggest, unless
//! `send_default_pii` is on.

use std::borrow::Cow;

/// What Sentry shows in place of a value.
pub(crate) const FILTERED: &str = "[Filtered]";
/// What a span shows in place of a credential's value.
const REDACTED: &str = "REDACTED";

/// Parts of query keys that name a credential (compared case-insensitively).
const CREDENTIAL_KEYS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "auth",
    "key",
    "sig",
    "session",
    "credential",
    "code",
];

/// `a=1&token=s3cret&flag` → `a=[Filtered]&token=[Filtered]&flag`: the keys say what was asked,
/// the values may be secrets.
pub(crate) fn filtered(query: &str) -> String {
    replace_values(query, |_| true, FILTERED)
}

/// `page=2&access_token=s3cret` → `page=2&access_token=REDACTED`. A query with no credential
/// key (the usual case, on every request with a query) is returned as it is, unallocated.
pub(crate) fn scrubbed(query: &str) -> Cow<'_, str> {
    let credential = |key: &str| {
        let key = key.to_ascii_lowercase();
        CREDENTIAL_KEYS.iter().any(|part| key.contains(part))
    };
    let any = query
        .split('&')
        .any(|pair| pair.split_once('=').is_some_and(|(key, _)| credential(key)));
    if any {
        Cow::Owned(replace_values(query, credential, REDACTED))
    } else {
        Cow::Borrowed(query)
    }
}

fn replace_values(query: &str, secret: impl Fn(&str) -> bool, with: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if secret(key) => format!("{key}={with}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentry_keeps_the_keys_and_spans_keep_all_but_credentials() {
        let query = "page=2&access_token=s3cret&flag&X-Goog-Signature=abc&API_KEY=k";
        assert_eq!(
            filtered(query),
            "page=[Filtered]&access_token=[Filtered]&flag&X-Goog-Signature=[Filtered]&API_KEY=[Filtered]"
        );
        assert_eq!(
            scrubbed(query),
            "page=2&access_token=REDACTED&flag&X-Goog-Signature=REDACTED&API_KEY=REDACTED"
        );
        assert_eq!(scrubbed("expand=1"), "expand=1");
    }
}
