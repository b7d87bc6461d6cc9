//! The token endpoint's parsers (clientcreds-http) and the resource
//! server's bearer header (clientcreds-resource).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clientcreds_http::{
    ClientAuthMethod, Limits, ParsedTokenRequest, RejectedTokenRequest, TokenRequestParser,
    rejected_response,
};
use clientcreds_registry::JWT_BEARER_ASSERTION_TYPE;
use clientcreds_resource::{BearerError, bearer_token};

use crate::Outcome;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue};

const FORM: &str = "application/x-www-form-urlencoded";

/// A token request: headers and body as in HTTP/1.1 (`name: value` lines,
/// an empty line, the body; without an empty line, all of it is a form
/// body). Checks: a rejection is a 4xx with a description; what parses is
/// within the [`Limits`] and re-encodes (credentials as they came: Basic
/// or form) into a request that parses to the same fields.
pub fn token_request(data: &[u8]) -> Outcome {
    let (headers, body) = split_request(data);
    let result = TokenRequestParser::default().parse(&headers, body);
    match &result {
        Ok(parsed) => {
            check_auth(parsed);
            check_limits(parsed);
            check_round_trip(parsed);
        }
        Err(rejected) => check_rejection(rejected),
    }
    Outcome::of(&result)
}

/// An RFC 7662 introspection request, in [`token_request`]'s layout.
/// Checks: a rejection is a 4xx; an accepted request has a non-empty
/// token, which re-encodes to the same token.
pub fn introspection_request(data: &[u8]) -> Outcome {
    let (headers, body) = split_request(data);
    let result = TokenRequestParser::default().parse_introspection(&headers, body);
    match &result {
        Ok(request) => {
            let token = request.token.expose_secret();
            assert!(!token.is_empty(), "an empty token was accepted");
            assert!(
                token.len() <= Limits::default().token,
                "token over its limit"
            );
            assert_eq!(
                request.credentials.is_some(),
                request.auth != ClientAuthMethod::None,
                "auth method and credentials disagree"
            );
            let again = format!("token={}", form_encode(token));
            let reparsed = reparser()
                .parse_introspection(&form_headers(), again.as_bytes())
                .unwrap_or_else(|r| panic!("re-encoded token refused: {:?}", r.error));
            assert_eq!(reparsed.token.expose_secret(), token, "token round trip");
        }
        Err(rejected) => check_rejection(rejected),
    }
    Outcome::of(&result)
}

/// HTTP Basic client authentication (RFC 6749 §2.3.1): the bytes as the
/// `Authorization` header value of a token request; then, when the bytes
/// are UTF-8 with a newline, `id` and `secret` (split at the first
/// newline) form-encoded, joined with `:`, base64-encoded and sent as
/// `Basic`: an id that is not empty must come back exactly, unless a
/// [`Limits`] refusal names the field over its limit.
pub fn basic_credentials(data: &[u8]) -> Outcome {
    let body = b"grant_type=client_credentials";
    let mut outcome = Outcome::Skipped;
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = form_headers();
        headers.insert(AUTHORIZATION, value);
        let result = TokenRequestParser::default().parse(&headers, body);
        match &result {
            Ok(parsed) => {
                assert_eq!(parsed.auth, ClientAuthMethod::Basic, "Basic not recognised");
                check_auth(parsed);
            }
            Err(rejected) => check_rejection(rejected),
        }
        outcome = Outcome::of(&result);
    }
    let Some((id, secret)) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| text.split_once('\n'))
    else {
        return outcome;
    };
    let encoded = STANDARD.encode(format!("{}:{}", form_encode(id), form_encode(secret)));
    let mut headers = form_headers();
    let Ok(value) = HeaderValue::from_str(&format!("Basic {encoded}")) else {
        panic!("a base64 header value was refused by the http crate");
    };
    headers.insert(AUTHORIZATION, value);
    let result = TokenRequestParser::default().parse(&headers, body);
    match &result {
        Ok(parsed) => {
            let Some(credentials) = &parsed.request.credentials else {
                panic!("Basic credentials lost");
            };
            assert_eq!(credentials.client_id, id, "client id round trip");
            assert_eq!(
                credentials.client_secret.expose_secret(),
                secret,
                "secret round trip"
            );
        }
        Err(rejected) => {
            check_rejection(rejected);
            assert!(
                id.is_empty() || rejected.limit.is_some(),
                "well-formed Basic credentials refused: {:?}",
                rejected.error
            );
            if let Some(limit) = rejected.limit {
                let len = match limit.field {
                    clientcreds_http::Field::ClientId => id.len(),
                    clientcreds_http::Field::ClientSecret => secret.len(),
                    _ => encoded.len() + "Basic ".len(),
                };
                assert!(
                    len > limit.max,
                    "{:?} refused within its limit",
                    limit.field
                );
            }
        }
    }
    outcome.or(Outcome::of(&result))
}

