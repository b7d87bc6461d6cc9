//! The forwarding headers a proxy writes (`X-Forwarded-For`, RFC 7239
//! `Forwarded`), read by `clientcreds_axum::TrustedProxies`.

use std::net::IpAddr;
use std::sync::LazyLock;

use clientcreds_axum::{ForwardedHeader, TrustedProxies};
use clientcreds_registry::Source;
use http::{HeaderMap, HeaderValue};

use crate::Outcome;

/// The trusted networks of the fixture, and a peer inside them.
static PROXIES: LazyLock<TrustedProxies> =
    LazyLock::new(
        || match TrustedProxies::parse("10.0.0.0/8, 2001:db8:ffff::/48, 127.0.0.1") {
            Ok(proxies) => proxies,
            Err(e) => panic!("a fixed fuzzing fixture cannot be built: {e}"),
        },
    );
const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
const OUTSIDER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));

/// First byte: odd reads `Forwarded`, even `X-Forwarded-For`; the rest is
/// the header's lines, split at `\n`.
///
/// Properties: the caller found is never a trusted proxy; when none is
/// found the source is the peer, shared; a peer that is not trusted is
/// the caller whatever the header says; and the caller found, written
/// back as the only hop, is found again.
pub fn forwarded_header(data: &[u8]) -> Outcome {
    let Some((&selector, rest)) = data.split_first() else {
        return Outcome::Skipped;
    };
    let header = if selector % 2 == 1 {
        ForwardedHeader::Forwarded
    } else {
        ForwardedHeader::XForwardedFor
    };
    let proxies = PROXIES.clone().with_header(header);
    let mut headers = HeaderMap::new();
    for line in rest.split(|b| *b == b'\n') {
        let Ok(value) = HeaderValue::from_bytes(line) else {
            return Outcome::Skipped;
        };
        headers.append(header.as_str(), value);
    }
    assert_eq!(
        proxies.source(OUTSIDER, &headers),
        Source::client(OUTSIDER),
        "an untrusted peer's header was believed"
    );
    let source = proxies.source(PEER, &headers);
    if source.is_shared() {
        assert_eq!(
            source,
            Source::shared(PEER),
            "a shared source that is not the peer"
        );
        return Outcome::Refused;
    }
    let caller = source.address();
    assert!(
        !proxies.trusts(caller),
        "a trusted proxy was taken as the caller"
    );
    let alone = match (header, caller) {
        (ForwardedHeader::Forwarded, IpAddr::V6(v6)) => format!("for=\"[{v6}]\""),
        (ForwardedHeader::Forwarded, IpAddr::V4(v4)) => format!("for={v4}"),
        (_, address) => address.to_string(),
    };
    let Ok(value) = HeaderValue::from_str(&alone) else {
        panic!("an address did not make a header value");
    };
    let mut again = HeaderMap::new();
    again.insert(header.as_str(), value);
    assert_eq!(proxies.source(PEER, &again), source, "caller round trip");
    Outcome::Accepted
}
