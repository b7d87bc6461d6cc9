//! Token request parsing against RFC 6749 §2.3.1 (client password), §3.2 (token endpoint) and §4.4 (client credentials grant).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_http::{
    ClientAuthMethod, DEFAULT_MAX_BODY, ParsedTokenRequest, RejectedTokenRequest,
    TokenRequestParser, rejected_response,
};
use clientcreds_registry::TokenErrorCode;
use common::{
    FORM, REALM, basic, basic_headers, basic_raw, form_encode, form_headers, header, json,
};
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

fn parse(headers: &HeaderMap, body: &str) -> Result<ParsedTokenRequest, RejectedTokenRequest> {
    TokenRequestParser::default().parse(headers, body.as_bytes())
}

fn parse_ok(headers: &HeaderMap, body: &str) -> ParsedTokenRequest {
    parse(headers, body).unwrap_or_else(|r| panic!("refused {body:?}: {:?}", r.error))
}

fn parse_err(headers: &HeaderMap, body: &str) -> RejectedTokenRequest {
    match parse(headers, body) {
        Ok(parsed) => panic!("accepted {body:?}: {parsed:?}"),
        Err(rejected) => rejected,
    }
}

/// The id and secret a parse produced.
fn credentials(parsed: &ParsedTokenRequest) -> (String, String) {
    let creds = parsed.request.credentials.as_ref().expect("credentials");
    (
        creds.client_id.clone(),
        creds.client_secret.expose_secret().to_owned(),
    )
}

/// Asserts a rejection is `invalid_request`, answered with 400 and no
/// challenge.
fn assert_invalid_request(rejected: &RejectedTokenRequest, case: &str) {
    assert_eq!(
        rejected.error.code,
        TokenErrorCode::InvalidRequest,
        "{case}"
    );
    assert!(!rejected.too_large, "{case}");
    let response = rejected_response(rejected, REALM);
    assert_eq!(response.status(), 400, "{case}");
    assert_eq!(header(&response, "www-authenticate"), None, "{case}");
    assert_eq!(json(&response)["error"], "invalid_request", "{case}");
}

/// Asserts a rejection is `invalid_client` from a malformed Basic header:
/// 401 with a Basic challenge.
fn assert_bad_basic(rejected: &RejectedTokenRequest, case: &str) {
    assert_eq!(rejected.error.code, TokenErrorCode::InvalidClient, "{case}");
    assert_eq!(rejected.auth, ClientAuthMethod::Basic, "{case}");
    let response = rejected_response(rejected, REALM);
    assert_eq!(response.status(), 401, "{case}");
    assert_eq!(
        header(&response, "www-authenticate"),
        Some("Basic realm=\"clientcreds\""),
        "{case}"
    );
    assert_eq!(json(&response)["error"], "invalid_client", "{case}");
    assert_eq!(
        header(&response, "cache-control"),
        Some("no-store"),
        "{case}"
    );
}

const GRANT: &str = "grant_type=client_credentials";

// --- HTTP Basic (RFC 6749 §2.3.1) -----------------------------------------

#[test]
fn basic_form_decodes_id_and_secret() {
    let cases = [
        ("client", "secret"),
        ("my client", "p@ss"),
        ("svc", "a:b:c"),
        ("svc", ":"),
        ("svc", "a+b"),
        ("svc", "++"),
        ("svc", "100%"),
        ("svc", "%41"),
        ("svc", "with  two spaces "),
        ("svc", "pässwörd ✓ 秘密"),
        ("svc", "&=?#/\\\"'"),
        ("id:with:colons", "s"),
        ("ünï cødé+id%", "s"),
        // An empty secret is well formed; authentication decides.
        ("svc", ""),
    ];
    for (id, secret) in cases {
        let parsed = parse_ok(&basic_headers(id, secret), GRANT);
        assert_eq!(parsed.auth, ClientAuthMethod::Basic, "{id:?} {secret:?}");
        assert_eq!(
            credentials(&parsed),
            (id.to_owned(), secret.to_owned()),
            "{id:?} {secret:?}"
        );
        assert_eq!(
            parsed.request.grant_type.as_deref(),
            Some("client_credentials")
        );
    }
}