/// The resource server's bearer extraction (RFC 6750 §2.1): the bytes as
/// the `Authorization` header value. Checks: a token is non-empty
/// `b64token` text that `Bearer <token>` gives back unchanged; two headers
/// are always malformed.
pub fn bearer_header(data: &[u8]) -> Outcome {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return Outcome::Skipped;
    };
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, value.clone());
    let result = bearer_token(&headers).map(str::to_owned);
    if let Ok(token) = &result {
        let body = token.trim_end_matches('=');
        assert!(!body.is_empty(), "an empty bearer token was accepted");
        assert!(
            body.bytes().all(|b| b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')),
            "a token outside the b64token syntax was accepted"
        );
        let mut again = HeaderMap::new();
        let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) else {
            panic!("a b64token did not make a header value");
        };
        again.insert(AUTHORIZATION, value);
        assert_eq!(
            bearer_token(&again),
            Ok(token.as_str()),
            "bearer round trip"
        );
    }
    headers.append(AUTHORIZATION, value);
    assert_eq!(
        bearer_token(&headers),
        Err(BearerError::Malformed),
        "two Authorization headers were accepted"
    );
    Outcome::of(&result)
}

/// Splits the fuzz input into headers and body (see [`token_request`]).
fn split_request(data: &[u8]) -> (HeaderMap, &[u8]) {
    let Some(at) = data.windows(2).position(|w| w == b"\n\n") else {
        return (form_headers(), data);
    };
    let (head, rest) = data.split_at(at);
    let body = rest.get(2..).unwrap_or_default();
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default().trim_ascii();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    (headers, body)
}

pub(crate) fn form_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM));
    headers
}

/// `application/x-www-form-urlencoded` for one component: unreserved
/// characters as they are, space as `+`, every other byte `%XX`.
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn check_auth(parsed: &ParsedTokenRequest) {
    let has = parsed.request.credentials.is_some();
    let asserted = parsed.request.assertion.is_some();
    match parsed.auth {
        ClientAuthMethod::Basic | ClientAuthMethod::Post => {
            assert!(has, "{:?} without credentials", parsed.auth);
            assert!(!asserted, "{:?} with an assertion too", parsed.auth);
        }
        // RFC 7521 §4.2: an assertion goes without a secret.
        ClientAuthMethod::Assertion => {
            assert!(asserted, "assertion method without an assertion");
            assert!(!has, "an assertion with credentials too");
        }
        ClientAuthMethod::None => {
            assert!(!has && !asserted, "credentials without an auth method");
        }
    }
}

/// A parser for re-encoded requests: the field limits of the default, but
/// no limit on the body or header, which re-encoding may lengthen.
fn reparser() -> TokenRequestParser {
    let mut limits = Limits::default();
    limits.body = usize::MAX;
    limits.authorization = usize::MAX;
    TokenRequestParser::default().with_limits(limits)
}

