//! RFC 6749 on the wire: the token request (§4.4.2, client authentication
//! §2.3.1), the token and error responses (§5.1, §5.2), the JWT `exp` cap,
//! and RFC 8414 metadata.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::assertion::{CLIENT_ASSERTION_TYPE, Proof};
use crate::{AccessToken, Error, OAuthErrorCode, TokenRequest, TokenType};

/// Where a [`ClientSecret`](crate::ClientSecret) goes in the token request
/// (RFC 6749 §2.3.1). Clients built with a key or an assertion source
/// send a `client_assertion` instead and take no `AuthMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `client_secret_basic`: HTTP Basic, id and secret each
    /// form-urlencoded first, as RFC 6749 §2.3.1 requires (the default).
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    Body,
}

/// The token request as an `http::Request`. Our intermediate buffers are
/// zeroized; the request itself belongs to the transport from here on.
pub(crate) fn token_request(
    endpoint: &http::Uri,
    client_id: &str,
    proof: &Proof<'_>,
    request: &TokenRequest,
) -> Result<http::Request<Vec<u8>>, Error> {
    let proof_len = match proof {
        Proof::Secret(secret, _) => secret.expose_secret().len(),
        Proof::Assertion(assertion) => assertion.len() + CLIENT_ASSERTION_TYPE.len(),
    };
    // Room for everything percent-encoded, so the buffer holding the secret
    // never reallocates (which would leave a copy behind unzeroized).
    let room = 3
        * (client_id.len()
            + proof_len
            + request.scope_param().map_or(0, |s| s.len())
            + request.audience_param().map_or(0, str::len)
            + request
                .resource_params()
                .map(|r| r.len() + 10)
                .sum::<usize>())
        + 96;
    let mut body = Zeroizing::new(String::with_capacity(room));
    body.push_str("grant_type=client_credentials");
    let mut pair = |name: &str, value: &str| {
        body.push('&');
        body.push_str(name);
        body.push('=');
        form_encode(value, &mut body);
    };
    if let Some(scope) = request.scope_param() {
        pair("scope", &scope);
    }
    if let Some(audience) = request.audience_param() {
        pair("audience", audience);
    }
    for resource in request.resource_params() {
        pair("resource", resource);
    }
    let mut builder = http::Request::post(endpoint.clone())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, "application/json");
    match proof {
        Proof::Secret(secret, AuthMethod::Basic) => {
            let mut credentials = Zeroizing::new(String::with_capacity(
                3 * (client_id.len() + secret.expose_secret().len()) + 1,
            ));
            form_encode(client_id, &mut credentials);
            credentials.push(':');
            form_encode(secret.expose_secret(), &mut credentials);
            let mut encoded =
                Zeroizing::new(String::with_capacity(8 + 4 * credentials.len().div_ceil(3)));
            encoded.push_str("Basic ");
            base64::engine::general_purpose::STANDARD
                .encode_string(credentials.as_bytes(), &mut encoded);
            let mut value = http::HeaderValue::from_str(&encoded).map_err(|_| Error::Config {
                field: "client_id",
                reason: "cannot be sent in a header",
            })?;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        Proof::Secret(secret, AuthMethod::Body) => {
            pair("client_id", client_id);
            pair("client_secret", secret.expose_secret());
        }
        // RFC 7521 §4.2 with RFC 7523 §2.2; `client_id` too, as RFC 7521
        // §4.2 allows: the server knows the client before it parses the
        // assertion. Never a `client_secret` alongside.
        Proof::Assertion(assertion) => {
            pair("client_id", client_id);
            pair("client_assertion_type", CLIENT_ASSERTION_TYPE);
            pair("client_assertion", assertion);
        }
    }
    builder
        .body(body.as_bytes().to_vec())
        .map_err(|_| Error::Config {
            field: "token_endpoint",
            reason: "is not a valid request URI",
        })
}

/// `application/x-www-form-urlencoded` encoding of one value: unreserved
/// characters as they are, space as `+`, everything else percent-encoded.
pub(crate) fn form_encode(value: &str, out: &mut String) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                // Two uppercase hex digits; `write!` to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

#[derive(Deserialize)]
struct SuccessBody {
    access_token: Zeroizing<String>,
    token_type: String,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    error_description: Option<String>,
}

/// What `token_type` a token response may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The request had no DPoP proof: `Bearer` only.
    Bearer,
    /// The request had a proof: `DPoP`, or `Bearer` when allowed.
    #[cfg_attr(not(feature = "dpop"), allow(dead_code))]
    Dpop {
        /// Whether a `Bearer` answer is accepted.
        allow_bearer: bool,
    },
}

