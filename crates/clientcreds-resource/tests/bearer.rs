//! RFC 6750 bearer extraction (§2.1) and challenges (§3), on `http` types.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use clientcreds_jwt::{InsufficientScope, VerifyError};
use clientcreds_resource::{BearerChallenge, BearerError, Error, bearer_token};
use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Response};
use serde_json::json;

fn header<'a>(response: &'a Response<String>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn json(response: &Response<String>) -> serde_json::Value {
    serde_json::from_str(response.body()).unwrap()
}

/// Asserts the RFC 6749 §5.1 caching headers and the JSON content type.
fn assert_no_store(response: &Response<String>) {
    assert_eq!(header(response, "content-type"), Some("application/json"));
    assert_eq!(header(response, "cache-control"), Some("no-store"));
    assert_eq!(header(response, "pragma"), Some("no-cache"));
}

// --- Bearer extraction (RFC 6750 §2.1) -------------------------------------

fn bearer(values: &[&[u8]]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
    }
    headers
}

#[test]
fn bearer_token_accepts_b64token() {
    let cases: [(&[u8], &str); 10] = [
        (b"Bearer abc", "abc"),
        (b"bearer abc", "abc"),
        (b"BEARER abc", "abc"),
        (b"bEaReR abc", "abc"),
        (b"Bearer eyJ0.eyJ1.c2ln", "eyJ0.eyJ1.c2ln"),
        (b"Bearer AZaz09-._~+/", "AZaz09-._~+/"),
        (b"Bearer abc=", "abc="),
        (b"Bearer abc==", "abc=="),
        (b"Bearer   abc", "abc"),
        (b"Bearer 0", "0"),
    ];
    for (value, token) in cases {
        let headers = bearer(&[value]);
        assert_eq!(
            bearer_token(&headers),
            Ok(token),
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
}

#[test]
fn bearer_token_is_missing_without_bearer_credentials() {
    assert_eq!(bearer_token(&HeaderMap::new()), Err(BearerError::Missing));
    for value in [
        &b"Basic c3ZjOnMzY3JldA=="[..],
        b"Digest username=\"x\"",
        b"Bearerabc",
        b"Token abc",
        b"",
    ] {
        assert_eq!(
            bearer_token(&bearer(&[value])),
            Err(BearerError::Missing),
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
}

#[test]
fn bearer_token_is_malformed_unless_exactly_one_token() {
    for value in [
        &b"Bearer"[..],
        b"Bearer ",
        b"Bearer    ",
        b"Bearer two tokens",
        b"Bearer abc ",
        b"Bearer a,b",
        b"Bearer a=b",
        b"Bearer =abc",
        b"Bearer =",
        b"Bearer ==",
        b"Bearer a\"b",
        b"Bearer a\tb",
        b"Bearer abc\xff",
        b"Bearer realm=\"x\"",
    ] {
        assert_eq!(
            bearer_token(&bearer(&[value])),
            Err(BearerError::Malformed),
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
    // Two Authorization headers, even two good ones.
    assert_eq!(
        bearer_token(&bearer(&[b"Bearer abc", b"Bearer abc"])),
        Err(BearerError::Malformed)
    );
    assert_eq!(
        bearer_token(&bearer(&[b"Bearer abc", b"Basic abc"])),
        Err(BearerError::Malformed)
    );
}

// --- Bearer challenges (RFC 6750 §3) ---------------------------------------

#[test]
fn bearer_challenges_have_rfc_6750_statuses_and_headers() {
    let scope = InsufficientScope {
        required: "orders:write".to_owned(),
    };
    let cases = [
        (
            BearerChallenge::Missing,
            401,
            "unauthorized",
            "Bearer realm=\"api\"",
        ),
        (
            BearerChallenge::InvalidRequest,
            400,
            "invalid_request",
            "Bearer realm=\"api\", error=\"invalid_request\", error_description=\"malformed Authorization header\"",
        ),
        (
            BearerChallenge::InvalidToken(VerifyError::Expired),
            401,
            "invalid_token",
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token has expired\"",
        ),
        (
            BearerChallenge::InvalidToken(VerifyError::MissingClaim("scope")),
            401,
            "invalid_token",
            "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token lacks the `scope` claim\"",
        ),
        (
            BearerChallenge::InsufficientScope(scope),
            403,
            "insufficient_scope",
            "Bearer realm=\"api\", error=\"insufficient_scope\", error_description=\"insufficient scope: `orders:write` is required\", scope=\"orders:write\"",
        ),
    ];
    for (challenge, status, code, www) in cases {
        assert_eq!(challenge.status(), status, "{challenge:?}");
        assert_eq!(challenge.www_authenticate("api"), www);
        let response = challenge.response("api");
        assert_eq!(response.status(), status);
        assert_eq!(header(&response, "www-authenticate"), Some(www));
        assert_no_store(&response);
        assert_eq!(json(&response), json!({ "error": code }));
    }
}

#[test]
fn bearer_challenges_convert_from_the_errors() {
    assert_eq!(
        BearerChallenge::from(BearerError::Missing),
        BearerChallenge::Missing
    );
    assert_eq!(
        BearerChallenge::from(BearerError::Malformed),
        BearerChallenge::InvalidRequest
    );
    assert_eq!(
        BearerChallenge::from(VerifyError::BadSignature),
        BearerChallenge::InvalidToken(VerifyError::BadSignature)
    );
    let scope = InsufficientScope {
        required: "s".into(),
    };
    assert_eq!(
        BearerChallenge::from(scope.clone()),
        BearerChallenge::InsufficientScope(scope)
    );
}

#[test]
fn bearer_challenge_values_stay_quotable() {
    // RFC 6750 §3: no `"` or `\` inside the quoted values.
    let challenge = BearerChallenge::InsufficientScope(InsufficientScope {
        required: "a\"b\\c".to_owned(),
    });
    assert_eq!(
        challenge.www_authenticate("r\"e\\alm✓"),
        "Bearer realm=\"realm\", error=\"insufficient_scope\", error_description=\"insufficient scope: `abc` is required\", scope=\"abc\""
    );
    assert!(
        challenge
            .response("r\"e\\alm✓")
            .headers()
            .contains_key("www-authenticate")
    );
}

#[test]
fn a_key_set_outage_is_503_without_a_challenge_and_token_errors_are_invalid_token() {
    let unavailable = BearerChallenge::from(Error::KeysUnavailable {
        issuer: "https://auth.example.com".into(),
        reason: "connection refused".into(),
    });
    assert_eq!(unavailable, BearerChallenge::Unavailable);
    let response = unavailable.response("api");
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "www-authenticate"), None);
    assert_eq!(header(&response, "retry-after"), Some("5"));
    assert_no_store(&response);
    assert_eq!(
        json(&response),
        json!({ "error": "temporarily_unavailable" })
    );
    assert_eq!(
        BearerChallenge::from(Error::Token(VerifyError::UnknownKid)),
        BearerChallenge::InvalidToken(VerifyError::UnknownKid)
    );
    // A live-check outage is the server's, like a key-set outage.
    assert_eq!(
        BearerChallenge::from(VerifyError::CheckUnavailable),
        BearerChallenge::Unavailable
    );
    assert_eq!(
        BearerChallenge::from(Error::Token(VerifyError::CheckUnavailable)),
        BearerChallenge::Unavailable
    );
}
