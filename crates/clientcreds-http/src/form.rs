//! Strict `application/x-www-form-urlencoded` decoding.

/// Why a form could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    BadUtf8,
}

/// Decodes one form component: `+` is a space, `%XY` a byte; the result
/// must be UTF-8. Unlike lenient decoders, a bad escape is an error.
pub(crate) fn decode_component(input: &str) -> Result<String, FormError> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|c| hex(*c));
                let lo = bytes.get(i + 2).and_then(|c| hex(*c));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(FormError::BadEscape);
                };
                out.push(hi << 4 | lo);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError::BadUtf8)
}

/// Splits a form body into decoded `(name, value)` pairs, in order.
pub(crate) fn parse(body: &str) -> Result<Vec<(String, String)>, FormError> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_strictly() {
        assert_eq!(decode_component("a+b%20c%2Bd%3A").unwrap(), "a b c+d:");
        assert_eq!(decode_component("%C3%A9").unwrap(), "é");
        assert_eq!(decode_component("%zz"), Err(FormError::BadEscape));
        assert_eq!(decode_component("%4"), Err(FormError::BadEscape));
        assert_eq!(decode_component("%"), Err(FormError::BadEscape));
        assert_eq!(decode_component("%FF"), Err(FormError::BadUtf8));
        assert_eq!(
            parse("a=1&&b=&c").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), String::new()),
                ("c".into(), String::new())
            ]
        );
    }
}
