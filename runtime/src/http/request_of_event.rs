//! The request of a Sentry event captured inside the HTTP layer, in Sentry's own protocol type
//! (`sentry::protocol::Request`, as sentry-tower's `SentryHttpLayer` fills it): method, URL,
//! query string and headers. Unless `send_default_pii` is on, credentials stay out: the headers
//! Sentry itself calls sensitive (`sentry::utils::is_sensitive_header`: `Authorization`,
//! `Proxy-Authorization`, `Cookie`, `X-Api-Key`...) and the others that carry secrets or
//! session tokens are left out, header values marked sensitive are left out, the query keeps
//! its keys with every value `[Filtered]`, and a user name or password in the URL is replaced.

use crate::telemetry::request_scope::{RequestOfEvent, RequestScope};
use sentry::protocol::Request;
use std::sync::Arc;

/// Headers that carry credentials or session tokens beyond Sentry's own list (compared in
/// lower case).
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-xsrf-token",
    "x-amz-security-token",
    "x-goog-api-key",
    "x-sentry-auth",
];

/// The parts of an incoming request an error event needs, kept until one is captured.
struct HttpRequest {
    route: Option<String>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
}

/// The context value for `request`, to put into the request's OTel context.
pub(crate) fn scope_of<B>(request: &http::Request<B>, route: Option<&str>) -> RequestScope {
    RequestScope::new(Arc::new(HttpRequest {
        route: route.map(str::to_string),
        method: request.method().clone(),
        uri: request.uri().clone(),
        headers: request.headers().clone(),
    }))
}

impl RequestOfEvent for HttpRequest {
    fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    fn request(&self, send_default_pii: bool) -> Request {
        let query = self.uri.query().map(|q| {
            if send_default_pii {
                q.to_string()
            } else {
                crate::http::query::filtered(q)
            }
        });
        let url = self.url(query.as_deref()).map(|url| {
            if send_default_pii {
                url
            } else {
                sentry::utils::scrub_pii_from_url(url)
            }
        });
        let headers = self
            .headers
            .iter()
            .filter(|(name, value)| {
                send_default_pii || !(is_credential(name) || value.is_sensitive())
            })
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let cookies = send_default_pii
            .then(|| {
                let all: Vec<&str> = self
                    .headers
                    .get_all(http::header::COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                (!all.is_empty()).then(|| all.join("; "))
            })
            .flatten();
        Request {
            url,
            method: Some(self.method.as_str().to_string()),
            query_string: query,
            cookies,
            headers,
            ..Default::default()
        }
    }
}

impl HttpRequest {
    /// The absolute URL: the request target's own when it is absolute, else from `Host`.
    fn url(&self, query: Option<&str>) -> Option<sentry::protocol::Url> {
        let (scheme, authority) = match (self.uri.scheme_str(), self.uri.authority()) {
            (Some(scheme), Some(authority)) => (scheme.to_string(), authority.to_string()),
            _ => (
                "http".to_string(),
                self.headers
                    .get(http::header::HOST)?
                    .to_str()
                    .ok()?
                    .to_string(),
            ),
        };
        let mut text = format!("{scheme}://{authority}{}", self.uri.path());
        if let Some(query) = query {
            text.push('?');
            text.push_str(query);
        }
        text.parse().ok()
    }
}

fn is_credential(name: &http::HeaderName) -> bool {
    sentry::utils::is_sensitive_header(name.as_str()) || CREDENTIAL_HEADERS.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> http::Request<()> {
        http::Request::builder()
            .method("POST")
            .uri("/orders/7?token=s3cret&page=2&flag")
            .header("host", "shop.test:8080")
            .header("user-agent", "curl/8")
            .header("authorization", "Bearer abc")
            .header("Proxy-Authorization", "Basic xyz")
            .header("cookie", "session=42")
            .header("x-api-key", "k3y")
            .header("x-auth-token", "t0k")
            .header("x-request-id", "r-1")
            .body(())
            .expect("a valid request")
    }

    #[test]
    fn without_pii_credentials_and_query_values_stay_out() {
        let scope = scope_of(&request(), Some("/orders/{id}"));
        assert_eq!(scope.0.route(), Some("/orders/{id}"));
        let r = scope.0.request(false);
        assert_eq!(r.method.as_deref(), Some("POST"));
        assert_eq!(
            r.url.as_ref().map(|u| u.as_str()),
            Some("http://shop.test:8080/orders/7?token=[Filtered]&page=[Filtered]&flag")
        );
        assert_eq!(
            r.query_string.as_deref(),
            Some("token=[Filtered]&page=[Filtered]&flag")
        );
        let names: Vec<&str> = r.headers.keys().map(String::as_str).collect();
        assert_eq!(names, ["host", "user-agent", "x-request-id"]);
        assert_eq!(r.cookies, None);
        let all = format!("{r:?}");
        for secret in ["abc", "xyz", "session=42", "k3y", "t0k", "s3cret"] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
    }

    #[test]
    fn with_pii_everything_is_kept() {
        let r = scope_of(&request(), None).0.request(true);
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some("Bearer abc")
        );
        assert_eq!(r.headers.get("x-api-key").map(String::as_str), Some("k3y"));
        assert_eq!(r.cookies.as_deref(), Some("session=42"));
        assert_eq!(r.query_string.as_deref(), Some("token=s3cret&page=2&flag"));
    }

    #[test]
    fn a_value_marked_sensitive_is_left_out_and_user_info_is_scrubbed() {
        let mut secret = http::HeaderValue::from_static("hidden");
        secret.set_sensitive(true);
        let request = http::Request::builder()
            .uri("http://user:pw@api.test/x")
            .header("x-custom", secret)
            .body(())
            .expect("a valid request");
        let r = scope_of(&request, None).0.request(false);
        assert!(r.headers.is_empty(), "{:?}", r.headers);
        let url = r.url.expect("a URL");
        assert!(!url.as_str().contains("pw"), "{url}");
        assert_eq!(url.path(), "/x");
    }
}