/// Every field of an accepted request is within its default limit.
fn check_limits(parsed: &ParsedTokenRequest) {
    let limits = Limits::default();
    let request = &parsed.request;
    if let Some(credentials) = &request.credentials {
        assert!(
            credentials.client_id.len() <= limits.client_id,
            "client_id over its limit"
        );
        assert!(
            credentials.client_secret.expose_secret().len() <= limits.client_secret,
            "client_secret over its limit"
        );
    }
    assert!(
        request
            .scope
            .as_ref()
            .is_none_or(|s| s.len() <= limits.scope),
        "scope over its limit"
    );
    if let Some(assertion) = &request.assertion {
        assert!(
            assertion.expose().len() <= limits.token,
            "client_assertion over its limit"
        );
        assert!(
            assertion
                .client_id
                .as_ref()
                .is_none_or(|id| id.len() <= limits.client_id),
            "client_id over its limit"
        );
    }
    let others = [&request.grant_type, &request.audience];
    assert!(
        others
            .iter()
            .filter_map(|v| v.as_ref())
            .chain(&request.resources)
            .all(|v| v.len() <= limits.parameter),
        "a parameter over its limit"
    );
}

pub(crate) fn check_rejection(rejected: &RejectedTokenRequest) {
    assert!(
        !rejected.error.description.is_empty(),
        "a rejection without a description"
    );
    let status = rejected_response(rejected, "fuzz").status();
    assert!(
        status.is_client_error(),
        "a rejected request answered {status}"
    );
}

/// Re-encodes an accepted request as a `client_secret_post` form and
/// parses it again: every field must come back the same.
fn check_round_trip(parsed: &ParsedTokenRequest) {
    let request = &parsed.request;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let optional = [
        ("grant_type", &request.grant_type),
        ("scope", &request.scope),
        ("audience", &request.audience),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            pairs.push((name, value));
        }
    }
    for resource in &request.resources {
        pairs.push(("resource", resource));
    }
    let mut headers = form_headers();
    match (&request.credentials, parsed.auth) {
        // Basic can carry an empty secret, a form cannot (RFC 6749 §3.2:
        // an empty parameter is as if omitted): Basic stays Basic.
        (Some(credentials), ClientAuthMethod::Basic) => {
            let pair = format!(
                "{}:{}",
                form_encode(&credentials.client_id),
                form_encode(credentials.client_secret.expose_secret())
            );
            let Ok(value) = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
            else {
                panic!("a base64 header value was refused by the http crate");
            };
            headers.insert(AUTHORIZATION, value);
        }
        (Some(credentials), _) => {
            pairs.push(("client_id", &credentials.client_id));
            pairs.push(("client_secret", credentials.client_secret.expose_secret()));
        }
        (None, _) => {}
    }
    if let Some(assertion) = &request.assertion {
        pairs.push(("client_assertion_type", JWT_BEARER_ASSERTION_TYPE));
        pairs.push(("client_assertion", assertion.expose()));
        if let Some(id) = &assertion.client_id {
            pairs.push(("client_id", id));
        }
    }
    let body = pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", form_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let again = reparser()
        .parse(&headers, body.as_bytes())
        .unwrap_or_else(|r| panic!("re-encoded request refused: {:?}", r.error));
    let (a, b) = (&again.request, request);
    assert_eq!(a.grant_type, b.grant_type, "grant_type round trip");
    assert_eq!(a.scope, b.scope, "scope round trip");
    assert_eq!(a.audience, b.audience, "audience round trip");
    assert_eq!(a.resources, b.resources, "resource round trip");
    assert_eq!(again.auth, parsed.auth, "auth method round trip");
    let ids = |c: &Option<clientcreds_registry::ClientCredentials>| {
        c.as_ref().map(|c| {
            (
                c.client_id.clone(),
                c.client_secret.expose_secret().to_owned(),
            )
        })
    };
    assert_eq!(
        ids(&a.credentials),
        ids(&b.credentials),
        "credentials round trip"
    );
    let asserted = |r: &clientcreds_registry::ExchangeRequest| {
        r.assertion
            .as_ref()
            .map(|x| (x.client_id.clone(), x.expose().to_owned()))
    };
    assert_eq!(asserted(a), asserted(b), "client assertion round trip");
}