#[test]
fn basic_without_form_encoding_is_still_form_decoded() {
    // A client that skips the §2.3.1 encoding: `+` is a space by the RFC,
    // and the first colon separates id from secret.
    let mut headers = form_headers();
    headers.insert(AUTHORIZATION, basic_raw(b"svc:a+b:c"));
    let parsed = parse_ok(&headers, GRANT);
    assert_eq!(credentials(&parsed), ("svc".into(), "a b:c".into()));
}

#[test]
fn basic_scheme_is_case_insensitive() {
    for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
        let mut headers = form_headers();
        let encoded = basic("svc", "s3cret")
            .to_str()
            .unwrap()
            .replacen("Basic", scheme, 1);
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&encoded).unwrap());
        let parsed = parse_ok(&headers, GRANT);
        assert_eq!(parsed.auth, ClientAuthMethod::Basic, "{scheme}");
        assert_eq!(
            credentials(&parsed),
            ("svc".into(), "s3cret".into()),
            "{scheme}"
        );
    }
}

#[test]
fn malformed_basic_is_invalid_client_with_a_basic_challenge() {
    let cases: [(&str, HeaderValue); 10] = [
        ("no colon", basic_raw(b"no-colon-here")),
        ("empty credentials", basic_raw(b"")),
        ("empty id", basic_raw(b":secret")),
        ("empty id and secret", basic_raw(b":")),
        (
            "bad base64",
            HeaderValue::from_static("Basic !!!not-base64!!!"),
        ),
        ("base64url alphabet", HeaderValue::from_static("Basic _-_-")),
        ("bad UTF-8", basic_raw(b"svc:\xff\xfe")),
        ("bad escape in the id", basic_raw(b"sv%zzc:secret")),
        ("bad escape in the secret", basic_raw(b"svc:100%")),
        ("escape decoding to bad UTF-8", basic_raw(b"svc:%C3%28")),
    ];
    for (case, value) in cases {
        let mut headers = form_headers();
        headers.insert(AUTHORIZATION, value);
        let rejected = parse_err(&headers, GRANT);
        assert_bad_basic(&rejected, case);
        // The description never repeats what was presented.
        let body = rejected_response(&rejected, REALM).into_body();
        assert!(
            !body.contains("secret") && !body.contains("svc"),
            "{case}: {body}"
        );
    }
    // "Basic" and nothing after it.
    let mut headers = form_headers();
    headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic"));
    assert_bad_basic(&parse_err(&headers, GRANT), "scheme only");
}

#[test]
fn the_basic_realm_is_quoted_safely() {
    let mut headers = form_headers();
    headers.insert(AUTHORIZATION, basic_raw(b"no colon"));
    let rejected = parse_err(&headers, GRANT);
    let response = rejected_response(&rejected, "my \"realm\" \\ é");
    assert_eq!(
        header(&response, "www-authenticate"),
        Some("Basic realm=\"my realm  \"")
    );
}

#[test]
fn two_authorization_headers_are_invalid_request() {
    let mut headers = form_headers();
    headers.append(AUTHORIZATION, basic("svc", "one"));
    headers.append(AUTHORIZATION, basic("svc", "two"));
    let rejected = parse_err(&headers, GRANT);
    assert_invalid_request(&rejected, "two Authorization headers");
}

