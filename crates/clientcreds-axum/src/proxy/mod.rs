//! Where a request came from: the TCP peer, or the client address a proxy
//! the host trusts vouches for (`Forwarded`, RFC 7239, or
//! `X-Forwarded-For`).

mod forwarded;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::header::{FORWARDED, HeaderName};
use axum::http::request::Parts;
use clientcreds_registry::Source;

use self::forwarded::{Hop, X_FORWARDED_FOR};
pub use self::forwarded::{MAX_HEADER_BYTES, MAX_HOPS};
use crate::Error;

/// Finds the caller's address in a request (see
/// [`OAuthRoutes::with_client_address`](crate::OAuthRoutes::with_client_address)).
pub type ClientAddress = Arc<dyn Fn(&Parts) -> Option<IpAddr> + Send + Sync>;

/// The header a trusted proxy writes the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (`nginx`, `HAProxy`, `Envoy`,
    /// cloud load balancers): the default.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for="[2001:db8::1]:443"` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, lower case.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }

    fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => X_FORWARDED_FOR,
            Self::Forwarded => FORWARDED,
        }
    }
}

impl FromStr for ForwardedHeader {
    type Err = Error;

    /// `x-forwarded-for` or `forwarded`, in any case.
    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("x-forwarded-for") {
            Ok(Self::XForwardedFor)
        } else if text.eq_ignore_ascii_case("forwarded") {
            Ok(Self::Forwarded)
        } else {
            Err(Error::invalid(
                "forwarded_header",
                format!("`{text}` is neither `x-forwarded-for` nor `forwarded`"),
            ))
        }
    }
}

/// An address or a CIDR network, its host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    len: u8,
}

impl Network {
    fn parse(entry: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::invalid(
                "trusted_proxies",
                format!(
                    "`{entry}` {why}; expected an IP address or a CIDR network such as 10.0.0.0/8 or fd00::/8"
                ),
            )
        };
        let (address, len) = match entry.split_once('/') {
            Some((address, len)) => (address, Some(len)),
            None => (entry, None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad("is not an IP address"))?;
        let address = unmap(address);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(len) => len
                .parse::<u8>()
                .ok()
                .filter(|len| *len <= max)
                .ok_or_else(|| bad(&format!("has a prefix length that is not 0 to {max}")))?,
        };
        let network = Self { address, len };
        if network.masked(address) != bits(address) {
            return Err(bad(
                "has bits set past its prefix length (write the network's first address)",
            ));
        }
        Ok(network)
    }

    fn masked(self, address: IpAddr) -> u128 {
        let width = if address.is_ipv4() { 32 } else { 128 };
        let shift = width - u32::from(self.len);
        let mask = u128::MAX.checked_shl(shift).unwrap_or(0) & (u128::MAX >> (128 - width));
        bits(address) & mask
    }

    fn contains(self, address: IpAddr) -> bool {
        address.is_ipv4() == self.address.is_ipv4()
            && self.masked(address) == self.masked(self.address)
    }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// IPv4 mapped into IPv6 (`::ffff:a.b.c.d`, as a dual-stack listener
