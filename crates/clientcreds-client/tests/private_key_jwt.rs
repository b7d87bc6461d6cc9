//! `private_key_jwt` through the public API: a local token endpoint
//! records each request, and the test verifies every assertion with
//! `clientcreds_jwt::SignedJws` and the registered public key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod recording;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_client::jwt::{Algorithm, SignedJws, SigningKey, VerifyingKey, pkcs8_pem};
use clientcreds_client::{
    AssertionKey, AssertionTyp, AuthMethod, ClientSecret, Error, MemoryCache, OAuthErrorCode,
    TokenClient, TokenRequest,
};
use recording::{Seen, start};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What one verified assertion said.
struct Checked {
    iat: i64,
    exp: i64,
    jti: String,
    kid: Option<String>,
    typ: Option<String>,
}

/// Checks the form of `seen` and the assertion in it: signature by
/// `public`, `iss` = `sub` = `client_id`, `aud` = `audience`.
fn verify(seen: &Seen, public: &VerifyingKey, client_id: &str, audience: &str) -> Checked {
    assert!(!seen.authorization_header, "no Basic header with a key");
    assert!(
        !seen.has("client_secret"),
        "never a secret: {:?}",
        seen.names()
    );
    assert_eq!(seen.field("grant_type"), "client_credentials");
    assert_eq!(seen.field("client_id"), client_id);
    assert_eq!(seen.field("client_assertion_type"), ASSERTION_TYPE);
    let text = seen.field("client_assertion");
    let jws = SignedJws::parse(text, 8192).unwrap();
    jws.verify(public).unwrap();
    assert_eq!(jws.string("iss").unwrap(), Some(client_id));
    assert_eq!(jws.string("sub").unwrap(), Some(client_id));
    assert_eq!(jws.string("aud").unwrap(), Some(audience));
    let jti = jws.string("jti").unwrap().unwrap().to_owned();
    // 128 random bits, base64url without padding.
    assert_eq!(B64URL.decode(&jti).unwrap().len(), 16, "{jti}");
    Checked {
        iat: jws.numeric_date("iat").unwrap().unwrap(),
        exp: jws.numeric_date("exp").unwrap().unwrap(),
        jti,
        kid: jws.header().kid.clone(),
        typ: jws.header().typ.clone(),
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// A private JWK for an ES256 key, from its PKCS#8 document (RFC 5915
/// inside: the scalar after `02 01 01 04 20`, the public point at the end).
fn es256_jwk(der: &[u8], kid: Option<&str>) -> String {
    let at = der
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])
        .unwrap()
        + 5;
    let d = &der[at..at + 32];
    let point = &der[der.len() - 65..];
    assert_eq!(point[0], 0x04);
    let mut jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256",
        "x": B64URL.encode(&point[1..33]),
        "y": B64URL.encode(&point[33..]),
        "d": B64URL.encode(d),
    });
    if let Some(kid) = kid {
        jwk["kid"] = kid.into();
    }
    jwk.to_string()
}

/// RFC 8037 Appendix A.1's Ed25519 key as a private JWK.
const RFC8037_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519",
    "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

#[tokio::test]
async fn eddsa_pem_with_discovery_signs_a_fresh_assertion_per_request() {
    let server = start().await;
    let der = SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap();
    let pem = pkcs8_pem(&der);
    let public = SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap();
    let key = AssertionKey::from_pkcs8_pem(Algorithm::EdDSA, &pem).unwrap();
    assert_eq!(key.kid(), public.kid());
    let tokens = TokenClient::builder_with_key("svc_1", key)
        .issuer(&server.base)
        .discover()
        .await
        .unwrap();
    assert_eq!(tokens.token_endpoint(), server.endpoint());

    // Three cache entries: three requests, each with its own assertion.
    let mut jtis = HashSet::new();
    for scope in ["a", "b", "c"] {
        let token = tokens
            .token(&TokenRequest::new().scope(scope))
            .await
            .unwrap();
        assert!(token.expose_secret().starts_with("tok-"));
    }
    // A cached token costs no new assertion.
    tokens.token(&TokenRequest::new().scope("a")).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        // The audience is the issuer from the metadata, not the endpoint.
        let checked = verify(request, public.verifying_key(), "svc_1", &server.base);
        assert_eq!(checked.typ.as_deref(), Some("client-authentication+jwt"));
        assert_eq!(checked.kid.as_deref(), Some(public.kid()));
        assert_eq!(checked.exp - checked.iat, 60);
        assert!((checked.iat - now_secs()).abs() <= 5);
        assert!(jtis.insert(checked.jti), "jti repeated");
    }
}

