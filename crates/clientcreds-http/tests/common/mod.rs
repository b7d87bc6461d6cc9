//! Shared set-up for the HTTP binding's integration tests: a form encoder
//! written from the spec (not the crate's decoder run backwards), and a
//! token endpoint over a real `TokenService` on a `MemoryStore`.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clientcreds_http::{
    TokenRequestParser, rejected_response, token_error_response, token_response,
};
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{Actor, ManualClock, NewClient, Policy, Registry, TokenService};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{MemoryStore, Store, TenantId};
use http::{HeaderMap, HeaderValue, Response};
use time::OffsetDateTime;

pub const ISSUER: &str = "https://auth.example.com";
pub const API: &str = "https://api.example.com";
pub const REALM: &str = "clientcreds";
pub const FORM: &str = "application/x-www-form-urlencoded";

/// The WHATWG `application/x-www-form-urlencoded` byte serializer, which
/// RFC 6749 §2.3.1 requires for the Basic id and secret: `*-._` and
/// alphanumerics stay, a space becomes `+`, every other byte `%XX`.
pub fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// `Basic base64(form(id) ":" form(secret))`, as RFC 6749 §2.3.1 says.
pub fn basic(id: &str, secret: &str) -> HeaderValue {
    basic_raw(format!("{}:{}", form_encode(id), form_encode(secret)).as_bytes())
}

/// `Basic base64(raw)`, with no form encoding.
pub fn basic_raw(raw: &[u8]) -> HeaderValue {
    HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).unwrap()
}

/// Headers with the form content type.
pub fn form_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(FORM));
    headers
}

/// Form headers plus `Authorization: Basic` for `id` and `secret`.
pub fn basic_headers(id: &str, secret: &str) -> HeaderMap {
    let mut headers = form_headers();
    headers.insert(http::header::AUTHORIZATION, basic(id, secret));
    headers
}

/// The response body as JSON.
pub fn json(response: &Response<String>) -> serde_json::Value {
    serde_json::from_str(response.body()).unwrap()
}

/// One header of a response, as text.
pub fn header<'a>(response: &'a Response<String>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// An authorization server: registry, token service and a verifier for
/// its tokens, on a manual clock started at the system's now (so the
/// verifier's default `verify` agrees with it).
pub struct Server {
    pub registry: Arc<Registry>,
    pub tokens: TokenService,
    pub verifier: Arc<TokenVerifier>,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
}

pub fn server() -> Server {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32]).unwrap()).unwrap();
    let registry = Arc::new(
        Registry::new(store.clone() as Arc<dyn Store>, hasher, Policy::default())
            .unwrap()
            .with_clock(clock.clone()),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys.clone(), ISSUER),
        API,
    );
    let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API)));
    Server {
        registry,
        tokens,
        verifier,
        clock,
        store,
    }
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

impl Server {
    /// Creates a client in `tenant` allowed `scopes`; its id and secret.
    pub async fn client(&self, tenant_id: &str, scopes: &[&str]) -> (String, String) {
        self.client_with(
            tenant_id,
            NewClient::named("svc").with_scopes(scopes.iter().copied()),
        )
        .await
    }

    /// Creates the client `new` in `tenant`; its id and secret.
    pub async fn client_with(&self, tenant_id: &str, new: NewClient) -> (String, String) {
        let issued = self
            .registry
            .create(&Actor::System, &tenant(tenant_id), new)
            .await
            .unwrap();
        (
            issued.credentials.client_id.clone(),
            issued.credentials.client_secret.expose_secret().to_owned(),
        )
    }

    /// What a handler for `POST /oauth/token` does (the crate's own example).
    pub async fn token_endpoint(&self, headers: &HeaderMap, body: &str) -> Response<String> {
        match TokenRequestParser::default().parse(headers, body.as_bytes()) {
            Err(rejected) => rejected_response(&rejected, REALM),
            Ok(parsed) => match self.tokens.exchange(parsed.request).await {
                Ok(token) => token_response(&token),
                Err(error) => token_error_response(&error, parsed.auth, REALM),
            },
        }
    }

    /// A fresh access token for `id` and `secret`, with `scope`.
    pub async fn token(&self, id: &str, secret: &str, scope: &str) -> String {
        let response = self
            .token_endpoint(
                &basic_headers(id, secret),
                &format!("grant_type=client_credentials&scope={}", form_encode(scope)),
            )
            .await;
        assert_eq!(response.status(), 200, "{}", response.body());
        json(&response)["access_token"].as_str().unwrap().to_owned()
    }
}