/// reports IPv4 peers) as the IPv4 address.
fn unmap(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

/// The proxies whose forwarding header is believed, and which header they
/// write. The caller's address ([`Source`] for the failure throttle) is:
///
/// - the TCP peer, when the peer is not a trusted proxy (its headers are
///   ignored: anyone can send them);
/// - when it is, the right-most hop of the header that is not itself a
///   trusted proxy (each proxy appends the address it saw, so the hops
///   right of that one were written by proxies you trust, and the ones
///   left of it by whoever called);
/// - a [`Source::shared`] peer whenever that cannot be told: the peer is
///   trusted but the header is missing, longer than [`MAX_HEADER_BYTES`],
///   has more than [`MAX_HOPS`] trusted hops, or has a hop that is
///   `unknown`, obfuscated or does not parse before an untrusted one; or
///   the peer is a loopback address that is not trusted (a local proxy or
///   sidecar nobody configured). The throttle then counts no failures per
///   source, so nobody behind that address can lock out the others.
///
/// Only the configured header is read: if the proxy writes
/// `X-Forwarded-For`, a `Forwarded` header that a caller sent through it
/// is ignored, and the other way round.
///
/// ```
/// use axum::http::{HeaderMap, HeaderValue};
/// use clientcreds_axum::{ForwardedHeader, TrustedProxies};
/// use clientcreds_registry::Source;
///
/// let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1")?;
/// let mut headers = HeaderMap::new();
/// // The caller sent a forged hop; the edge proxy appended the address it saw.
/// headers.insert("x-forwarded-for", HeaderValue::from_static("192.0.2.66, 198.51.100.7, 10.1.2.3"));
/// let peer = "127.0.0.1".parse()?;
/// assert_eq!(proxies.source(peer, &headers), Source::client("198.51.100.7".parse()?));
///
/// // A peer that is not a trusted proxy is the caller, whatever it sends.
/// let direct = "203.0.113.9".parse()?;
/// assert_eq!(proxies.source(direct, &headers), Source::client(direct));
///
/// // RFC 7239 instead, when the proxy writes it.
/// let proxies = proxies.with_header(ForwardedHeader::Forwarded);
/// let mut headers = HeaderMap::new();
/// headers.insert("forwarded", HeaderValue::from_static(r#"for="[2001:db8::1]:443";proto=https"#));
/// assert_eq!(proxies.source(peer, &headers), Source::client("2001:db8::1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedProxies {
    networks: Vec<Network>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// No trusted proxy: the peer is the caller (a loopback peer is a
    /// shared source).
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Addresses and CIDR networks separated by commas or white space
    /// (`"10.0.0.0/8, 192.168.1.7, ::1, fd00::/8"`); reading
    /// `X-Forwarded-For` (see [`TrustedProxies::with_header`]). An empty
    /// list trusts no proxy.
    ///
    /// # Errors
    /// [`Error::Invalid`] for `trusted_proxies`, naming the entry that is
    /// not an address or a network (a prefix too long, host bits set past
    /// the prefix).
    pub fn parse(list: &str) -> Result<Self, Error> {
        let networks = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(Network::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            networks,
            header: ForwardedHeader::default(),
        })
    }

    /// Reads `header` (the one your proxies write) instead of
    /// `X-Forwarded-For`.
    #[must_use]
    pub fn with_header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The header read.
    #[must_use]
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }

    /// Whether no proxy is trusted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// Whether `address` is a trusted proxy.
    #[must_use]
    pub fn trusts(&self, address: IpAddr) -> bool {
        let address = unmap(address);
        self.networks.iter().any(|n| n.contains(address))
    }

    /// The caller of a request that came from `peer` with `headers`.
    #[must_use]
    pub fn source(&self, peer: IpAddr, headers: &HeaderMap) -> Source {
        let peer = unmap(peer);
        if !self.trusts(peer) {
            return if peer.is_loopback() {
                Source::shared(peer)
            } else {
                Source::client(peer)
            };
        }
        let Some(hops) = forwarded::hops(headers, &self.header.name()) else {
            return Source::shared(peer);
        };
        for hop in hops.iter().rev() {
            match *hop {
                Hop::Addr(address) if self.trusts(address) => {}
                Hop::Addr(address) => return Source::client(unmap(address)),
                Hop::Unknown => break,
            }
        }
        Source::shared(peer)
    }
}

impl FromStr for TrustedProxies {
    type Err = Error;

    fn from_str(list: &str) -> Result<Self, Error> {
        Self::parse(list)
    }
}

/// How a router finds the caller's [`Source`].
#[derive(Clone)]
pub(crate) enum SourceFinder {
    /// The peer, through trusted proxies.
    Proxies {
        proxies: TrustedProxies,
        /// Whether the missing-configuration warning was logged.
        warned: Arc<AtomicBool>,
    },
    /// The host's own function; its address is the caller's own.
    Custom(ClientAddress),
}

impl fmt::Debug for SourceFinder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Proxies { proxies, .. } => f.debug_tuple("Proxies").field(proxies).finish(),
            Self::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Default for SourceFinder {
    fn default() -> Self {
        Self::proxies(TrustedProxies::none())
    }
}

impl SourceFinder {
    pub(crate) fn proxies(proxies: TrustedProxies) -> Self {
        Self::Proxies {
            proxies,
            warned: Arc::default(),
        }
    }

