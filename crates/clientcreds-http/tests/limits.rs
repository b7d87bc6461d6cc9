//! Size limits (issue 13, "Limits"): every field of a token or
//! introspection request has one, at the limit a request passes, one byte
//! over it is refused with `invalid_request` naming the field, and the
//! typed `LimitExceeded` says which field and what limit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_http::{
    Field, LimitExceeded, Limits, RejectedTokenRequest, TokenRequestParser, rejected_response,
};
use clientcreds_registry::TokenErrorCode;
use common::{REALM, basic_headers, form_headers, json};
use http::HeaderValue;
use http::header::AUTHORIZATION;

const GRANT: &str = "grant_type=client_credentials";

fn assert_over(rejected: &RejectedTokenRequest, field: Field, max: usize) {
    assert_eq!(
        rejected.limit,
        Some(LimitExceeded { field, max }),
        "{field:?}"
    );
    assert_eq!(rejected.error.code, TokenErrorCode::InvalidRequest);
    assert_eq!(rejected.error.description, field.too_long());
    let response = rejected_response(rejected, REALM);
    let status = if field == Field::Body { 413 } else { 400 };
    assert_eq!(response.status(), status, "{field:?}");
    let body = json(&response);
    assert_eq!(body["error"], "invalid_request");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(field.name()) || field == Field::Parameter,
        "{description}"
    );
}

/// A body with `name=<len × 'a'>` and the grant (and, for the secret,
/// an id so that it is a complete `client_secret_post`).
fn body_with(name: &str, len: usize) -> String {
    let value = "a".repeat(len);
    match name {
        "client_secret" => format!("{GRANT}&client_id=svc&client_secret={value}"),
        "client_id" => format!("{GRANT}&client_id={value}&client_secret=s"),
        "grant_type" => format!("grant_type={value}"),
        _ => format!("{GRANT}&{name}={value}"),
    }
}

#[test]
fn each_body_parameter_is_limited_and_named() {
    let limits = Limits::default();
    let cases = [
        ("client_id", Field::ClientId, limits.client_id),
        ("client_secret", Field::ClientSecret, limits.client_secret),
        ("scope", Field::Scope, limits.scope),
        ("grant_type", Field::GrantType, limits.parameter),
        ("audience", Field::Audience, limits.parameter),
        ("resource", Field::Resource, limits.parameter),
        ("unknown_extension", Field::Parameter, limits.parameter),
    ];
    let parser = TokenRequestParser::default();
    for (name, field, max) in cases {
        assert!(
            parser
                .parse(&form_headers(), body_with(name, max).as_bytes())
                .is_ok(),
            "{name} at its limit"
        );
        let rejected = parser
            .parse(&form_headers(), body_with(name, max + 1).as_bytes())
            .unwrap_err();
        assert_over(&rejected, field, max);
    }
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let limits = Limits::default();
    assert_eq!(limits.body, clientcreds_http::DEFAULT_MAX_BODY);
    assert_eq!(limits.token, clientcreds_jwt::DEFAULT_MAX_TOKEN_LEN);
    assert_eq!(
        (limits.authorization, limits.client_id, limits.client_secret),
        (4096, 256, 512)
    );
    assert_eq!(
        (limits.scope, limits.parameter, limits.parameters),
        (2048, 2048, 64)
    );
    assert_eq!(TokenRequestParser::default().limits(), &limits);
}

#[test]
fn limits_are_configurable_in_one_place() {
    let mut limits = Limits::default();
    limits.scope = 8;
    let parser = TokenRequestParser::default().with_limits(limits);
    assert!(parser.parse(&form_headers(), b"scope=12345678").is_ok());
    let rejected = parser
        .parse(&form_headers(), b"scope=123456789")
        .unwrap_err();
    assert_over(&rejected, Field::Scope, 8);
    // with_max_body is the body limit of the same struct.
    let parser = parser.with_max_body(5);
    assert_eq!(parser.limits().body, 5);
    assert_eq!(parser.limits().scope, 8);
    let rejected = parser.parse(&form_headers(), b"scope=1").unwrap_err();
    assert!(rejected.too_large);
    assert_over(&rejected, Field::Body, 5);
}

#[test]
fn basic_credentials_are_limited_like_body_credentials() {
    let limits = Limits::default();
    let parser = TokenRequestParser::default();
    let id = "i".repeat(limits.client_id);
    let secret = "s".repeat(limits.client_secret);
    assert!(
        parser
            .parse(&basic_headers(&id, &secret), GRANT.as_bytes())
            .is_ok()
    );
    let long_id = format!("{id}i");
    let rejected = parser
        .parse(&basic_headers(&long_id, "s"), GRANT.as_bytes())
        .unwrap_err();
    assert_over(&rejected, Field::ClientId, limits.client_id);
    let long_secret = format!("{secret}s");
    let rejected = parser
        .parse(&basic_headers("svc", &long_secret), GRANT.as_bytes())
        .unwrap_err();
    assert_over(&rejected, Field::ClientSecret, limits.client_secret);
}

#[test]
fn the_authorization_header_is_limited_before_it_is_decoded() {
    let max = Limits::default().authorization;
    let mut headers = form_headers();
    // At the limit it is read (and here refused as malformed Basic, 401).
    let at = format!("Basic {}", "A".repeat(max - 6));
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&at).unwrap());
    let rejected = TokenRequestParser::default()
        .parse(&headers, GRANT.as_bytes())
        .unwrap_err();
    assert_eq!(rejected.limit, None);
    assert_eq!(rejected.error.code, TokenErrorCode::InvalidClient);
    // One byte over: refused unread, naming the header.
    let over = format!("{at}A");
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&over).unwrap());
    let rejected = TokenRequestParser::default()
        .parse(&headers, GRANT.as_bytes())
        .unwrap_err();
    assert_over(&rejected, Field::Authorization, max);
}

#[test]
fn the_parameter_count_is_limited() {
    let max = Limits::default().parameters;
    let body = |n: usize| {
        let mut body = GRANT.to_owned();
        for i in 1..n {
            body.push_str(&format!("&x{i}=1"));
        }
        body
    };
    let parser = TokenRequestParser::default();
    assert!(parser.parse(&form_headers(), body(max).as_bytes()).is_ok());
    let rejected = parser
        .parse(&form_headers(), body(max + 1).as_bytes())
        .unwrap_err();
    assert_over(&rejected, Field::Parameters, max);
}

#[test]
fn the_introspected_token_is_limited() {
    let max = Limits::default().token;
    let parser = TokenRequestParser::default();
    let body = |len: usize| format!("token={}", "t".repeat(len));
    let request = parser
        .parse_introspection(&form_headers(), body(max).as_bytes())
        .unwrap();
    assert_eq!(request.token.expose_secret().len(), max);
    let rejected = parser
        .parse_introspection(&form_headers(), body(max + 1).as_bytes())
        .unwrap_err();
    assert_over(&rejected, Field::Token, max);
}

#[test]
fn a_limit_error_never_repeats_the_input() {
    let secret = "S3CRET".repeat(100);
    let body = format!("{GRANT}&client_id=svc&client_secret={secret}");
    let rejected = TokenRequestParser::default()
        .parse(&form_headers(), body.as_bytes())
        .unwrap_err();
    let response = rejected_response(&rejected, REALM);
    assert!(!response.body().contains("S3CRET"));
    assert!(!format!("{rejected:?}").contains("S3CRET"));
}
