//! How a source address is counted: which buckets a failure lands in.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The well-known NAT64 prefix, `64:ff9b::/96` (RFC 6052): the last 32
/// bits are the IPv4 address the translator stands for.
const NAT64_PREFIX: [u16; 6] = [0x64, 0xff9b, 0, 0, 0, 0];

/// A counter's key: one IPv4 address, or an IPv6 prefix of a given length.
/// The length is part of the key, so a /48 never shares a counter with
/// the /64 that has the same leading bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bucket {
    V4(Ipv4Addr),
    V6 { prefix: u128, len: u8 },
}

/// The address as counted: IPv4 mapped into IPv6 (`::ffff:a.b.c.d`, as a
/// dual-stack listener reports it) and IPv4 behind the well-known NAT64
/// prefix (`64:ff9b::a.b.c.d`) are the IPv4 address; everything else is
/// itself.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            embedded_nat64(v6).map_or(address, IpAddr::V4)
        }
    }
}

fn embedded_nat64(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if !v6.segments().starts_with(&NAT64_PREFIX) {
        return None;
    }
    let [.., a, b, c, d] = v6.octets();
    Some(Ipv4Addr::new(a, b, c, d))
}

/// The bucket of `address` (already [`canonical`]) at `len` bits: an IPv4
/// address is always itself.
pub(crate) fn bucket(address: IpAddr, len: u8) -> Bucket {
    match address {
        IpAddr::V4(v4) => Bucket::V4(v4),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            Bucket::V6 {
                prefix: bits & mask,
                len,
            }
        }
    }
}

/// The one counter a (client id, source) pair is keyed by: the IPv4
/// address, or the IPv6 /64 (one host usually holds a whole /64).
pub(crate) fn host(address: IpAddr) -> Bucket {
    bucket(address, 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn mapped_and_nat64_addresses_are_their_ipv4() {
        let v4 = ip("198.51.100.7");
        assert_eq!(canonical(ip("::ffff:198.51.100.7")), v4);
        assert_eq!(canonical(ip("64:ff9b::198.51.100.7")), v4);
        assert_eq!(canonical(ip("64:ff9b::c633:6407")), v4);
        // Another /96 is not NAT64.
        assert_eq!(
            canonical(ip("64:ff9b:1::198.51.100.7")),
            ip("64:ff9b:1::198.51.100.7")
        );
        assert_eq!(canonical(ip("2001:db8::1")), ip("2001:db8::1"));
        assert_eq!(canonical(v4), v4);
    }

    #[test]
    fn prefixes_of_different_lengths_never_share_a_key() {
        let a = ip("2001:db8:1::");
        assert_ne!(bucket(a, 64), bucket(a, 48));
        assert_eq!(
            bucket(ip("2001:db8:1:2::7"), 48),
            bucket(ip("2001:db8:1:ffff::1"), 48)
        );
        assert_ne!(
            bucket(ip("2001:db8:1:2::7"), 48),
            bucket(ip("2001:db8:2:2::7"), 48)
        );
        assert_eq!(
            bucket(ip("2001:db8:1::"), 32),
            bucket(ip("2001:db8:ffff::"), 32)
        );
        assert_eq!(bucket(ip("2001:db8::1"), 0), bucket(ip("::1"), 0));
        assert_eq!(host(ip("2001:db8:1:2::7")), host(ip("2001:db8:1:2::8")));
        assert_eq!(
            host(ip("192.0.2.1")),
            Bucket::V4("192.0.2.1".parse().unwrap_or(Ipv4Addr::UNSPECIFIED))
        );
    }
}
