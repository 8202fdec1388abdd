//! `server.address` and `server.port` of a request: the authority of an absolute-form target, or
//! the `Host` header. A connection sends the same `Host` on every request, so each thread keeps
//! the last one it parsed: a request then costs one comparison and a reference count instead of
//! a parse and an allocation. Only the last is kept, so a client sending a different `Host` each
//! time costs the parse, never memory.

use std::cell::RefCell;
use std::sync::Arc;

type Parsed = (Arc<str>, Option<u16>);

thread_local! {
    static LAST: RefCell<Option<(Vec<u8>, Parsed)>> = const { RefCell::new(None) };
}

/// The host and port the request was sent to; `None` without one or with one that is not a
/// valid authority.
pub(crate) fn host_of<B>(request: &http::Request<B>) -> Option<Parsed> {
    if let Some(authority) = request.uri().authority() {
        return Some((Arc::from(authority.host()), authority.port_u16()));
    }
    let header = request.headers().get(http::header::HOST)?.as_bytes();
    LAST.try_with(|last| {
        if let Some((bytes, parsed)) = &*last.borrow() {
            if bytes.as_slice() == header {
                return Some(parsed.clone());
            }
        }
        let authority = std::str::from_utf8(header)
            .ok()?
            .parse::<http::uri::Authority>()
            .ok()?;
        let parsed: Parsed = (Arc::from(authority.host()), authority.port_u16());
        *last.borrow_mut() = Some((header.to_vec(), parsed.clone()));
        Some(parsed)
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_host(host: &str) -> http::Request<()> {
        http::Request::get("/x")
            .header(http::header::HOST, host)
            .body(())
            .expect("request")
    }

    #[test]
    fn the_host_header_is_parsed_once_per_value_and_a_bad_one_is_ignored() {
        let first = host_of(&with_host("shop.example:8443")).expect("parsed");
        assert_eq!((&*first.0, first.1), ("shop.example", Some(8443)));
        let again = host_of(&with_host("shop.example:8443")).expect("kept");
        assert!(
            Arc::ptr_eq(&first.0, &again.0),
            "the kept value, not a new parse"
        );
        let other = host_of(&with_host("[::1]")).expect("parsed");
        assert_eq!((&*other.0, other.1), ("[::1]", None));
        assert!(host_of(&with_host("bad host")).is_none());
        assert!(host_of(&http::Request::get("/x").body(()).expect("request")).is_none());
        let absolute = http::Request::get("http://api.example:81/x")
            .body(())
            .expect("request");
        let parsed = host_of(&absolute).expect("from the target");
        assert_eq!((&*parsed.0, parsed.1), ("api.example", Some(81)));
    }
}