/// Turns the endpoint's response into a token (or the error it says).
/// `default_lifetime` applies when the response has no `expires_in` and
/// the token is not a JWT with `exp`.
pub(crate) fn token_response(
    response: &http::Response<Vec<u8>>,
    now: SystemTime,
    default_lifetime: Duration,
    expect: Expect,
) -> Result<AccessToken, Error> {
    let status = response.status();
    if !status.is_success() {
        // RFC 6749 §5.2: 400 (or 401 for invalid_client) with a JSON body.
        return Err(match serde_json::from_slice::<ErrorBody>(response.body()) {
            Ok(body) if status.is_client_error() => Error::OAuth {
                code: OAuthErrorCode::parse(&body.error),
                // Bounded and printable: it ends up in logs.
                description: body
                    .error_description
                    .map(|d| d.chars().filter(|c| !c.is_control()).take(200).collect()),
                status: status.as_u16(),
            },
            _ => Error::Status {
                status: status.as_u16(),
            },
        });
    }
    let mut body: SuccessBody = serde_json::from_slice(response.body())
        .map_err(|_| Error::InvalidResponse("token response is not the RFC 6749 JSON object"))?;
    let token_type = match (TokenType::from_name(&body.token_type), expect) {
        (Some(TokenType::Bearer), Expect::Bearer | Expect::Dpop { allow_bearer: true }) => {
            TokenType::Bearer
        }
        (Some(TokenType::DPoP), Expect::Dpop { .. }) => TokenType::DPoP,
        (
            Some(TokenType::Bearer),
            Expect::Dpop {
                allow_bearer: false,
            },
        ) => {
            return Err(Error::InvalidResponse(
                "token_type is Bearer, not DPoP: the server did not bind the token to the DPoP \
                 key (accept that with dpop_allow_bearer)",
            ));
        }
        (Some(TokenType::DPoP), Expect::Bearer) => {
            return Err(Error::InvalidResponse(
                "token_type is DPoP but the client has no DPoP key",
            ));
        }
        _ => {
            return Err(Error::InvalidResponse(
                "token_type is neither Bearer nor DPoP",
            ));
        }
    };
    if body.access_token.is_empty() || !body.access_token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::InvalidResponse(
            "access_token is empty or not printable ASCII",
        ));
    }
    let lifetime = match &body.expires_in {
        None => None,
        // Some servers send it as a string.
        Some(value) => Some(
            value
                .as_u64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .map(Duration::from_secs)
                .ok_or(Error::InvalidResponse(
                    "expires_in is not a non-negative integer",
                ))?,
        ),
    };
    // A lifetime no server means (or one past what `SystemTime` holds)
    // is clamped, never added unchecked.
    let by_response = lifetime.map(|l| {
        now.checked_add(l.min(MAX_LIFETIME))
            .unwrap_or(now + Duration::from_secs(1))
    });
    let by_jwt = jwt_expiry(&body.access_token);
    let expires_at = match (by_response, by_jwt) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => now
            .checked_add(default_lifetime.min(MAX_LIFETIME))
            .unwrap_or(now),
    };
    Ok(AccessToken::with_type(
        std::mem::take(&mut *body.access_token),
        expires_at,
        body.scope,
        token_type,
    ))
}

/// The longest lifetime a token is cached for, whatever `expires_in`
/// says (one year): a longer one is clamped.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// The `exp` claim of a JWS compact token, read without checking the
/// signature: it is only used to expire the token *earlier* than
/// `expires_in` says, never later, so a forged `exp` can at worst cause an
/// early refresh. `None` for anything that is not a JWT with a numeric `exp`.
pub(crate) fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 8 * 1024 {
        return None;
    }
    let json = Zeroizing::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?,
    );
    #[derive(Deserialize)]
    struct Claims {
        exp: Option<serde_json::Value>,
    }
    let exp = serde_json::from_slice::<Claims>(&json).ok()?.exp?;
    let secs = exp.as_u64().or_else(|| {
        exp.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64)
    })?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    token_endpoint: Option<String>,
}

/// The RFC 8414 §3 metadata URL of an issuer: the well-known segment goes
/// between the host and the issuer's path.
pub(crate) fn metadata_uri(issuer: &http::Uri) -> Result<http::Uri, Error> {
    let bad = Error::Config {
        field: "issuer",
        reason: "must be an http(s) URL without query or fragment",
    };
    let (Some(scheme), Some(authority)) = (issuer.scheme_str(), issuer.authority()) else {
        return Err(bad);
    };
    if issuer.query().is_some() {
        return Err(bad);
    }
    let path = issuer.path().trim_end_matches('/');
    format!("{scheme}://{authority}/.well-known/oauth-authorization-server{path}")
        .parse()
        .map_err(|_| bad)
}

