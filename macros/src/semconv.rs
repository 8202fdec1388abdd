//! Attribute keys checked at compile time: the shape OpenTelemetry allows, and the semantic
//! convention keys that were renamed (stable HTTP, URL, network, database, code conventions), so
//! a span does not go out with a name dashboards no longer read.

/// Deprecated key → its current name.
const RENAMED: &[(&str, &str)] = &[
    ("http.method", "http.request.method"),
    ("http.status_code", "http.response.status_code"),
    ("http.url", "url.full"),
    ("http.target", "url.path` and `url.query"),
    ("http.scheme", "url.scheme"),
    ("http.host", "server.address"),
    ("http.flavor", "network.protocol.version"),
    ("http.user_agent", "user_agent.original"),
    ("http.client_ip", "client.address"),
    ("http.server_name", "server.address"),
    ("http.request_content_length", "http.request.body.size"),
    ("http.response_content_length", "http.response.body.size"),
    ("net.peer.name", "server.address"),
    ("net.peer.port", "server.port"),
    ("net.peer.ip", "network.peer.address"),
    ("net.host.name", "server.address"),
    ("net.host.port", "server.port"),
    ("net.sock.peer.addr", "network.peer.address"),
    ("net.sock.peer.port", "network.peer.port"),
    ("net.transport", "network.transport"),
    ("net.protocol.name", "network.protocol.name"),
    ("net.protocol.version", "network.protocol.version"),
    ("db.statement", "db.query.text"),
    ("db.operation", "db.operation.name"),
    ("db.name", "db.namespace"),
    ("db.system", "db.system.name"),
    ("code.function", "code.function.name"),
    ("code.filepath", "code.file.path"),
    ("code.lineno", "code.line.number"),
    ("code.column", "code.column.number"),
    ("enduser.id", "user.id"),
    ("messaging.destination", "messaging.destination.name"),
    ("deployment.environment", "deployment.environment.name"),
    ("thread.daemon", "(none: it was removed)"),
    ("exception.escaped", "(none: it was removed)"),
];

/// Why `key` cannot be an attribute key, if it cannot.
pub(crate) fn problem(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("an attribute key must not be empty".into());
    }
    if key.len() > 255 {
        return Some("an attribute key is at most 255 characters".into());
    }
    let valid = key.split('.').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    });
    if !valid {
        return Some(format!(
            "`{key}` is not a valid attribute key: use lower-case letters, digits and `_`, in \
             dot-separated parts (as in `http.request.method`)"
        ));
    }
    RENAMED
        .iter()
        .find(|(old, _)| *old == key)
        .map(|(old, new)| {
            format!(
                "`{old}` is a deprecated OpenTelemetry semantic-convention key: use `{new}` \
             (backends and dashboards read the current name)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_for_shape_and_renames() {
        assert_eq!(problem("http.request.method"), None);
        assert_eq!(problem("order_id"), None);
        assert!(problem("http.method").is_some_and(|p| p.contains("http.request.method")));
        assert!(problem("Order.Id").is_some());
        assert!(problem("a..b").is_some());
        assert!(problem(".a").is_some());
        assert!(problem("a b").is_some());
        assert!(problem("").is_some());
    }
}