#[test]
/// RFC 6749 §5.2: a client that tried the Authorization header gets 401
/// with a challenge, whatever scheme it tried.
fn a_non_basic_scheme_is_a_401_with_a_basic_challenge() {
    for value in [
        "Bearer abc.def.ghi",
        "Digest username=\"svc\"",
        "Negotiate abc",
        "Negotiate",
    ] {
        let mut headers = form_headers();
        headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        let rejected = parse_err(&headers, GRANT);
        assert_eq!(
            rejected.error.code,
            TokenErrorCode::InvalidClient,
            "{value}"
        );
        assert_eq!(rejected.auth, ClientAuthMethod::Basic, "{value}");
        let response = rejected_response(&rejected, REALM);
        assert_eq!(response.status(), 401, "{value}");
        assert_eq!(
            header(&response, "www-authenticate"),
            Some("Basic realm=\"clientcreds\""),
            "{value}"
        );
    }
}

// --- client_secret_post (RFC 6749 §2.3.1) ----------------------------------

#[test]
fn client_secret_post_is_form_decoded() {
    let (id, secret) = ("my client+1", "p@ss: 100% ✓&=");
    let body = format!(
        "{GRANT}&client_id={}&client_secret={}",
        form_encode(id),
        form_encode(secret)
    );
    let parsed = parse_ok(&form_headers(), &body);
    assert_eq!(parsed.auth, ClientAuthMethod::Post);
    assert_eq!(credentials(&parsed), (id.to_owned(), secret.to_owned()));
}

#[test]
fn credentials_in_header_and_body_are_invalid_request() {
    let body = format!("{GRANT}&client_id=svc&client_secret=s3cret");
    let rejected = parse_err(&basic_headers("svc", "s3cret"), &body);
    assert_invalid_request(&rejected, "both");
    // A body secret alone alongside Basic is also both.
    let rejected = parse_err(
        &basic_headers("svc", "s3cret"),
        &format!("{GRANT}&client_secret=x"),
    );
    assert_invalid_request(&rejected, "both, body secret only");
}

#[test]
fn a_body_client_id_must_match_the_basic_id() {
    let headers = basic_headers("my client", "s3cret");
    // Equal (after decoding both): accepted, authenticated by Basic.
    let parsed = parse_ok(&headers, &format!("{GRANT}&client_id=my+client"));
    assert_eq!(parsed.auth, ClientAuthMethod::Basic);
    assert_eq!(credentials(&parsed), ("my client".into(), "s3cret".into()));
    let parsed = parse_ok(&headers, &format!("{GRANT}&client_id=my%20client"));
    assert_eq!(parsed.auth, ClientAuthMethod::Basic);
    // Different: refused.
    for other in ["other", "my+client2", "MY+CLIENT", "my%2Bclient"] {
        let rejected = parse_err(&headers, &format!("{GRANT}&client_id={other}"));
        assert_invalid_request(&rejected, other);
    }
}

#[test]
fn no_credentials_is_auth_none() {
    for body in [
        GRANT,
        "grant_type=client_credentials&scope=read",
        // An id without a secret is not client authentication.
        "grant_type=client_credentials&client_id=svc",
        // Nor a secret without an id.
        "grant_type=client_credentials&client_secret=s3cret",
        "",
    ] {
        let parsed = parse_ok(&form_headers(), body);
        assert_eq!(parsed.auth, ClientAuthMethod::None, "{body:?}");
        assert!(parsed.request.credentials.is_none(), "{body:?}");
    }
}

// --- Parameters (RFC 6749 §3.2, §4.4.2; RFC 8707) --------------------------

#[test]
fn parameters_are_form_decoded() {
    let body = "grant_type=client_credentials&scope=read+write%3Aall&audience=https%3A%2F%2Fapi.example.com&ignored=x";
    let parsed = parse_ok(&form_headers(), body);
    assert_eq!(
        parsed.request.grant_type.as_deref(),
        Some("client_credentials")
    );
    assert_eq!(parsed.request.scope.as_deref(), Some("read write:all"));
    assert_eq!(
        parsed.request.audience.as_deref(),
        Some("https://api.example.com")
    );
    assert!(parsed.request.resources.is_empty());
}

