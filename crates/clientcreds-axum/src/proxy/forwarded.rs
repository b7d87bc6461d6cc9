//! Reading the hops of `Forwarded` (RFC 7239) and `X-Forwarded-For`.
//!
//! Both readers are total: any input gives hops, never a panic; a part
//! they cannot read is a [`Hop::Unknown`], which stops the walk from the
//! right (the caller then falls back to the peer as a shared source).
//! Work is bounded by [`MAX_HEADER_BYTES`] and [`MAX_HOPS`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::HeaderMap;
use axum::http::header::{FORWARDED, HeaderName};

/// Longest forwarding header read, all its lines together (8 KiB): past
/// it, the header is not read at all and the client address is unknown.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Most hops walked from the right (32): past them, the client address is
/// unknown.
pub const MAX_HOPS: usize = 32;

/// One hop of a forwarding header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hop {
    /// An address.
    Addr(IpAddr),
    /// `unknown`, an obfuscated identifier, or text that does not parse.
    Unknown,
}

/// `X-Forwarded-For`.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The hops of header `name` (`Forwarded` or `X-Forwarded-For`), left to
/// right, at most [`MAX_HOPS`] of them (the right-most); `None` when
/// the header is absent or longer than [`MAX_HEADER_BYTES`].
pub(crate) fn hops(headers: &HeaderMap, name: &HeaderName) -> Option<Vec<Hop>> {
    let mut total = 0usize;
    let mut any = false;
    for value in headers.get_all(name) {
        any = true;
        total = total.saturating_add(value.len()).saturating_add(1);
        if total > MAX_HEADER_BYTES {
            return None;
        }
    }
    if !any {
        return None;
    }
    let forwarded = name == FORWARDED;
    let mut hops = Vec::new();
    for value in headers.get_all(name) {
        let Ok(text) = value.to_str() else {
            hops.push(Hop::Unknown);
            continue;
        };
        if forwarded {
            hops.extend(split_unquoted(text, b',').map(forwarded_element));
        } else {
            hops.extend(text.split(',').map(x_forwarded_for_element));
        }
    }
    // Only the right-most hops are ever walked.
    if hops.len() > MAX_HOPS {
        hops.drain(..hops.len() - MAX_HOPS);
    }
    Some(hops)
}

/// One element of `X-Forwarded-For`: an address, `[v6]`, `[v6]:port` or
/// `v4:port`.
pub(crate) fn x_forwarded_for_element(text: &str) -> Hop {
    let text = text.trim_matches([' ', '\t']);
    if let Ok(address) = text.parse::<IpAddr>() {
        return Hop::Addr(address);
    }
    node_address(text, true).map_or(Hop::Unknown, Hop::Addr)
}

/// The `for` node of one `Forwarded` element (`for=192.0.2.60;proto=http`,
/// `for="[2001:db8::1]:443"`).
pub(crate) fn forwarded_element(element: &str) -> Hop {
    let mut found = None;
    for pair in split_unquoted(element, b';') {
        let pair = pair.trim_matches([' ', '\t']);
        if pair.is_empty() {
            continue;
        }
        let Some((name, value)) = pair.split_once('=') else {
            return Hop::Unknown;
        };
        if !name.trim_matches([' ', '\t']).eq_ignore_ascii_case("for") {
            continue;
        }
        if found.is_some() {
            // `for` twice in one element: not a valid element.
            return Hop::Unknown;
        }
        found = Some(value.trim_matches([' ', '\t']));
    }
    let Some(value) = found else {
        return Hop::Unknown;
    };
    let (node, quoted) = match unquote(value) {
        Some(inner) => (inner, true),
        None if value.contains('"') => return Hop::Unknown,
        None => (value, false),
    };
    node_address(node, quoted).map_or(Hop::Unknown, Hop::Addr)
}