/// Where `OpenID` Connect Discovery 1.0 §4 puts the metadata: appended to
/// the issuer (the fallback after RFC 8414's location).
pub(crate) fn openid_metadata_uri(issuer: &http::Uri) -> Result<http::Uri, Error> {
    let text = issuer.to_string();
    format!(
        "{}/.well-known/openid-configuration",
        text.trim_end_matches('/')
    )
    .parse()
    .map_err(|_| Error::Config {
        field: "issuer",
        reason: "must be an http(s) URL without query or fragment",
    })
}

/// The token endpoint from a metadata document (status already 2xx),
/// after checking that the document is the issuer's own: its `issuer` is
/// exactly the configured one (RFC 8414 §3.3). The error is the reason.
pub(crate) fn token_endpoint_from_metadata(body: &[u8], issuer: &str) -> Result<String, String> {
    let metadata: Metadata = serde_json::from_slice(body)
        .map_err(|_| "the document is not a metadata JSON object".to_owned())?;
    if metadata.issuer != issuer {
        let hint = if metadata.issuer.trim_end_matches('/') == issuer.trim_end_matches('/') {
            "; issuers compare as exact strings (RFC 8414 §3.3): configure the issuer \
             exactly as the metadata spells it, trailing slash included"
        } else {
            ""
        };
        return Err(format!(
            "the metadata names issuer `{}`, not `{issuer}`{hint}",
            metadata.issuer
        ));
    }
    metadata
        .token_endpoint
        .ok_or_else(|| "the metadata has no token_endpoint".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::ClientSecret;

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        // RFC 6749 §2.3.1: "client id" and "p@ss:w rd" are encoded first.
        let request = token_request(
            &"http://as.example/token".parse().unwrap(),
            "client id",
            &Proof::Secret(&ClientSecret::new("p@ss:w rd"), AuthMethod::Basic),
            &TokenRequest::new()
                .scopes(["b", "a"])
                .audience("https://api/x"),
        )
        .unwrap();
        let header = request.headers()[AUTHORIZATION].to_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"client+id:p%40ss%3Aw+rd");
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
        assert_eq!(
            std::str::from_utf8(request.body()).unwrap(),
            "grant_type=client_credentials&scope=a+b&audience=https%3A%2F%2Fapi%2Fx"
        );
    }

    #[test]
    fn body_credentials_go_in_the_form() {
        let request = token_request(
            &"http://as.example/token".parse().unwrap(),
            "id",
            &Proof::Secret(&ClientSecret::new("s&=1"), AuthMethod::Body),
            &TokenRequest::new().resource("urn:a"),
        )
        .unwrap();
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert_eq!(
            std::str::from_utf8(request.body()).unwrap(),
            "grant_type=client_credentials&resource=urn%3Aa&client_id=id&client_secret=s%26%3D1"
        );
    }

    #[test]
    fn assertions_go_in_the_form_without_a_secret() {
        let request = token_request(
            &"http://as.example/token".parse().unwrap(),
            "svc 1",
            &Proof::Assertion(Zeroizing::new("h.p.s".to_owned())),
            &TokenRequest::new().scope("a"),
        )
        .unwrap();
        assert!(request.headers().get(AUTHORIZATION).is_none());
        assert_eq!(
            std::str::from_utf8(request.body()).unwrap(),
            "grant_type=client_credentials&scope=a&client_id=svc+1\
             &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
             &client_assertion=h.p.s"
        );
    }

    fn respond(status: u16, body: &str) -> http::Response<Vec<u8>> {
        let mut response = http::Response::new(body.as_bytes().to_vec());
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        response
    }

    fn jwt(exp: u64) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.sig",
            e(r#"{"alg":"EdDSA"}"#),
            e(&format!(r#"{{"exp":{exp}}}"#))
        )
    }

    #[test]
    fn expiry_is_expires_in_capped_by_the_jwt_exp() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let long = jwt(1_000_100);
        let body =
            format!(r#"{{"access_token":"{long}","token_type":"bearer","expires_in":3600}}"#);
        let token = token_response(
            &respond(200, &body),
            now,
            Duration::from_secs(300),
            Expect::Bearer,
        )
        .unwrap();
        assert_eq!(
            token.expires_at(),
            UNIX_EPOCH + Duration::from_secs(1_000_100)
        );
        let body =
            format!(r#"{{"access_token":"{long}","token_type":"Bearer","expires_in":"50"}}"#);
        let token = token_response(
            &respond(200, &body),
            now,
            Duration::from_secs(300),
            Expect::Bearer,
        )
        .unwrap();
        assert_eq!(token.expires_at(), now + Duration::from_secs(50));
        let body = r#"{"access_token":"opaque","token_type":"Bearer","scope":"a b"}"#;
        let token = token_response(
            &respond(200, body),
            now,
            Duration::from_secs(300),
            Expect::Bearer,
        )
        .unwrap();
        assert_eq!(token.expires_at(), now + Duration::from_secs(300));
        assert_eq!(token.scope(), Some("a b"));
        // An absurd expires_in is clamped, never a panic.
        for huge in [u64::MAX.to_string(), format!("\"{}\"", u64::MAX)] {
            let body =
                format!(r#"{{"access_token":"opaque","token_type":"Bearer","expires_in":{huge}}}"#);
            let token = token_response(
                &respond(200, &body),
                now,
                Duration::from_secs(300),
                Expect::Bearer,
            )
            .unwrap();
            assert_eq!(token.expires_at(), now + MAX_LIFETIME);
        }
        let far = UNIX_EPOCH + Duration::from_secs(u64::MAX / 4);
        let body = r#"{"access_token":"opaque","token_type":"Bearer","expires_in":3600}"#;
        assert!(
            token_response(
                &respond(200, body),
                far,
                Duration::from_secs(300),
                Expect::Bearer
            )
            .is_ok()
        );
    }

    #[test]
    fn bad_responses_are_typed_errors() {
        let now = SystemTime::now();
        let d = Duration::from_secs(1);
        let err = token_response(
            &respond(
                401,
                r#"{"error":"invalid_client","error_description":"no"}"#,
            ),
            now,
            d,
            Expect::Bearer,
        )
        .unwrap_err();
        assert!(err.is_credentials_rejected(), "{err}");
        assert_eq!(
            err.to_string(),
            "token request refused: invalid_client (no)"
        );
        assert_eq!(
            token_response(&respond(503, "<html>"), now, d, Expect::Bearer).unwrap_err(),
            Error::Status { status: 503 }
        );
        for body in [
            "not json",
            r#"{"access_token":"t","token_type":"mac"}"#,
            r#"{"access_token":"","token_type":"Bearer"}"#,
            r#"{"access_token":"t","token_type":"Bearer","expires_in":-5}"#,
            r#"{"access_token":"t","token_type":"DPoP"}"#,
        ] {
            assert!(
                matches!(
                    token_response(&respond(200, body), now, d, Expect::Bearer),
                    Err(Error::InvalidResponse(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn the_token_type_must_be_what_was_asked_for() {
        let now = SystemTime::now();
        let d = Duration::from_secs(60);
        let dpop = r#"{"access_token":"t","token_type":"dpop","expires_in":60}"#;
        let bearer = r#"{"access_token":"t","token_type":"Bearer","expires_in":60}"#;
        let strict = Expect::Dpop {
            allow_bearer: false,
        };
        let lax = Expect::Dpop { allow_bearer: true };
        let token = token_response(&respond(200, dpop), now, d, strict).unwrap();
        assert_eq!(token.token_type(), TokenType::DPoP);
        assert!(
            token
                .authorization()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("DPoP ")
        );
        let err = token_response(&respond(200, bearer), now, d, strict).unwrap_err();
        assert!(err.to_string().contains("dpop_allow_bearer"), "{err}");
        let token = token_response(&respond(200, bearer), now, d, lax).unwrap();
        assert_eq!(token.token_type(), TokenType::Bearer);
        let err = token_response(&respond(200, dpop), now, d, Expect::Bearer).unwrap_err();
        assert!(err.to_string().contains("no DPoP key"), "{err}");
        let nonce = r#"{"error":"use_dpop_nonce","error_description":"x"}"#;
        let err = token_response(&respond(400, nonce), now, d, strict).unwrap_err();
        assert_eq!(err.oauth_code(), Some(&OAuthErrorCode::UseDpopNonce));
    }

    #[test]
    fn metadata_url_follows_rfc_8414() {
        let at = |s: &str| metadata_uri(&s.parse().unwrap()).unwrap().to_string();
        assert_eq!(
            at("https://as.example"),
            "https://as.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            at("https://as.example/tenant/t1/"),
            "https://as.example/.well-known/oauth-authorization-server/tenant/t1"
        );
        let doc = br#"{"issuer":"https://evil.example","token_endpoint":"x"}"#;
        assert!(token_endpoint_from_metadata(doc, "https://as.example").is_err());
        let doc = br#"{"issuer":"https://as.example/","token_endpoint":"x"}"#;
        let reason = token_endpoint_from_metadata(doc, "https://as.example").unwrap_err();
        assert!(reason.contains("trailing slash"), "{reason}");
        let doc = br#"{"issuer":"https://as.example","token_endpoint":"x"}"#;
        assert_eq!(
            token_endpoint_from_metadata(doc, "https://as.example").unwrap(),
            "x"
        );
        let openid = openid_metadata_uri(&"https://as.example/realms/a/".parse().unwrap());
        assert_eq!(
            openid.unwrap().to_string(),
            "https://as.example/realms/a/.well-known/openid-configuration"
        );
    }
}