#[test]
fn a_repeated_parameter_is_invalid_request() {
    for body in [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=a&scope=b",
        "grant_type=client_credentials&scope=a&scope=a",
        "grant_type=client_credentials&audience=a&audience=b",
        "grant_type=client_credentials&client_id=a&client_id=a&client_secret=s",
        "grant_type=client_credentials&client_id=a&client_secret=s&client_secret=s",
        "grant_type=client_credentials&unknown=1&unknown=2",
        // Names are compared after decoding.
        "grant_type=client_credentials&scope=a&sc%6Fpe=b",
    ] {
        assert_invalid_request(&parse_err(&form_headers(), body), body);
    }
}

#[test]
fn resource_may_repeat() {
    let body = "grant_type=client_credentials&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example&resource=https%3A%2F%2Fa.example";
    let parsed = parse_ok(&form_headers(), body);
    assert_eq!(
        parsed.request.resources,
        [
            "https://a.example",
            "https://b.example",
            "https://a.example"
        ]
    );
}

#[test]
fn empty_parameters_are_treated_as_omitted() {
    let parsed = parse_ok(
        &form_headers(),
        "grant_type=&scope=&audience=&resource=&client_id=&client_secret=&flag",
    );
    assert_eq!(parsed.request.grant_type, None);
    assert_eq!(parsed.request.scope, None);
    assert_eq!(parsed.request.audience, None);
    assert!(parsed.request.resources.is_empty());
    assert!(parsed.request.credentials.is_none());
    assert_eq!(parsed.auth, ClientAuthMethod::None);

    // Without `=` too, and empty pairs are skipped.
    let parsed = parse_ok(&form_headers(), "&&grant_type=client_credentials&&scope&");
    assert_eq!(parsed.request.scope, None);
    assert_eq!(
        parsed.request.grant_type.as_deref(),
        Some("client_credentials")
    );

    // An empty body secret next to Basic is not "credentials twice", and an
    // empty body id is not "a different id".
    let parsed = parse_ok(
        &basic_headers("svc", "s3cret"),
        "grant_type=client_credentials&client_id=&client_secret=",
    );
    assert_eq!(parsed.auth, ClientAuthMethod::Basic);
    assert_eq!(credentials(&parsed), ("svc".into(), "s3cret".into()));

    // An empty secret with an id in the body is no client_secret_post.
    let parsed = parse_ok(
        &form_headers(),
        "grant_type=client_credentials&client_id=svc&client_secret=",
    );
    assert_eq!(parsed.auth, ClientAuthMethod::None);
    assert!(parsed.request.credentials.is_none());

    // An empty resource among real ones is dropped.
    let parsed = parse_ok(&form_headers(), "resource=&resource=r1&resource=");
    assert_eq!(parsed.request.resources, ["r1"]);
}

#[test]
fn bad_percent_escapes_are_invalid_request() {
    for body in [
        "grant_type=client_credentials&scope=%zz",
        "grant_type=client_credentials&scope=%4",
        "grant_type=client_credentials&scope=%",
        "grant_type=client_credentials&scope=a%2",
        "grant_type=client_credentials&scope=%%41",
        "grant_type=client_credentials&%g1=x",
        "grant_type=client_credentials&client_secret=100%",
    ] {
        let rejected = parse_err(&form_headers(), body);
        assert_invalid_request(&rejected, body);
        assert_eq!(rejected.auth, ClientAuthMethod::None, "{body}");
    }
}

#[test]
fn invalid_utf8_is_invalid_request() {
    // Raw bytes in the body.
    let raw: &[u8] = b"grant_type=client_credentials&scope=\xff\xfe";
    let rejected = TokenRequestParser::default()
        .parse(&form_headers(), raw)
        .unwrap_err();
    assert_invalid_request(&rejected, "raw bytes");
    // Escapes that decode to bytes that are not UTF-8.
    for body in [
        "grant_type=client_credentials&scope=%FF",
        "grant_type=client_credentials&scope=%C3",
        "grant_type=client_credentials&scope=%C3%28",
        "grant_type=client_credentials&scope=%ED%A0%80",
        "grant_type=client_credentials&%80=x",
    ] {
        assert_invalid_request(&parse_err(&form_headers(), body), body);
    }
    // Escaped non-ASCII UTF-8 is fine.
    let parsed = parse_ok(&form_headers(), "scope=%C3%A9t%C3%A9");
    assert_eq!(parsed.request.scope.as_deref(), Some("été"));
}

