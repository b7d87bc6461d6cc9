//! Strict `application/x-www-form-urlencoded` decoding into zeroizing
//! buffers: a decoded value (a `client_secret`, an introspected `token`)
//! is wiped when it is dropped, whether the parse succeeds or fails.

use zeroize::Zeroizing;

/// Decoded form text, wiped on drop.
pub(crate) type Text = Zeroizing<String>;

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
///
/// The output never outgrows its first allocation (decoding only shrinks),
/// so no copy of the plaintext is left behind in freed memory; on an error
/// the partial output is wiped too.
pub(crate) fn decode_component(input: &str) -> Result<Text, FormError> {
    let bytes = input.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
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
    into_text(out).ok_or(FormError::BadUtf8)
}

/// Moves UTF-8 bytes into a zeroizing string without copying them; `None`
/// (and the bytes wiped) when they are not UTF-8.
pub(crate) fn into_text(mut bytes: Zeroizing<Vec<u8>>) -> Option<Text> {
    std::str::from_utf8(&bytes).ok()?;
    // Checked just above, so this cannot fail (and `ok()` would drop the
    // error's copy of the bytes without wiping them only if it did).
    String::from_utf8(std::mem::take(&mut *bytes))
        .ok()
        .map(Zeroizing::new)
}

/// Splits a form body into decoded `(name, value)` pairs, in order.
pub(crate) fn parse(body: &str) -> Result<Vec<(Text, Text)>, FormError> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

/// The number of pairs [`parse`] would return, without decoding anything.
pub(crate) fn count(body: &str) -> usize {
    body.split('&').filter(|pair| !pair.is_empty()).count()
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

    fn text(s: &str) -> Text {
        Zeroizing::new(s.to_owned())
    }

    #[test]
    fn decodes_strictly() {
        assert_eq!(
            decode_component("a+b%20c%2Bd%3A").unwrap(),
            text("a b c+d:")
        );
        assert_eq!(decode_component("%C3%A9").unwrap(), text("é"));
        assert_eq!(decode_component("%zz"), Err(FormError::BadEscape));
        assert_eq!(decode_component("%4"), Err(FormError::BadEscape));
        assert_eq!(decode_component("%"), Err(FormError::BadEscape));
        assert_eq!(decode_component("%FF"), Err(FormError::BadUtf8));
        assert_eq!(
            parse("a=1&&b=&c").unwrap(),
            vec![
                (text("a"), text("1")),
                (text("b"), text("")),
                (text("c"), text(""))
            ]
        );
        assert_eq!(count("a=1&&b=&c&"), 3);
    }

    #[test]
    fn the_decoded_buffer_is_never_reallocated() {
        // Decoding only shrinks, so the first allocation holds the result:
        // no freed, unwiped copy of a secret is left behind.
        let input = "p%40ss+word%21";
        let decoded = decode_component(input).unwrap();
        assert_eq!(decoded.as_str(), "p@ss word!");
        assert_eq!(decoded.capacity(), input.len());
    }
}