/// A node: `v4`, `v4:port`, `[v6]`, `[v6]:port`. A port, or brackets,
/// need quotes in `Forwarded` (`quoted`); `unknown`, obfuscated names and
/// anything else are `None`.
fn node_address(node: &str, quoted: bool) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let v6: Ipv6Addr = inside.parse().ok()?;
        if !quoted || !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return Some(IpAddr::V6(v6));
    }
    let (host, port) = match node.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (node, None),
    };
    let v4: Ipv4Addr = host.parse().ok()?;
    match port {
        None => Some(IpAddr::V4(v4)),
        Some(port) if quoted && is_port(port) => Some(IpAddr::V4(v4)),
        Some(_) => None,
    }
}

/// `1*5DIGIT` or an obfuscated port (`_` and letters, digits, `.`, `_`, `-`).
fn is_port(port: &str) -> bool {
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.len() > 1
        && port.starts_with('_')
        && port
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    (digits && port.parse::<u16>().is_ok()) || obfuscated
}

/// The inside of a quoted string without escapes, or `None` when `value`
/// is not exactly one quoted string. A node never needs an escape, so one
/// makes the value unreadable.
fn unquote(value: &str) -> Option<&str> {
    let inner = value.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains(['"', '\\'])).then_some(inner)
}

/// `text` split on `separator` outside quoted strings (a `\` escapes the
/// next byte inside quotes). An unclosed quote runs to the end.
fn split_unquoted(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, byte) in current.bytes().enumerate() {
            if escaped {
                escaped = false;
            } else if quoted && byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                quoted = !quoted;
            } else if !quoted && byte == separator {
                // `i` is at an ASCII byte: a char boundary.
                let (part, after) = current.split_at(i);
                rest = after.get(1..);
                return Some(part);
            }
        }
        rest = None;
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> Hop {
        Hop::Addr(text.parse().unwrap())
    }

    #[test]
    fn forwarded_elements() {
        assert_eq!(forwarded_element("for=192.0.2.60"), ip("192.0.2.60"));
        assert_eq!(
            forwarded_element("for=192.0.2.60;proto=http;by=203.0.113.43"),
            ip("192.0.2.60")
        );
        assert_eq!(forwarded_element("For=\"192.0.2.60\""), ip("192.0.2.60"));
        assert_eq!(
            forwarded_element("for=\"192.0.2.60:8080\""),
            ip("192.0.2.60")
        );
        assert_eq!(
            forwarded_element("for=\"[2001:db8::1]:443\""),
            ip("2001:db8::1")
        );
        assert_eq!(
            forwarded_element("for=\"[2001:db8:cafe::17]\""),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            forwarded_element(" proto=https ; for=\"[::ffff:192.0.2.1]:_abc\""),
            ip("::ffff:192.0.2.1")
        );
        for bad in [
            "",
            "for=",
            "for=unknown",
            "for=\"unknown\"",
            "for=_hidden",
            "for=[2001:db8::1]",
            "for=2001:db8::1",
            "for=\"[2001:db8::1\"",
            "for=\"[2001:db8::1]x\"",
            "for=\"[2001:db8::1]:99999\"",
            "for=192.0.2.60:80",
            "for=\"192.0.2.60:\"",
            "for=\"192.0.2.60",
            "for=192.0.2.60\"",
            "for=\"192.0.2\\.60\"",
            "for=192.0.2.60;for=198.51.100.1",
            "proto=http",
            "for",
            "by=192.0.2.1",
            "for=\"[]\"",
            "for=300.1.1.1",
        ] {
            assert_eq!(forwarded_element(bad), Hop::Unknown, "{bad}");
        }
    }

    #[test]
    fn x_forwarded_for_elements() {
        assert_eq!(x_forwarded_for_element(" 192.0.2.60 "), ip("192.0.2.60"));
        assert_eq!(x_forwarded_for_element("2001:db8::1"), ip("2001:db8::1"));
        assert_eq!(x_forwarded_for_element("[2001:db8::1]"), ip("2001:db8::1"));
        assert_eq!(
            x_forwarded_for_element("[2001:db8::1]:443"),
            ip("2001:db8::1")
        );
        assert_eq!(x_forwarded_for_element("192.0.2.60:443"), ip("192.0.2.60"));
        for bad in [
            "",
            " ",
            "unknown",
            "example.com",
            "192.0.2.60:",
            "192.0.2.60:x",
            "[2001:db8::1",
            "[2001:db8::1]443",
            "1.2.3.4.5",
            "::1%eth0",
        ] {
            assert_eq!(x_forwarded_for_element(bad), Hop::Unknown, "{bad}");
        }
    }

    #[test]
    fn quoted_separators_do_not_split() {
        let parts: Vec<&str> = split_unquoted("a=\"x,y\",b=\"\\\",\",c", b',').collect();
        assert_eq!(parts, ["a=\"x,y\"", "b=\"\\\",\"", "c"]);
        let parts: Vec<&str> = split_unquoted("\"open,never closed", b',').collect();
        assert_eq!(parts, ["\"open,never closed"]);
        let parts: Vec<&str> = split_unquoted(",", b',').collect();
        assert_eq!(parts, ["", ""]);
    }

    #[test]
    fn headers_of_several_lines_are_one_list_and_bounded() {
        let mut headers = HeaderMap::new();
        headers.append(
            FORWARDED,
            HeaderValue::from_static("for=192.0.2.1, for=\"[2001:db8::2]\""),
        );
        headers.append(FORWARDED, HeaderValue::from_static("for=198.51.100.3"));
        assert_eq!(
            hops(&headers, &FORWARDED).unwrap(),
            [ip("192.0.2.1"), ip("2001:db8::2"), ip("198.51.100.3")]
        );
        assert_eq!(hops(&headers, &X_FORWARDED_FOR), None);

        let long = vec!["10.0.0.1"; 100].join(",");
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_str(&long).unwrap());
        assert_eq!(hops(&headers, &X_FORWARDED_FOR).unwrap().len(), MAX_HOPS);

        let huge = "1".repeat(MAX_HEADER_BYTES + 1);
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_str(&huge).unwrap());
        assert_eq!(hops(&headers, &X_FORWARDED_FOR), None);

        // Bytes that are not visible ASCII are one unknown hop.
        headers.insert(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"192.0.2.1, \xff\xfe").unwrap(),
        );
        assert_eq!(hops(&headers, &X_FORWARDED_FOR).unwrap(), [Hop::Unknown]);
    }

    /// Arbitrary bytes never panic and never cost more than the bound.
    #[test]
    fn any_text_is_read_without_panicking() {
        // Pieces of valid and broken headers, joined at random.
        let pieces = [
            "for=",
            "For=",
            "\"",
            "[",
            "]",
            ":",
            ";",
            ",",
            " ",
            "\t",
            "\\",
            "=",
            "_x",
            "unknown",
            "proto=http",
            "by=",
            "2001:db8::1",
            "192.0.2.1",
            "10.0.0.1",
            "443",
            "99999",
            "::ffff:",
            "a",
            "0",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut accepted, mut unknown) = (0, 0);
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..next() % 12 {
                let index = usize::try_from(next() % pieces.len() as u64).unwrap();
                text.push_str(pieces[index]);
            }
            match forwarded_element(&text) {
                Hop::Addr(_) => accepted += 1,
                Hop::Unknown => unknown += 1,
            }
            if let Hop::Addr(_) = x_forwarded_for_element(&text) {
                accepted += 1;
            }
            let _ = split_unquoted(&text, b',').count();
            if let Ok(value) = HeaderValue::from_str(&text) {
                let mut headers = HeaderMap::new();
                headers.insert(FORWARDED, value.clone());
                headers.insert(X_FORWARDED_FOR, value);
                assert!(hops(&headers, &FORWARDED).is_some_and(|h| h.len() <= MAX_HOPS));
                assert!(hops(&headers, &X_FORWARDED_FOR).is_some_and(|h| h.len() <= MAX_HOPS));
            }
        }
        // The generator reaches both outcomes.
        assert!(accepted > 0 && unknown > 0, "{accepted} {unknown}");
    }
}