// --- Content type and size (RFC 6749 §3.2) ---------------------------------

#[test]
fn the_content_type_must_be_form_urlencoded() {
    let mut headers = HeaderMap::new();
    assert_invalid_request(&parse_err(&headers, GRANT), "missing");
    for wrong in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencodedx",
        "application/x-www-form-urlencoded/x",
        "x-www-form-urlencoded",
        "",
    ] {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(wrong));
        assert_invalid_request(&parse_err(&headers, GRANT), wrong);
    }
    // Two Content-Type headers, even both right.
    let mut headers = form_headers();
    headers.append(CONTENT_TYPE, HeaderValue::from_static(FORM));
    assert_invalid_request(&parse_err(&headers, GRANT), "two content types");
    // A non-visible-ASCII value.
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_bytes(b"application/x-www-form-urlencoded\xff").unwrap(),
    );
    assert_invalid_request(&parse_err(&headers, GRANT), "opaque bytes");
}

#[test]
fn the_content_type_may_carry_parameters_and_any_case() {
    for right in [
        "application/x-www-form-urlencoded; charset=UTF-8",
        "application/x-www-form-urlencoded;charset=utf-8",
        "application/x-www-form-urlencoded ; charset=UTF-8",
        "Application/X-WWW-Form-Urlencoded",
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(right));
        let parsed = parse_ok(&headers, GRANT);
        assert_eq!(
            parsed.request.grant_type.as_deref(),
            Some("client_credentials"),
            "{right}"
        );
    }
}

#[test]
fn a_body_over_the_limit_is_too_large_and_413() {
    let parser = TokenRequestParser::default().with_max_body(GRANT.len());
    // At the limit: accepted.
    assert!(parser.parse(&form_headers(), GRANT.as_bytes()).is_ok());
    // One byte over: refused, whatever the content.
    let body = format!("{GRANT}&");
    let rejected = parser.parse(&form_headers(), body.as_bytes()).unwrap_err();
    assert!(rejected.too_large);
    assert_eq!(rejected.error.code, TokenErrorCode::InvalidRequest);
    let response = rejected_response(&rejected, REALM);
    assert_eq!(response.status(), 413);
    assert_eq!(json(&response)["error"], "invalid_request");
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    assert_eq!(response.headers().get(WWW_AUTHENTICATE), None);

    // With Basic: still 413, not 401.
    let rejected = parser
        .parse(&basic_headers("svc", "s3cret"), body.as_bytes())
        .unwrap_err();
    assert!(rejected.too_large);
    assert_eq!(rejected_response(&rejected, REALM).status(), 413);

    // The default limit.
    let parser = TokenRequestParser::default();
    let big = vec![b'a'; DEFAULT_MAX_BODY + 1];
    assert!(parser.parse(&form_headers(), &big).unwrap_err().too_large);
    let fits = vec![b'a'; DEFAULT_MAX_BODY];
    assert!(parser.parse(&form_headers(), &fits).is_ok());
}

// --- Debug and introspection requests (RFC 7662 §2.1) ---------------------

#[test]
fn debug_never_shows_the_secret() {
    let parsed = parse_ok(&basic_headers("svc", "hunter2-basic"), GRANT);
    assert!(!format!("{parsed:?}").contains("hunter2"));
    let body = format!("{GRANT}&client_id=svc&client_secret=hunter2-post");
    let parsed = parse_ok(&form_headers(), &body);
    assert!(!format!("{parsed:?}").contains("hunter2"));
}

