//! The HTTP binding of clientcreds, on the `http` crate's types: bring any
//! server (axum, hyper, actix via conversion), keep the protocol exact.
//!
//! | need | item |
//! |---|---|
//! | parse a token request (form body, Basic with RFC 6749 §2.3.1 decoding, `client_secret_post`) | [`TokenRequestParser`] |
//! | render the token response or RFC 6749 §5.2 error, with `no-store` | [`token_response`], [`token_error_response`], [`rejected_response`] |
//! | RFC 8414 metadata, RFC 7662 introspection | [`AuthorizationServerMetadata`], [`introspection_response`] |
//!
//! The flow is one way: this crate parses, `clientcreds-registry` decides,
//! this crate renders.
//!
//! This is the authorization server's side. The resource server's side
//! (bearer extraction, RFC 6750 challenges, the tower layer, the remote
//! key set) is the `clientcreds-resource` crate, which does not depend on
//! the registry, the store or the secret crates.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use clientcreds_http::{TokenRequestParser, rejected_response, token_error_response, token_response};
//! use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
//! use clientcreds_registry::{Actor, NewClient, Policy, Registry, TokenService};
//! use clientcreds_secret::{PepperKey, SecretHasher};
//! use clientcreds_store::{MemoryStore, TenantId};
//!
//! let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
//! let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default())?);
//! let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
//! let tokens = TokenService::new(registry.clone(), TokenIssuer::new(keys, "https://auth.example.com"), "https://api.example.com");
//! let issued = registry.create(&Actor::System, &TenantId::new("t")?, NewClient::named("svc")).await?;
//!
//! // What a handler for POST /oauth/token does:
//! let mut headers = http::HeaderMap::new();
//! headers.insert("content-type", "application/x-www-form-urlencoded".parse()?);
//! let body = format!("grant_type=client_credentials&client_id={}&client_secret={}",
//!     issued.credentials.client_id, issued.credentials.client_secret.expose_secret());
//! let response = match TokenRequestParser::default().parse(&headers, body.as_bytes()) {
//!     Err(rejected) => rejected_response(&rejected, "clientcreds"),
//!     Ok(parsed) => match tokens.exchange(parsed.request).await {
//!         Ok(token) => token_response(&token),
//!         Err(error) => token_error_response(&error, parsed.auth, "clientcreds"),
//!     },
//! };
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["cache-control"], "no-store");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

#![forbid(unsafe_code)]

mod form;
mod metadata;
mod token;

pub use metadata::{AuthorizationServerMetadata, introspection_response};
pub use token::{
    ClientAuthMethod, DEFAULT_MAX_BODY, IntrospectionRequest, ParsedTokenRequest,
    RejectedTokenRequest, TokenRequestParser, json_response, rejected_response,
    token_error_response, token_response,
};
