//! Behind a proxy: who the client is, from a peer trusted to say so (Gunicorn's
//! `forwarded_allow_ips`). From a trusted peer, `Forwarded` (RFC 7239) or else
//! `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Forwarded-Host` give the client's address, the
//! scheme it used and the host it asked for; from any other peer they are ignored, so a client
//! cannot claim another's address. The address chain is read from the right, skipping trusted
//! proxies, so that an address the client itself put first in `X-Forwarded-For` (which nginx
//! keeps and appends to) is not believed either — Gunicorn takes the first entry.
//!
//! `serve_axum` puts the result on each request before routing: a [`ClientAddress`] extension
//! (and axum's `ConnectInfo` with the peer), and, when the proxy forwarded them, the scheme and
//! host in the request's URI, where `TelemetryLayer` (`url.scheme`, `server.address`) and
//! Sentry's request context read them, as a handler does.

use std::net::IpAddr;
#[cfg(feature = "axum")]
use std::net::SocketAddr;

/// The address of the client a request came from: the peer's, or, from a trusted proxy, the one
/// it forwarded. `serve_axum` resolves it for each request: `ClientAddress::of` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Which peers may say who the client is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrustedProxies {
    /// `*`: every peer.
    All,
    /// These addresses and networks.
    Only(Vec<(IpAddr, u8)>),
}

impl Default for TrustedProxies {
    /// Gunicorn's default, `127.0.0.1`, and its IPv6 twin.
    fn default() -> Self {
        Self::Only(vec![
            (IpAddr::from([127, 0, 0, 1]), 32),
            (IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]), 128),
        ])
    }
}

impl TrustedProxies {
    /// `*`, or addresses and networks separated by commas (`127.0.0.1,10.0.0.0/8,::1`); an
    /// empty list trusts nobody.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.trim() == "*" {
            return Ok(Self::All);
        }
        let mut nets = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (addr, prefix) = match part.split_once('/') {
                Some((addr, bits)) => (addr, Some(bits)),
                None => (part, None),
            };
            let addr: IpAddr = addr
                .parse()
                .map_err(|_| format!("{part:?} is not an IP address or network"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(bits) => bits
                    .parse::<u8>()
                    .ok()
                    .filter(|&b| b <= max)
                    .ok_or_else(|| format!("{part:?}: the prefix must be 0 to {max}"))?,
                None => max,
            };
            nets.push((addr, prefix));
        }
        Ok(Self::Only(nets))
    }

    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn trusts(&self, ip: IpAddr) -> bool {
        match self {
            Self::All => true,
            Self::Only(nets) => nets.iter().any(|&(net, prefix)| within(ip, net, prefix)),
        }
    }
}

#[cfg_attr(not(feature = "axum"), allow(dead_code))]
fn within(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(feature = "axum")]
/// What a request says about its client, once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Client {
    /// `None`: a Unix socket peer that forwarded no address.
    pub(crate) address: Option<IpAddr>,
    /// `http` or `https`, when a trusted proxy said.
    pub(crate) scheme: Option<&'static str>,
    /// The host the client asked for, when a trusted proxy said.
    pub(crate) host: Option<String>,
}

#[cfg(feature = "axum")]
/// One hop a proxy recorded: the address it received from, and what that request used.
#[derive(Debug, Default)]
struct Hop {
    from: Option<IpAddr>,
    proto: Option<String>,
    host: Option<String>,
}

#[cfg(feature = "axum")]
/// The client of a request from `peer` (`None`: over a Unix socket) with `headers`. A Unix
/// socket peer is trusted, as in Gunicorn: only a process allowed to open the socket file can
/// connect, which is the proxy in front.
pub(crate) fn client(
    peer: Option<IpAddr>,
    headers: &http::HeaderMap,
    trusted: &TrustedProxies,
) -> Client {
    let direct = Client {
        address: peer,
        scheme: None,
        host: None,
    };
    if peer.is_some_and(|peer| !trusted.trusts(peer)) {
        return direct;
    }
    let hops = hops(headers);
    if hops.is_empty() {
        return direct;
    }
    // From the right: the first address no trusted proxy stands for is the client.
    let mut chosen = hops.len() - 1;
    while chosen > 0 && hops[chosen].from.is_some_and(|ip| trusted.trusts(ip)) {
        chosen -= 1;
    }
    let hop = &hops[chosen];
    let Some(address) = hop.from else {
        // `unknown` or an obfuscated name: the client is not known; the peer stays.
        return direct;
    };
    Client {
        address: Some(address),
        scheme: match hop.proto.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("https") => Some("https"),
            Some("http") => Some("http"),
            _ => None,
        },
        host: hop
            .host
            .clone()
            .filter(|h| h.parse::<http::uri::Authority>().is_ok()),
    }
}

#[cfg(feature = "axum")]
const X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
#[cfg(feature = "axum")]
const X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
#[cfg(feature = "axum")]
const X_FORWARDED_HOST: http::HeaderName = http::HeaderName::from_static("x-forwarded-host");

