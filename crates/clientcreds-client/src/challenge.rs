//! Reading an API's `WWW-Authenticate: Bearer` challenge (RFC 6750 §3).

use http::header::WWW_AUTHENTICATE;

/// Whether a response is 401 with a Bearer challenge whose `error` is
/// `invalid_token`: the API rejected the token itself (expired, revoked,
/// signed by a rotated key), so a new one may succeed. A 401 without that
/// code (no token sent, wrong scheme) or a 403 `insufficient_scope` is not
/// retried: a new token for the same scopes would fare no better.
#[must_use]
pub fn is_invalid_token(status: http::StatusCode, headers: &http::HeaderMap) -> bool {
    status == http::StatusCode::UNAUTHORIZED
        && headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| bearer_error(value) == Some("invalid_token"))
}

/// The `error` parameter of a `Bearer` challenge.
fn bearer_error(challenge: &str) -> Option<&str> {
    let (scheme, params) = challenge.trim_start().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    params.split(',').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("error")
            .then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_bearer_invalid_token_counts() {
        let check = |status: u16, value: &str| {
            let mut headers = http::HeaderMap::new();
            headers.insert(WWW_AUTHENTICATE, value.parse().unwrap());
            is_invalid_token(http::StatusCode::from_u16(status).unwrap(), &headers)
        };
        assert!(check(
            401,
            r#"Bearer realm="x", error="invalid_token", error_description="expired""#
        ));
        assert!(check(401, "bearer error=invalid_token"));
        assert!(!check(401, r#"Bearer realm="x""#));
        assert!(!check(401, r#"Bearer error_description="invalid_token""#));
        assert!(!check(403, r#"Bearer error="invalid_token""#));
        assert!(!check(401, r#"Basic error="invalid_token""#));
        assert!(!check(
            403,
            r#"Bearer error="insufficient_scope", scope="echo""#
        ));
    }
}
