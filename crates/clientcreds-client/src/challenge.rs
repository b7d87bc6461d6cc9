//! Reading an API's `WWW-Authenticate` challenges: `Bearer` (RFC 6750 §3)
//! and `DPoP` (RFC 9449 §7.1), and what the caller should do about them.

use http::header::WWW_AUTHENTICATE;

/// What to do after an API's response, as
/// [`TokenSource::inspect_response`](crate::TokenSource::inspect_response)
/// decides: send the request once more, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub enum Retry {
    /// Keep the response.
    No,
    /// 401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"` and a
    /// `DPoP-Nonce` header (RFC 9449 §9): the nonce is remembered; send the
    /// request again with a new proof (same token).
    WithNonce,
    /// 401 `invalid_token`: the token was dropped from the cache; send the
    /// request again with a fresh token.
    WithFreshToken,
}

/// Whether a response is 401 with a `Bearer` or `DPoP` challenge whose
/// `error` is `invalid_token`: the API rejected the token itself
/// (expired, revoked, signed by a rotated key), so a new one may succeed.
/// A 401 without that code (no token sent, wrong scheme,
/// `invalid_dpop_proof`) or a 403 `insufficient_scope` is not retried: a
/// new token for the same scopes would fare no better.
#[must_use]
pub fn is_invalid_token(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    status == http::StatusCode::UNAUTHORIZED
        && has_error(headers, |scheme, error| {
            (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop"))
                && error == "invalid_token"
        })
}

/// Whether a response is 401 with a `DPoP` challenge whose `error` is
/// `use_dpop_nonce` (RFC 9449 §9): the resource server wants a proof with
/// the nonce of its `DPoP-Nonce` header.
#[must_use]
pub fn is_use_dpop_nonce(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    status == http::StatusCode::UNAUTHORIZED
        && has_error(headers, |scheme, error| {
            scheme.eq_ignore_ascii_case("dpop") && error == "use_dpop_nonce"
        })
}

/// Whether any challenge of any `WWW-Authenticate` header has an `error`
/// for which `wanted(scheme, error)` holds.
fn has_error(headers: &http::HeaderMap, wanted: impl Fn(&str, &str) -> bool) -> bool {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            challenges(value)
                .iter()
                .any(|(scheme, error)| error.as_deref().is_some_and(|e| wanted(scheme, e)))
        })
}

/// The challenges of one header value (RFC 9110 §11.6.1: a header may
/// carry several, comma separated, with quoted parameter values that may
/// hold commas), each as its scheme and its `error` parameter.
fn challenges(value: &str) -> Vec<(&str, Option<String>)> {
    let bytes = value.as_bytes();
    let mut found: Vec<(&str, Option<String>)> = Vec::new();
    let mut i = 0;
    let is_token = |b: u8| !matches!(b, b' ' | b'\t' | b',' | b'=' | b'"');
    loop {
        while bytes
            .get(i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b','))
        {
            i += 1;
        }
        if i >= bytes.len() {
            return found;
        }
        let start = i;
        while bytes.get(i).copied().is_some_and(is_token) {
            i += 1;
        }
        let word = value.get(start..i).unwrap_or_default();
        let mut j = i;
        while bytes.get(j).is_some_and(|b| matches!(b, b' ' | b'\t')) {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            if word.is_empty() {
                // A stray quote or `=`: skip it.
                i += 1;
            } else {
                found.push((word, None));
            }
            continue;
        }
        // An auth-param (or a token68's padding): `name = value`.
        i = j + 1;
        while bytes
            .get(i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'='))
        {
            i += 1;
        }
        let param = if bytes.get(i) == Some(&b'"') {
            i += 1;
            let mut text = String::new();
            while let Some(&b) = bytes.get(i) {
                i += 1;
                match b {
                    b'"' => break,
                    b'\\' => {
                        if let Some(&escaped) = bytes.get(i) {
                            text.push(char::from(escaped));
                            i += 1;
                        }
                    }
                    _ => text.push(char::from(b)),
                }
            }
            text
        } else {
            let start = i;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b' ' | b'\t' | b','))
            {
                i += 1;
            }
            value.get(start..i).unwrap_or_default().to_owned()
        };
        if word.eq_ignore_ascii_case("error")
            && let Some((_, error)) = found.last_mut()
            && error.is_none()
        {
            *error = Some(param);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append(WWW_AUTHENTICATE, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_invalid_token_counts() {
        let check = |status: u16, value: &str| {
            is_invalid_token(
                http::StatusCode::from_u16(status).unwrap(),
                &headers(&[value]),
            )
        };
        assert!(check(
            401,
            r#"Bearer realm="x", error="invalid_token", error_description="expired""#
        ));
        assert!(check(401, "bearer error=invalid_token"));
        assert!(check(
            401,
            r#"DPoP algs="ES256 EdDSA", error="invalid_token""#
        ));
        assert!(!check(401, r#"Bearer realm="x""#));
        assert!(!check(401, r#"Bearer error_description="invalid_token""#));
        assert!(!check(403, r#"Bearer error="invalid_token""#));
        assert!(!check(401, r#"Basic error="invalid_token""#));
        assert!(!check(401, r#"DPoP error="invalid_dpop_proof""#));
        assert!(!check(
            403,
            r#"Bearer error="insufficient_scope", scope="echo""#
        ));
    }

    #[test]
    fn several_challenges_in_one_header_are_told_apart() {
        let one = headers(&[
            r#"DPoP algs="ES256, EdDSA", error="use_dpop_nonce", error_description="a, b", Bearer realm="api""#,
        ]);
        assert!(is_use_dpop_nonce(http::StatusCode::UNAUTHORIZED, &one));
        assert!(!is_invalid_token(http::StatusCode::UNAUTHORIZED, &one));
        // The error belongs to the Bearer challenge, not the DPoP one.
        let bearer = headers(&[r#"DPoP algs="ES256", Bearer error="use_dpop_nonce""#]);
        assert!(!is_use_dpop_nonce(http::StatusCode::UNAUTHORIZED, &bearer));
        let two = headers(&[r#"Bearer realm="api""#, r#"DPoP error="use_dpop_nonce""#]);
        assert!(is_use_dpop_nonce(http::StatusCode::UNAUTHORIZED, &two));
        assert!(!is_use_dpop_nonce(http::StatusCode::BAD_REQUEST, &two));
        let escaped = headers(&[r#"DPoP error_description="say \"hi\"", error="invalid_token""#]);
        assert!(is_invalid_token(http::StatusCode::UNAUTHORIZED, &escaped));
        // Garbage neither panics nor matches.
        for junk in [
            "",
            "=",
            "\"",
            "DPoP ===",
            "DPoP error=\"",
            ", , ,",
            "Negotiate YWJj==",
        ] {
            assert!(!is_use_dpop_nonce(
                http::StatusCode::UNAUTHORIZED,
                &headers(&[junk])
            ));
        }
    }
}
