//! The resource server's side of clientcreds: everything a service that
//! only *verifies* access tokens needs, and nothing of the issuer's (no
//! registry, store or secret crate in its dependency tree).
//!
//! | need | item |
//! |---|---|
//! | take the bearer token off a request (RFC 6750 §2.1) | [`bearer_token`] |
//! | take a `Bearer` or `DPoP` token off a request, with its scheme | [`access_token`], [`Scheme`] |
//! | answer 401 `invalid_token` / 403 `insufficient_scope` with `WWW-Authenticate` | [`BearerChallenge`] |
//! | challenges of both schemes, `algs`, `resource_metadata` (RFC 9449 §7.1, RFC 9728 §5.1) | [`BearerChallenge::challenges`], [`ChallengeOptions`] |
//! | sender-constrained tokens: DPoP proofs checked as RFC 9449 §4.3 and §7 say | [`DpopConfig`], [`Schemes`] |
//! | single use of proofs: in memory by default, shared between replicas by choice | [`ReplayCache`], [`ProofReplay`] |
//! | resource-side DPoP nonces, stateless | [`DpopNonces`] |
//! | RFC 9728 protected resource metadata (and its router, feature `axum`) | [`ProtectedResourceMetadata`] |
//! | verify with keys fetched from the issuer (discovery, caching, unknown-`kid` refetch) | [`RemoteKeySet`] |
//! | accept several issuers, chosen by `iss` from an allow-list | [`Issuers`] |
//! | verify with keys in this process | `clientcreds_jwt::TokenVerifier` (implements [`VerifyAccess`]) |
//! | protect routes (feature `tower`), or authorize a request from any framework | `BearerAuthLayer`, `BearerAuthLayer::authorize` |
//! | the verified context as an axum handler argument (feature `axum`) | `Access` |
//! | fetch over reqwest (feature `reqwest`), or any client | `ReqwestTransport`, [`Transport`] |
//! | the opt-in "client still live" check (product D) | [`LiveCheck`] (the registry implements it) |
//!
//! Every verifier runs the same checks: those of
//! `clientcreds_jwt::TokenVerifier::verify_at` (algorithm allow-list, `typ`
//! `at+jwt`, `kid`, signature, `iss`, `aud`, `exp`/`nbf`, required claims).
//! A remote key set only decides *which keys* it runs them with.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenClaims, TokenIssuer, Validation};
//! use clientcreds_resource::{BoxFuture, RemoteKeySet, Transport, bearer_token};
//! use time::{Duration, OffsetDateTime};
//!
//! // The issuer (elsewhere in real life) and its published JWKS.
//! let issuer_keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
//! let jwks = serde_json::to_vec(&issuer_keys.jwks())?;
//!
//! // A transport serving that JWKS (use `ReqwestTransport` for real).
//! #[derive(Debug)]
//! struct Published(Vec<u8>);
//! impl Transport for Published {
//!     fn get(&self, _: http::Uri) -> BoxFuture<'static, Result<http::Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync>>> {
//!         let body = self.0.clone();
//!         Box::pin(async move { Ok(http::Response::new(body)) })
//!     }
//! }
//!
//! // The resource server.
//! let keys = RemoteKeySet::builder(Validation::new("https://auth.example.com", "https://api.example.com"))
//!     .jwks_url("https://auth.example.com/.well-known/jwks.json")
//!     .build(Published(jwks))?;
//!
//! let minted = TokenIssuer::new(issuer_keys, "https://auth.example.com").mint(&TokenClaims {
//!     client_id: "acme_client_1", tenant: "acme", audience: &["https://api.example.com".into()],
//!     scopes: &["read".into()], extra: &BTreeMap::<String, String>::new(),
//!     lifetime: Duration::minutes(5), now: OffsetDateTime::now_utc(), secret_id: None,
//! })?;
//! let mut headers = http::HeaderMap::new();
//! headers.insert("authorization", format!("Bearer {}", minted.access_token.expose()).parse()?);
//!
//! let context = keys.verify(bearer_token(&headers).unwrap()).await?;
//! assert_eq!(context.client_id, "acme_client_1");
//! context.require_scope("read")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # DPoP
//!
//! The layer accepts `Authorization: Bearer` and `Authorization: DPoP` by
//! default ([`Schemes::Both`]). A token the issuer bound to the caller's
//! key (`"cnf": {"jkt": ...}`) is accepted only as `DPoP`, with a proof
//! in the `DPoP` header that `clientcreds_jwt::dpop::check_proof` accepts
//! for this request's method and URL and this token's hash, signed by the
//! bound key, and never seen before. [`DpopConfig`] holds what a
//! deployment decides: the URL clients address the service by (behind a
//! proxy), the proof window, nonces, and a replay record shared between
//! replicas ([`ProofReplay`]). Refusals answer `invalid_dpop_proof`
//! (the proof's fault), `invalid_token` (the token's or its binding's),
//! or `use_dpop_nonce`, with `WWW-Authenticate: DPoP algs="..."` first
//! when the request used DPoP.
//!
//! # Runtime
//!
//! A [`RemoteKeySet`] fetches in tokio tasks: verify inside a tokio
//! runtime (axum, hyper and tonic run on one).

#![forbid(unsafe_code)]

mod bearer;
mod clock;
mod credentials;
pub mod dpop;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod fetch;
mod issuers;
#[cfg(feature = "tower")]
mod layer;
mod metadata;
mod remote;
#[cfg(feature = "reqwest")]
mod transport_reqwest;
mod verify;

// What every user of this crate names: one dependency is enough.
/// The `axum` crate (0.8) that [`Access`] is an extractor of.
#[cfg(feature = "axum")]
pub use axum;
pub use clientcreds_jwt::{
    AccessContext, Algorithm, InsufficientScope, IntoDuration, Jwks, KeySet, TokenVerifier,
    Validation, VerifyError,
};
/// The `http` crate (1), whose requests the layer and the extractor read.
pub use http;
/// The `reqwest` crate (0.12) that [`ReqwestTransport`] fetches with.
#[cfg(feature = "reqwest")]
pub use reqwest;
/// The `time` crate (0.3), whose `Duration` and `OffsetDateTime` appear in
/// this crate's API: use this one and the versions always match.
pub use time;

pub use bearer::{BearerChallenge, BearerError, ChallengeOptions, bearer_token};
pub use clientcreds_jwt::dpop::{DPOP_ALGORITHMS, DpopError};
pub use clock::{Clock, SystemClock};
pub use credentials::{Credentials, Scheme, Schemes, access_token};
pub use dpop::{DpopConfig, DpopNonces, DpopRefusal, ProofReplay, ReplayCache, ReplayUnavailable};
pub use error::Error;
#[cfg(feature = "axum")]
pub use extract::{Access, NoAccessContext};
pub use fetch::{MAX_DOCUMENT_LEN, Transport};
pub use issuers::Issuers;
#[cfg(feature = "tower")]
pub use layer::{BearerAuth, BearerAuthLayer};
pub use metadata::{ProtectedResourceMetadata, WELL_KNOWN_PATH};
pub use remote::{ASYMMETRIC_ALGORITHMS, RemoteConfig, RemoteKeySet, RemoteKeySetBuilder};
#[cfg(feature = "reqwest")]
pub use transport_reqwest::ReqwestTransport;
pub use verify::{BoxFuture, LiveCheck, VerifyAccess};
