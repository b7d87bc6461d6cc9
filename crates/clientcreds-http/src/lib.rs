//! The HTTP binding of clientcreds, on the `http` crate's types: bring any
//! server (axum, hyper, actix via conversion), keep the protocol exact.
//!
//! | need | item |
//! |---|---|
//! | parse a token request (form body, Basic with RFC 6749 §2.3.1 decoding, `client_secret_post`) | [`TokenRequestParser`] |
//! | render the token response or RFC 6749 §5.2 error, with `no-store` | [`token_response`], [`token_error_response`], [`rejected_response`] |
//! | RFC 8414 metadata, RFC 7662 introspection | [`AuthorizationServerMetadata`], [`introspection_response`] |
//!
//! | size limits on every field of a request, each named in the error | [`Limits`], [`Field`], [`LimitExceeded`] |
//!
//! The flow is one way: this crate parses, `clientcreds-registry` decides,
//! this crate renders.
//!
//! # What zeroizes
//!
//! Exactly these buffers are wiped (crate `zeroize`) when dropped, on the
//! success path and on every error path:
//!
//! - the `client_secret` of a parsed request, from the body or from HTTP
//!   Basic: [`ClientCredentials::client_secret`](clientcreds_registry::ClientCredentials)
//!   is a [`Secret`](clientcreds_secret::Secret) (zeroizing, `Debug`
//!   redacted); it is moved out of the decoding buffer, never copied;
//! - the `token` of an introspection request:
//!   [`IntrospectionRequest::token`] is a `Secret` too, moved likewise;
//! - every intermediate buffer of the parser: each decoded form name and
//!   value, and the base64-decoded `id:secret` of a Basic header. Decoding
//!   only shrinks, so these never reallocate and leave no unwiped copy in
//!   freed memory.
//!
//! These are **not** wiped, and are not secret: `client_id`, `grant_type`,
//! `scope`, `audience` and `resource` values (plain `String`s in
//! [`ExchangeRequest`](clientcreds_registry::ExchangeRequest)), and the errors
//! (which carry static descriptions only, never input).
//!
//! These are **not** wiped by this crate, because the host owns them: the
//! request body (`&[u8]`) and the [`http::HeaderMap`] the parser reads
//! (wipe them yourself if your threat model needs it, e.g. by parsing from
//! a `Zeroizing<Vec<u8>>`), and the rendered responses: the issued access
//! token ([`AccessToken`](clientcreds_jwt::AccessToken), a bearer credential that
//! leaves in the response anyway) and the `Response<String>` bodies of
//! [`token_response`] and [`introspection_response`], which go to the
//! host's HTTP stack.
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
mod limits;
mod metadata;
mod token;

/// The `http` crate (1), whose request and response types this crate
/// parses and builds.
pub use http;
/// The `time` crate (0.3), whose `Duration` and `OffsetDateTime` appear in
/// this crate's API: use this one and the versions always match.
pub use time;

pub use limits::{Field, LimitExceeded, Limits};
pub use metadata::{AuthorizationServerMetadata, introspection_response};
pub use token::{
    ClientAuthMethod, DEFAULT_MAX_BODY, IntrospectionRequest, ParsedTokenRequest,
    RejectedTokenRequest, TokenRequestParser, json_response, rejected_response,
    token_error_response, token_response,
};