#[test]
fn introspection_requests_carry_the_token_and_the_callers_credentials() {
    let parser = TokenRequestParser::default();
    let body = "token=eyJ0.eyJ1.c2ln&token_type_hint=access_token";
    let parsed = parser
        .parse_introspection(&basic_headers("rs", "s3cret"), body.as_bytes())
        .unwrap();
    assert_eq!(parsed.auth, ClientAuthMethod::Basic);
    assert_eq!(parsed.token.expose_secret(), "eyJ0.eyJ1.c2ln");
    let creds = parsed.credentials.as_ref().unwrap();
    assert_eq!(
        (
            creds.client_id.as_str(),
            creds.client_secret.expose_secret()
        ),
        ("rs", "s3cret")
    );
    assert!(!format!("{parsed:?}").contains("eyJ0"));

    let body = "token=abc%2Bdef&client_id=rs&client_secret=s3cret";
    let parsed = parser
        .parse_introspection(&form_headers(), body.as_bytes())
        .unwrap();
    assert_eq!(parsed.auth, ClientAuthMethod::Post);
    assert_eq!(parsed.token.expose_secret(), "abc+def");

    let parsed = parser
        .parse_introspection(&form_headers(), b"token=abc")
        .unwrap();
    assert_eq!(parsed.auth, ClientAuthMethod::None);
    assert!(parsed.credentials.is_none());
}

#[test]
fn an_introspection_request_without_one_token_is_invalid_request() {
    let parser = TokenRequestParser::default();
    for body in [
        "",
        "token=",
        "token",
        "token_type_hint=access_token",
        "token=a&token=b",
    ] {
        let rejected = parser
            .parse_introspection(&form_headers(), body.as_bytes())
            .unwrap_err();
        assert_invalid_request(&rejected, body);
    }
    // Without the token, a Basic caller is still recorded as Basic.
    let rejected = parser
        .parse_introspection(&basic_headers("rs", "s3cret"), b"")
        .unwrap_err();
    assert_eq!(rejected.auth, ClientAuthMethod::Basic);
    // The token endpoint's rules apply: content type, malformed Basic.
    let rejected = parser
        .parse_introspection(&HeaderMap::new(), b"token=a")
        .unwrap_err();
    assert_invalid_request(&rejected, "no content type");
    let mut headers = form_headers();
    headers.insert(AUTHORIZATION, basic_raw(b"no colon"));
    assert_bad_basic(
        &parser
            .parse_introspection(&headers, b"token=a")
            .unwrap_err(),
        "malformed Basic",
    );
}

// --- Never panics ----------------------------------------------------------

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..96),
        "(Basic|Bearer|basic) [A-Za-z0-9+/=:% ]{0,64}".prop_map(String::into_bytes),
        "[ -~]{0,64}".prop_map(String::into_bytes),
    ]
    .prop_filter_map("not a header value", |bytes| {
        HeaderValue::from_bytes(&bytes).ok()
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "([a-z_]{0,12}(=[A-Za-z0-9%+:é]{0,12})?&?){0,8}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn arbitrary_headers_and_bodies_never_panic(
        authorization in proptest::collection::vec(header_value(), 0..3),
        content_type in proptest::option::of(header_value()),
        form_type in any::<bool>(),
        body in body(),
    ) {
        let mut headers = HeaderMap::new();
        for value in authorization {
            headers.append(AUTHORIZATION, value);
        }
        if form_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM));
        } else if let Some(value) = content_type {
            headers.insert(CONTENT_TYPE, value);
        }
        match TokenRequestParser::default().with_max_body(128).parse(&headers, &body) {
            Ok(parsed) => {
                prop_assert_eq!(parsed.request.credentials.is_some(), parsed.auth != ClientAuthMethod::None);
            }
            Err(rejected) => {
                let response = rejected_response(&rejected, REALM);
                prop_assert!([400, 401, 413].contains(&response.status().as_u16()));
                prop_assert!(serde_json::from_str::<serde_json::Value>(response.body()).is_ok());
            }
        }
    }

    #[test]
    fn basic_round_trips_any_id_and_secret(id in "\\PC{1,24}", secret in "\\PC{0,24}") {
        let parsed = TokenRequestParser::default()
            .parse(&basic_headers(&id, &secret), GRANT.as_bytes())
            .unwrap();
        prop_assert_eq!(credentials(&parsed), (id, secret));
    }

    #[test]
    fn post_round_trips_any_id_and_secret(id in "\\PC{1,24}", secret in "\\PC{1,24}") {
        let body = format!("{GRANT}&client_id={}&client_secret={}", form_encode(&id), form_encode(&secret));
        let parsed = TokenRequestParser::default().parse(&form_headers(), body.as_bytes()).unwrap();
        prop_assert_eq!(parsed.auth, ClientAuthMethod::Post);
        prop_assert_eq!(credentials(&parsed), (id, secret));
    }
}