#[tokio::test]
async fn es256_jwk_sends_its_own_kid_and_a_configured_audience_typ_and_lifetime() {
    let server = start().await;
    let der = SigningKey::generate_pkcs8(Algorithm::ES256).unwrap();
    let public = SigningKey::from_pkcs8_der(Algorithm::ES256, &der).unwrap();
    let key = AssertionKey::from_jwk(&es256_jwk(&der, Some("registered-7"))).unwrap();
    assert_eq!(key.algorithm(), Algorithm::ES256);
    assert_eq!(key.kid(), "registered-7");
    assert_eq!(key.thumbprint(), public.kid());
    let key = key
        .with_audience("https://as.example")
        .with_typ(AssertionTyp::Jwt)
        .with_lifetime(Duration::from_secs(300));
    let tokens = TokenClient::builder_with_key("svc_2", key)
        .issuer(&server.base)
        .token_endpoint(server.endpoint())
        .build()
        .unwrap();
    for scope in ["a", "b"] {
        tokens
            .token(&TokenRequest::new().scope(scope))
            .await
            .unwrap();
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let first = verify(
        &seen[0],
        public.verifying_key(),
        "svc_2",
        "https://as.example",
    );
    let second = verify(
        &seen[1],
        public.verifying_key(),
        "svc_2",
        "https://as.example",
    );
    assert_eq!(first.kid.as_deref(), Some("registered-7"));
    assert_eq!(first.typ.as_deref(), Some("JWT"));
    assert_eq!(first.exp - first.iat, 300);
    assert_ne!(first.jti, second.jti);

    // A JWK without `kid` sends the thumbprint; the same key as PEM with
    // `with_kid` sends that id.
    let by_jwk = AssertionKey::from_jwk(&es256_jwk(&der, None)).unwrap();
    assert_eq!(by_jwk.kid(), public.kid());
    let by_pem = AssertionKey::from_pkcs8_pem(Algorithm::ES256, &pkcs8_pem(&der))
        .unwrap()
        .with_kid("other-id");
    assert_eq!(by_pem.kid(), "other-id");
    for key in [by_jwk, by_pem] {
        TokenClient::builder_with_key("svc_2", key)
            .issuer(&server.base)
            .token_endpoint(server.endpoint())
            .build()
            .unwrap()
            .token(&TokenRequest::new())
            .await
            .unwrap();
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    let by_jwk = verify(&seen[2], public.verifying_key(), "svc_2", &server.base);
    let by_pem = verify(&seen[3], public.verifying_key(), "svc_2", &server.base);
    assert_eq!(by_jwk.kid.as_deref(), Some(public.kid()));
    assert_eq!(by_pem.kid.as_deref(), Some("other-id"));
    for checked in [by_jwk, by_pem] {
        assert_eq!(checked.typ.as_deref(), Some("client-authentication+jwt"));
        assert_eq!(checked.exp - checked.iat, 60);
    }
}

#[tokio::test]
async fn eddsa_jwk_without_an_issuer_falls_back_to_the_token_endpoint_as_audience() {
    let server = start().await;
    let key = AssertionKey::from_jwk(RFC8037_JWK).unwrap();
    assert_eq!(key.algorithm(), Algorithm::EdDSA);
    // RFC 8037 Appendix A.3: the thumbprint of this key.
    assert_eq!(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    let public = key.verifying_key().clone();
    let tokens = TokenClient::builder_with_key("svc_3", key)
        .token_endpoint(server.endpoint())
        .build()
        .unwrap();
    tokens.token(&TokenRequest::new()).await.unwrap();
    let seen = server.seen();
    let checked = verify(&seen[0], &public, "svc_3", &server.endpoint());
    assert_eq!(
        checked.kid.as_deref(),
        Some("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
    );
}

#[tokio::test]
async fn a_refused_assertion_is_invalid_client_and_negatively_cached() {
    let server = start().await;
    server.refuse(true);
    let key = AssertionKey::from_jwk(RFC8037_JWK).unwrap();
    let tokens = TokenClient::builder_with_key("svc_4", key)
        .token_endpoint(server.endpoint())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let error = source.token().await.unwrap_err();
    assert!(error.is_credentials_rejected(), "{error}");
    assert_eq!(error.oauth_code(), Some(&OAuthErrorCode::InvalidClient));
    // Within the negative cache time: no new request (so no new assertion).
    let again = source.token().await.unwrap_err();
    assert!(matches!(again, Error::BackingOff { .. }), "{again}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn the_cache_key_tells_keys_and_secrets_apart() {
    let server = start().await;
    let cache = Arc::new(MemoryCache::new());
    let build = |key: AssertionKey| {
        TokenClient::builder_with_key("svc_5", key)
            .token_endpoint(server.endpoint())
            .cache(cache.clone())
            .build()
            .unwrap()
    };
    let rfc = AssertionKey::from_jwk(RFC8037_JWK).unwrap();
    let other = AssertionKey::new(SigningKey::generate(Algorithm::EdDSA).unwrap()).unwrap();
    let first = build(rfc.clone());
    let token = first.token(&TokenRequest::new()).await.unwrap();
    // The same key (and the same client) shares the shared cache's token.
    let same = build(rfc.clone())
        .token(&TokenRequest::new())
        .await
        .unwrap();
    assert!(same.same_token(&token));
    assert_eq!(server.seen().len(), 1);
    // Another key, or a secret, for the same client id does not.
    let by_other = build(other).token(&TokenRequest::new()).await.unwrap();
    assert!(!by_other.same_token(&token));
    let by_secret = TokenClient::builder("svc_5", ClientSecret::new("s"))
        .token_endpoint(server.endpoint())
        .cache(cache.clone())
        .build()
        .unwrap();
    let secret_token = by_secret.token(&TokenRequest::new()).await.unwrap();
    assert!(!secret_token.same_token(&token));
    assert_eq!(server.seen().len(), 3);
    assert!(server.seen()[2].authorization_header);
    let key = first.source(TokenRequest::new()).unwrap().key().clone();
    assert!(
        key.as_str()
            .ends_with(&format!("\nprivate_key_jwt:{}", rfc.thumbprint())),
        "{key:?}"
    );
    let secret_key = by_secret.source(TokenRequest::new()).unwrap().key().clone();
    assert_eq!(secret_key.as_str().split('\n').count(), 5, "{secret_key:?}");
}

#[test]
fn bad_keys_and_settings_are_typed_errors() {
    let hs = SigningKey::hs256("k", &[7; 32]).unwrap();
    assert!(matches!(AssertionKey::new(hs), Err(Error::AssertionKey(_))));
    let der = SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap();
    let pem = pkcs8_pem(&der);
    // An Ed25519 key is not an ES256 key.
    let error = AssertionKey::from_pkcs8_pem(Algorithm::ES256, &pem).unwrap_err();
    assert!(
        matches!(&error, Error::AssertionKey(m) if m.contains("ES256")),
        "{error}"
    );
    let error = AssertionKey::from_pkcs8_pem(Algorithm::EdDSA, "not pem").unwrap_err();
    assert!(
        matches!(&error, Error::AssertionKey(m) if m.contains("PEM")),
        "{error}"
    );
    for jwk in [
        "{",
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        r#"{"kty":"oct","kid":"k","k":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#,
        r#"{"kty":"OKP","crv":"Ed25519","kid":7,
            "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
            "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    ] {
        let error = AssertionKey::from_jwk(jwk).unwrap_err();
        assert!(matches!(error, Error::AssertionKey(_)), "{jwk}: {error}");
        // The private member never shows in the error.
        assert!(!error.to_string().contains("nWGxne"), "{error}");
    }

    let key = AssertionKey::from_jwk(RFC8037_JWK).unwrap();
    let build = |key: AssertionKey| {
        TokenClient::builder_with_key("svc", key)
            .token_endpoint("https://as.example/token")
            .build()
            .unwrap_err()
    };
    for (key, field) in [
        (
            key.clone().with_lifetime(Duration::from_secs(301)),
            "assertion lifetime",
        ),
        (
            key.clone().with_lifetime(Duration::ZERO),
            "assertion lifetime",
        ),
        (key.clone().with_kid(""), "assertion kid"),
        (key.clone().with_kid("a\nb"), "assertion kid"),
        (key.clone().with_audience(""), "assertion audience"),
    ] {
        assert!(
            matches!(build(key), Error::Config { field: f, .. } if f == field),
            "{field}"
        );
    }
    let error = TokenClient::builder_with_key("svc", key)
        .token_endpoint("https://as.example/token")
        .auth_method(AuthMethod::Body)
        .build()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::Config {
                field: "auth_method",
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn the_key_never_prints() {
    let key = AssertionKey::from_jwk(RFC8037_JWK).unwrap();
    let tokens = TokenClient::builder_with_key("svc", key.clone())
        .token_endpoint("https://as.example/token")
        .build()
        .unwrap();
    let builder = TokenClient::builder_with_key("svc", key.clone());
    for text in [
        format!("{key:?}"),
        format!("{tokens:?}"),
        format!("{builder:?}"),
    ] {
        assert!(!text.contains("nWGxne"), "{text}");
        assert!(text.contains("EdDSA"), "{text}");
    }
    assert!(format!("{tokens:?}").contains("private_key_jwt"));
}

#[tokio::test]
async fn rsa_pss_pem_signs_where_the_backend_makes_rsa_keys() {
    let der = match SigningKey::generate_pkcs8(Algorithm::PS256) {
        Ok(der) => der,
        Err(error) => {
            // ring cannot generate RSA keys (it loads them): nothing to
            // sign with in this build.
            assert_eq!(clientcreds_client::jwt::CRYPTO_BACKEND, "ring", "{error}");
            return;
        }
    };
    let server = start().await;
    let public = SigningKey::from_pkcs8_der(Algorithm::PS256, &der).unwrap();
    let key = AssertionKey::from_pkcs8_pem(Algorithm::PS256, &pkcs8_pem(&der)).unwrap();
    let tokens = TokenClient::builder_with_key("svc_rsa", key)
        .issuer(&server.base)
        .token_endpoint(server.endpoint())
        .build()
        .unwrap();
    tokens.token(&TokenRequest::new()).await.unwrap();
    let checked = verify(
        &server.seen()[0],
        public.verifying_key(),
        "svc_rsa",
        &server.base,
    );
    assert_eq!(checked.kid.as_deref(), Some(public.kid()));
}

#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn traces_name_the_method_but_never_a_key_or_an_assertion() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start().await;
    let key = AssertionKey::from_jwk(RFC8037_JWK).unwrap();
    let signed = TokenClient::builder_with_key("svc_log", key)
        .token_endpoint(server.endpoint())
        .build()
        .unwrap();
    let federated = TokenClient::builder_with_assertion(
        "svc_log",
        clientcreds_client::AssertionSource::callback(|| async {
            Ok::<_, String>("eyJmZWQ.eyJmZWRlcmF0ZWQ.c2lnbmF0dXJl".into())
        }),
    )
    .token_endpoint(server.endpoint())
    .build()
    .unwrap();
    signed.token(&TokenRequest::new()).await.unwrap();
    federated.token(&TokenRequest::new()).await.unwrap();
    server.refuse(true);
    for tokens in [&signed, &federated] {
        let error = tokens
            .token(&TokenRequest::new().scope("x"))
            .await
            .unwrap_err();
        assert!(error.is_credentials_rejected(), "{error}");
    }

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("auth=\"private_key_jwt\""), "{logs}");
    assert!(logs.contains("auth=\"client_assertion\""), "{logs}");
    assert!(logs.contains("token refresh failed"), "{logs}");
    assert!(!logs.contains("nWGxne"), "the private key was logged");
    let seen = server.seen();
    assert_eq!(seen.len(), 4);
    for request in &seen {
        let assertion = request.field("client_assertion");
        // Any of its three parts would do for a replay within its lifetime.
        for part in assertion.split('.') {
            assert!(!logs.contains(part), "an assertion was logged: {part}");
        }
    }
}
