//! Shared fixtures and token-forging helpers for the integration tests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{
    Algorithm, KeySet, MintedToken, PrivateJwk, SigningKey, TokenClaims, TokenIssuer,
    TokenVerifier, Validation,
};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

pub const ISSUER: &str = "https://auth.example.com";
pub const AUDIENCE: &str = "https://api.example.com";
pub const OTHER_AUDIENCE: &str = "https://reports.example.com";
pub const CLIENT_ID: &str = "acme_client_123";
pub const TENANT: &str = "acme";

/// The HS256 test secret (exactly 32 bytes) and its key id.
pub const HS_SECRET: &[u8; 32] = b"test-only hs256 secret, 32 bytes";
pub const HS_KID: &str = "hs-test-only";

/// Every asymmetric algorithm with a committed fixture key.
pub const ASYMMETRIC: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];
/// Every algorithm.
pub const ALL: [Algorithm; 4] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::RS256,
    Algorithm::HS256,
];

/// A fixed instant for deterministic time checks (2030-03-17).
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
}

pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

pub fn data(name: &str) -> Vec<u8> {
    std::fs::read(data_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

pub fn data_str(name: &str) -> String {
    String::from_utf8(data(name)).unwrap()
}

/// The fixture file stem for an asymmetric algorithm.
pub fn stem(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EdDSA => "test-only-ed25519",
        Algorithm::ES256 => "test-only-p256",
        // One RSA key serves both paddings.
        Algorithm::RS256 | Algorithm::PS256 => "test-only-rsa2048",
        other => panic!("no PKCS#8 fixture for {other}"),
    }
}

pub fn pem(algorithm: Algorithm) -> String {
    data_str(&format!("{}.pem", stem(algorithm)))
}

pub fn der(algorithm: Algorithm) -> Vec<u8> {
    data(&format!("{}.der", stem(algorithm)))
}

pub fn public_pem(algorithm: Algorithm) -> Vec<u8> {
    data(&format!("{}.pub.pem", stem(algorithm)))
}

pub fn public_der(algorithm: Algorithm) -> Vec<u8> {
    data(&format!("{}.pub.der", stem(algorithm)))
}

pub fn jwk_json(algorithm: Algorithm) -> String {
    data_str(&format!("{}.jwk.json", stem(algorithm)))
}

/// The committed fixture key for `algorithm` (HS256: [`HS_SECRET`]).
pub fn fixture_key(algorithm: Algorithm) -> SigningKey {
    match algorithm {
        Algorithm::HS256 => SigningKey::hs256(HS_KID, HS_SECRET).unwrap(),
        other => SigningKey::from_pkcs8_pem(other, &pem(other)).unwrap(),
    }
}

/// The same fixture key loaded from its private JWK.
pub fn fixture_key_from_jwk(algorithm: Algorithm) -> SigningKey {
    SigningKey::from_jwk(&PrivateJwk::from_json(&jwk_json(algorithm)).unwrap()).unwrap()
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    B64URL.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    B64URL.decode(text).unwrap()
}

/// Our issuer's tokens always name a tenant: the tests' verifier requires one.
pub fn validation() -> Validation {
    Validation::new(ISSUER, AUDIENCE).require_tenant()
}

pub fn verifier(keys: &Arc<KeySet>) -> TokenVerifier {
    TokenVerifier::new(keys.clone(), validation())
}

/// Mints a token for `audience` with `scope` and a `roles` extra claim.
pub fn mint_for(
    keys: &Arc<KeySet>,
    at: OffsetDateTime,
    audience: &[&str],
    lifetime: Duration,
) -> MintedToken {
    let issuer = TokenIssuer::new(keys.clone(), ISSUER);
    let audience: Vec<String> = audience.iter().map(|a| (*a).to_owned()).collect();
    let mut extra = BTreeMap::new();
    extra.insert("roles".to_owned(), json!(["reader", "auditor"]));
    issuer
        .mint(&TokenClaims {
            client_id: CLIENT_ID,
            tenant: TENANT,
            audience: &audience,
            scopes: &["read".to_owned(), "write".to_owned()],
            extra: &extra,
            lifetime,
            now: at,
            secret_id: None,
        })
        .unwrap()
}

/// Mints a one-hour token for [`AUDIENCE`] at `at`.
pub fn mint(keys: &Arc<KeySet>, at: OffsetDateTime) -> String {
    mint_for(keys, at, &[AUDIENCE], Duration::hours(1))
        .access_token
        .expose()
        .to_owned()
}

/// The header a well-formed token from `key` carries.
pub fn header_for(key: &SigningKey) -> Value {
    json!({ "alg": key.algorithm().name(), "typ": "at+jwt", "kid": key.kid() })
}

/// A complete, valid claim set issued at `at`, living one hour.
pub fn claims_at(at: OffsetDateTime) -> Value {
    let t = at.unix_timestamp();
    json!({
        "iss": ISSUER,
        "sub": CLIENT_ID,
        "aud": AUDIENCE,
        "exp": t + 3600,
        "iat": t,
        "nbf": t,
        "jti": "jti-0001",
        "client_id": CLIENT_ID,
        "scope": "read write",
        "tenant": TENANT,
    })
}

/// `claims_at(now())` with `name` set to `value` (or removed when `None`).
pub fn claims_with(name: &str, value: Option<Value>) -> Value {
    let mut claims = claims_at(now());
    let object = claims.as_object_mut().unwrap();
    match value {
        Some(value) => object.insert(name.to_owned(), value),
        None => object.remove(name),
    };
    claims
}

/// `base64url(header) . base64url(payload)`.
pub fn signing_input(header: &[u8], payload: &[u8]) -> String {
    format!("{}.{}", b64(header), b64(payload))
}

/// A compact JWS over raw header and payload bytes, signed by `key`.
pub fn forge_raw(header: &[u8], payload: &[u8], key: &SigningKey) -> String {
    let input = signing_input(header, payload);
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature))
}

/// A compact JWS over JSON header and payload, signed by `key`.
pub fn forge(header: &Value, payload: &Value, key: &SigningKey) -> String {
    forge_raw(
        &serde_json::to_vec(header).unwrap(),
        &serde_json::to_vec(payload).unwrap(),
        key,
    )
}

/// A compact JWS whose signature is HMAC-SHA256 under an arbitrary secret.
pub fn forge_hmac(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let input = signing_input(
        &serde_json::to_vec(header).unwrap(),
        &serde_json::to_vec(payload).unwrap(),
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// Splits a compact token into its three parts.
pub fn parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let header = it.next().unwrap().to_owned();
    let payload = it.next().unwrap().to_owned();
    let signature = it.next().unwrap().to_owned();
    assert!(it.next().is_none());
    (header, payload, signature)
}