const JWT_BEARER: &str = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";

#[test]
fn a_client_assertion_is_parsed_with_its_client_id() {
    let body = format!(
        "grant_type=client_credentials&client_id=cc_x&client_assertion_type={JWT_BEARER}&client_assertion=a.b.c"
    );
    let parsed = parse_ok(&form_headers(), &body);
    assert_eq!(parsed.auth, ClientAuthMethod::Assertion);
    let assertion = parsed.request.assertion.expect("assertion");
    assert_eq!(assertion.client_id.as_deref(), Some("cc_x"));
    assert_eq!(assertion.expose(), "a.b.c");
    assert!(parsed.request.credentials.is_none());
    // Without client_id: the assertion names the client.
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={JWT_BEARER}&client_assertion=a.b.c"
    );
    let parsed = parse_ok(&form_headers(), &body);
    assert_eq!(parsed.request.assertion.expect("assertion").client_id, None);
}

#[test]
fn malformed_assertion_requests_are_invalid_request() {
    let cases = [
        (
            "wrong type",
            "grant_type=client_credentials&client_assertion_type=urn%3Asaml&client_assertion=a.b.c"
                .to_owned(),
        ),
        (
            "no type",
            "grant_type=client_credentials&client_assertion=a.b.c".to_owned(),
        ),
        (
            "no assertion",
            format!("grant_type=client_credentials&client_assertion_type={JWT_BEARER}"),
        ),
        (
            "with a secret",
            format!(
                "grant_type=client_credentials&client_id=cc_x&client_secret=s&client_assertion_type={JWT_BEARER}&client_assertion=a.b.c"
            ),
        ),
    ];
    for (case, body) in cases {
        assert_invalid_request(&parse_err(&form_headers(), &body), case);
    }
    // Basic and an assertion: two methods.
    let body = format!(
        "grant_type=client_credentials&client_assertion_type={JWT_BEARER}&client_assertion=a.b.c"
    );
    let rejected = parse_err(&basic_headers("cc_x", "s"), &body);
    assert_eq!(rejected.error.code, TokenErrorCode::InvalidRequest);
}

#[test]
fn one_dpop_header_is_read_and_two_are_refused() {
    let body = "grant_type=client_credentials";
    let mut headers = basic_headers("cc_x", "s");
    headers.insert("dpop", HeaderValue::from_static("a.b.c"));
    let parsed = parse_ok(&headers, body);
    assert_eq!(parsed.request.dpop_proof.expect("proof").expose(), "a.b.c");
    headers.append("dpop", HeaderValue::from_static("d.e.f"));
    let rejected = parse_err(&headers, body);
    assert_eq!(rejected.error.code, TokenErrorCode::InvalidDpopProof);
    let response = rejected_response(&rejected, REALM);
    assert_eq!(response.status(), 400);
    assert_eq!(json(&response)["error"], "invalid_dpop_proof");
}
