//! Route templates and server span names (`GET /orders/{id}`) as `&'static str`, made once per
//! route and method instead of once per request: a request then names its span, tags its route
//! and keys its duration series without allocating or formatting. Templates are few (they come
//! from the router, never from the raw path), so they are kept for the life of the process, up
//! to [`LIMIT`] routes; past it a request gets owned strings, as before.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::metric_collection::duration_series::METHODS;

/// The most routes kept; a service has tens, a router built per tenant maybe hundreds.
pub(crate) const LIMIT: usize = 4096;

/// One route template and its span name for each method the conventions name.
struct Route {
    template: &'static str,
    names: [&'static str; METHODS.len()],
}

type Routes = HashMap<&'static str, &'static Route, foldhash::fast::RandomState>;

/// Every route kept, shared by the threads (each also keeps the ones it used, unlocked).
static SHARED: Mutex<Option<Routes>> = Mutex::new(None);

thread_local! {
    static LOCAL: RefCell<Routes> = RefCell::new(Routes::default());
}

/// A route's template and the span name of `method` (an index in [`METHODS`]) on it.
pub(crate) struct Named {
    pub(crate) route: Cow<'static, str>,
    pub(crate) name: Cow<'static, str>,
}

/// The template and span name of `template` requested with `method`.
pub(crate) fn named(method: usize, template: &str) -> Named {
    let kept = LOCAL
        .try_with(|local| {
            if let Some(route) = local.borrow().get(template) {
                return Some(*route);
            }
            let route = keep(template)?;
            local.borrow_mut().insert(route.template, route);
            Some(route)
        })
        .ok()
        .flatten();
    resolve(kept, method, template)
}

fn resolve(kept: Option<&'static Route>, method: usize, template: &str) -> Named {
    match kept {
        Some(route) => Named {
            route: Cow::Borrowed(route.template),
            name: Cow::Borrowed(route.names[method]),
        },
        None => Named {
            route: Cow::Owned(template.to_string()),
            name: Cow::Owned(format!("{} {template}", METHODS[method])),
        },
    }
}

/// The kept route of `template`, made if there is room.
fn keep(template: &str) -> Option<&'static Route> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    keep_in(shared.get_or_insert_with(Routes::default), template, LIMIT)
}

fn keep_in(routes: &mut Routes, template: &str, limit: usize) -> Option<&'static Route> {
    if let Some(route) = routes.get(template) {
        return Some(route);
    }
    if routes.len() >= limit {
        return None;
    }
    let template: &'static str = Box::leak(template.into());
    let names = METHODS.map(|method| &*Box::leak(format!("{method} {template}").into_boxed_str()));
    let route: &'static Route = Box::leak(Box::new(Route { template, names }));
    routes.insert(template, route);
    Some(route)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_named_once_and_then_borrowed_for_every_method() {
        let get = METHODS.iter().position(|m| *m == "GET").expect("GET");
        let post = METHODS.iter().position(|m| *m == "POST").expect("POST");
        let first = named(get, "/route-names/{id}");
        assert!(matches!(first.name, Cow::Borrowed("GET /route-names/{id}")));
        assert!(matches!(first.route, Cow::Borrowed("/route-names/{id}")));
        // Another thread finds the same strings (kept once, not once per thread).
        let other = std::thread::spawn(move || {
            let n = named(post, "/route-names/{id}");
            (n.route.as_ptr() as usize, n.name.into_owned())
        })
        .join()
        .expect("thread");
        assert_eq!(other.0, first.route.as_ptr() as usize);
        assert_eq!(other.1, "POST /route-names/{id}");
    }

    #[test]
    fn past_the_limit_no_route_is_kept() {
        let mut routes = Routes::default();
        assert!(keep_in(&mut routes, "/a", 2).is_some());
        assert!(keep_in(&mut routes, "/b", 2).is_some());
        assert!(keep_in(&mut routes, "/c", 2).is_none());
        // A kept one is still found.
        assert_eq!(
            keep_in(&mut routes, "/a", 2).map(|r| r.names[0]),
            Some("GET /a")
        );
        assert_eq!(routes.len(), 2);
        // Not kept: owned strings with the same text.
        let owned = resolve(None, 2, "/c");
        assert!(matches!(owned.route, Cow::Owned(ref r) if r == "/c"));
        assert!(matches!(owned.name, Cow::Owned(ref n) if n == "POST /c"));
    }
}