/// The hops of `Forwarded`, or else of `X-Forwarded-*`, client first.
#[cfg(feature = "axum")]
fn hops(headers: &http::HeaderMap) -> Vec<Hop> {
    let values = |name: http::HeaderName| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    };
    if !headers.contains_key(http::header::FORWARDED) && !headers.contains_key(&X_FORWARDED_FOR) {
        return Vec::new();
    }
    let forwarded = values(http::header::FORWARDED);
    if !forwarded.is_empty() {
        return forwarded.iter().map(|element| hop_of(element)).collect();
    }
    // `X-Forwarded-Proto` and `-Host` are set by the proxy next to the server (nginx's
    // `$scheme`, `$host`): they describe the request it took, whoever the client turns out to be.
    let proto = values(X_FORWARDED_PROTO).into_iter().next();
    let host = values(X_FORWARDED_HOST).into_iter().next();
    values(X_FORWARDED_FOR)
        .into_iter()
        .map(|from| Hop {
            from: address(&from),
            proto: proto.clone(),
            host: host.clone(),
        })
        .collect()
}

#[cfg(feature = "axum")]
/// One `Forwarded` element: `for=...;proto=...;host=...` (values may be quoted).
fn hop_of(element: &str) -> Hop {
    let mut hop = Hop::default();
    for pair in element.split(';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "for" => hop.from = address(value),
            "proto" => hop.proto = Some(value.to_string()),
            "host" => hop.host = Some(value.to_string()),
            _ => {}
        }
    }
    hop
}

#[cfg(feature = "axum")]
/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`,
/// `2001:db8::1`; `None` for `unknown` and obfuscated names.
fn address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "axum")]
    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    #[cfg(feature = "axum")]
    fn only_a_trusted_peer_says_who_the_client_is_read_from_the_right() {
        let trusted = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").expect("parse");
        let xff = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "shop.example"),
        ]);
        let seen = client(Some(ip("127.0.0.1")), &xff, &trusted);
        // 10.1.2.3 is a trusted proxy; 203.0.113.7 is the first address no proxy stands for
        // (6.6.6.6 is what the client itself claimed).
        assert_eq!(seen.address, Some(ip("203.0.113.7")));
        assert_eq!(seen.scheme, Some("https"));
        assert_eq!(seen.host.as_deref(), Some("shop.example"));
        // From an untrusted peer, nothing forwarded is believed.
        let spoofed = client(Some(ip("192.0.2.9")), &xff, &trusted);
        assert_eq!(
            spoofed,
            Client {
                address: Some(ip("192.0.2.9")),
                scheme: None,
                host: None
            }
        );
        // One proxy: its headers describe the client's request.
        let one = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "shop.example"),
        ]);
        let seen = client(Some(ip("127.0.0.1")), &one, &trusted);
        assert_eq!(seen.address, Some(ip("203.0.113.7")));
        assert_eq!(seen.scheme, Some("https"));
        assert_eq!(seen.host.as_deref(), Some("shop.example"));
        // Over a Unix socket the peer is the proxy in front (only it can open the socket file),
        // as in Gunicorn; without forwarded headers the client has no address.
        let nobody = TrustedProxies::parse("10.0.0.0/8").expect("parse");
        assert_eq!(client(None, &one, &nobody).address, Some(ip("203.0.113.7")));
        assert_eq!(
            client(None, &http::HeaderMap::new(), &trusted).address,
            None
        );
    }

    #[test]
    #[cfg(feature = "axum")]
    fn forwarded_elements_are_read_with_ports_quotes_and_ipv6() {
        let trusted = TrustedProxies::default();
        let forwarded = headers(&[(
            "forwarded",
            "for=\"[2001:db8::7]:4711\";proto=https;host=\"shop.example:8443\", for=127.0.0.1",
        )]);
        let seen = client(Some(ip("::1")), &forwarded, &trusted);
        assert_eq!(seen.address, Some(ip("2001:db8::7")));
        assert_eq!(seen.scheme, Some("https"));
        assert_eq!(seen.host.as_deref(), Some("shop.example:8443"));
        // `unknown`: the client is not known, the peer stays.
        let unknown = headers(&[("forwarded", "for=unknown;proto=https")]);
        assert_eq!(
            client(Some(ip("127.0.0.1")), &unknown, &trusted).address,
            Some(ip("127.0.0.1"))
        );
        // A bad host is not taken.
        let bad = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-host", "a b")]);
        assert_eq!(client(Some(ip("127.0.0.1")), &bad, &trusted).host, None);
    }

    #[test]
    fn trusted_lists_parse_or_say_why_not() {
        assert_eq!(TrustedProxies::parse("*"), Ok(TrustedProxies::All));
        let nets = TrustedProxies::parse("10.0.0.0/8, ::1").expect("parse");
        assert!(nets.trusts(ip("10.200.1.1")));
        assert!(!nets.trusts(ip("11.0.0.1")));
        assert!(nets.trusts(ip("::1")));
        assert!(nets.trusts(ip("::ffff:10.0.0.5")), "IPv4-mapped");
        assert!(!TrustedProxies::parse("")
            .expect("empty")
            .trusts(ip("127.0.0.1")));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("localhost").is_err());
        assert!(TrustedProxies::default().trusts(ip("127.0.0.1")));
    }
}