    /// The caller of `parts`; `None` without a peer address (the router is
    /// served without connection info) unless the host's function says.
    pub(crate) fn find(&self, parts: &Parts) -> Option<Source> {
        match self {
            Self::Custom(find) => find(parts).map(Source::client),
            Self::Proxies { proxies, warned } => {
                let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
                let peer = peer.ip();
                if proxies.is_empty()
                    && (parts.headers.contains_key(X_FORWARDED_FOR)
                        || parts.headers.contains_key(FORWARDED))
                    && !warned.swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        "a request came with a forwarding header, but no proxy is trusted: the \
                         failure throttle takes the peer address as the caller, so every caller \
                         behind that proxy shares one source. Name your proxies' addresses or \
                         networks (TrustedProxies, CLIENTCREDS_TRUSTED_PROXIES in the reference \
                         server)"
                    );
                }
                Some(proxies.source(peer, &parts.headers))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn xff(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn networks_parse_or_say_what_is_wrong() {
        let proxies = TrustedProxies::parse(" 10.0.0.0/8,192.168.1.7 ::1\tfd00::/8,,").unwrap();
        for trusted in [
            "10.1.2.3",
            "192.168.1.7",
            "::1",
            "fd12::1",
            "::ffff:10.9.9.9",
        ] {
            assert!(proxies.trusts(ip(trusted)), "{trusted}");
        }
        for untrusted in ["11.0.0.1", "192.168.1.8", "::2", "fe00::1", "127.0.0.1"] {
            assert!(!proxies.trusts(ip(untrusted)), "{untrusted}");
        }
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(
            TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .trusts(ip("203.0.113.1"))
        );
        assert!(
            !TrustedProxies::parse("0.0.0.0/0")
                .unwrap()
                .trusts(ip("2001:db8::1"))
        );
        assert!(
            TrustedProxies::parse("::/0")
                .unwrap()
                .trusts(ip("2001:db8::1"))
        );
        for (bad, says) in [
            ("10.0.0.0/33", "prefix length"),
            ("fd00::/129", "prefix length"),
            ("10.0.0.1/8", "bits set"),
            ("10.0.0.0/x", "prefix length"),
            ("proxy.internal", "not an IP address"),
            ("10.0.0.0/", "prefix length"),
        ] {
            let error = TrustedProxies::parse(bad).unwrap_err().to_string();
            assert!(
                error.contains("trusted_proxies") && error.contains(bad) && error.contains(says),
                "{error}"
            );
        }
        assert_eq!(
            "Forwarded".parse::<ForwardedHeader>().unwrap(),
            ForwardedHeader::Forwarded
        );
        assert!(
            "x-real-ip"
                .parse::<ForwardedHeader>()
                .unwrap_err()
                .to_string()
                .contains("x-real-ip")
        );
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        let peer = ip("127.0.0.1");
        // Forged hops left of the real one change nothing.
        assert_eq!(
            proxies.source(peer, &xff("6.6.6.6, 198.51.100.7, 10.0.0.2")),
            Source::client(ip("198.51.100.7"))
        );
        assert_eq!(
            proxies.source(peer, &xff("198.51.100.7")),
            Source::client(ip("198.51.100.7"))
        );
        assert_eq!(
            proxies.source(ip("::ffff:127.0.0.1"), &xff("::ffff:198.51.100.7")),
            Source::client(ip("198.51.100.7"))
        );
        // Nothing to read, a hop that cannot be read, only trusted hops:
        // the peer, shared.
        for headers in [
            HeaderMap::new(),
            xff("198.51.100.7, garbage"),
            xff("198.51.100.7, unknown, 10.0.0.3"),
            xff("10.0.0.2, 10.0.0.3"),
            xff(""),
        ] {
            assert_eq!(
                proxies.source(peer, &headers),
                Source::shared(peer),
                "{headers:?}"
            );
        }
        // An unreadable hop left of the client does not matter.
        assert_eq!(
            proxies.source(peer, &xff("garbage, 198.51.100.7")),
            Source::client(ip("198.51.100.7"))
        );
        // The other header is ignored.
        let mut headers = xff("198.51.100.7");
        headers.insert(FORWARDED, HeaderValue::from_static("for=6.6.6.6"));
        assert_eq!(
            proxies.source(peer, &headers),
            Source::client(ip("198.51.100.7"))
        );
        let forwarded = proxies.clone().with_header(ForwardedHeader::Forwarded);
        assert_eq!(
            forwarded.source(peer, &headers),
            Source::client(ip("6.6.6.6"))
        );
        assert_eq!(
            forwarded.source(peer, &xff("198.51.100.7")),
            Source::shared(peer)
        );
    }

    #[test]
    fn an_untrusted_peer_is_the_caller_and_loopback_is_shared() {
        let none = TrustedProxies::none();
        let headers = xff("198.51.100.7");
        assert_eq!(
            none.source(ip("203.0.113.9"), &headers),
            Source::client(ip("203.0.113.9"))
        );
        assert_eq!(
            none.source(ip("127.0.0.1"), &headers),
            Source::shared(ip("127.0.0.1"))
        );
        assert_eq!(none.source(ip("::1"), &headers), Source::shared(ip("::1")));
        assert_eq!(
            none.source(ip("::ffff:127.0.0.1"), &HeaderMap::new()),
            Source::shared(ip("127.0.0.1"))
        );
        let some = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(
            some.source(ip("127.0.0.2"), &headers),
            Source::shared(ip("127.0.0.2"))
        );
        assert_eq!(
            some.source(ip("10.0.0.2"), &headers),
            Source::client(ip("10.0.0.2"))
        );
    }

    #[test]
    fn ipv6_in_forwarded() {
        let proxies = TrustedProxies::parse("2001:db8:ffff::/48")
            .unwrap()
            .with_header(ForwardedHeader::Forwarded);
        let mut headers = HeaderMap::new();
        headers.insert(
            FORWARDED,
            HeaderValue::from_static(
                "for=\"[2001:db8::1]:443\";proto=https, for=\"[2001:db8:ffff::2]\";by=_edge",
            ),
        );
        assert_eq!(
            proxies.source(ip("2001:db8:ffff::3"), &headers),
            Source::client(ip("2001:db8::1"))
        );
    }
}
