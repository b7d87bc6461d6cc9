//! Mountable axum routers for a clientcreds authorization server.
//!
//! Two routers, each mounted wherever the host likes:
//!
//! - [`OAuthRoutes`]: `POST /token` (RFC 6749 client credentials),
//!   `POST /introspect` (RFC 7662), and `/.well-known/jwks.json` and
//!   `/.well-known/oauth-authorization-server` (RFC 8414);
//! - [`AdminApi`]: every registry capability over JSON (create with
//!   scopes, audiences, extra claims such as roles, owner, secret and token
//!   lifetimes; list with status, search, owner and cursor; get; patch with
//!   `If-Match`; rotate in either mode with a grace; end grace; revoke;
//!   delete; audit; token activity per client and per tenant; expiry
//!   warnings; signing keys). See [`admin`] for the routes and
//!   `docs/ADMIN_API.md` for an example of every call.
//!
//! Behind a proxy, tell both routers which proxies to believe
//! ([`TrustedProxies`], `with_trusted_proxies`): the failure throttle then
//! sees each caller's address instead of the proxy's. Without it, a
//! loopback peer is treated as a shared source (no per-source counting).
//!
//! The host brings its administrators' authentication as an [`AdminAuth`]
//! that yields the registry's [`Actor`](clientcreds_registry::Actor):
//! [`BearerTokens`] for fixed tokens, [`ActorExtension`] when its own
//! middleware already authenticated the request, or its own impl.
//!
//! Why a crate of its own rather than a module of the `clientcreds`
//! facade: the facade stays a thin re-export; this crate has handlers,
//! wire types and tests of its own, and follows axum's major versions
//! without moving the library crates.
//!
//! [`Issuer`] wires all of it (registry, key manager, token service,
//! verifier, both routers) from an issuer URL, an audience, a store and
//! the master keys; the quick start below shows the parts by hand.
//!
//! # Quick start
//!
//! ```
//! use std::sync::Arc;
//!
//! use clientcreds_axum::{AdminApi, BearerTokens, OAuthRoutes};
//! use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
//! use clientcreds_registry::{Actor, Policy, Registry, TokenService};
//! use clientcreds_secret::{PepperKey, SecretHasher};
//! use clientcreds_store::MemoryStore;
//!
//! let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
//! let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default())?);
//! let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
//! let issuer = "https://auth.example.com";
//! let tokens = TokenService::new(
//!     registry.clone(),
//!     TokenIssuer::new(keys.clone(), issuer),
//!     "https://api.example.com",
//! );
//! let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(issuer, "https://api.example.com")));
//!
//! let oauth = OAuthRoutes::new(tokens, verifier);
//! let admins = BearerTokens::new()?.with("root-token", Actor::platform_admin("root"));
//! let app: axum::Router = axum::Router::new()
//!     .merge(oauth.endpoints_at("/oauth"))
//!     .merge(oauth.well_known())
//!     .nest("/admin/v1", AdminApi::new(registry, admins).router());
//! // Served with the peer address, which the failure throttle keys on:
//! // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod admin;
mod auth;
mod error;
mod issuer;
mod oauth;
mod proxy;

/// The `axum` crate (0.8) whose `Router`s this crate returns.
pub use axum;
/// The `time` crate (0.3), whose `Duration` the routers take.
pub use time;

pub use admin::AdminApi;
pub use auth::{ActorExtension, AdminAuth, BearerTokens};
pub use error::{Error, ErrorBody};
pub use issuer::{Issuer, IssuerBuilder};
pub use oauth::{DEFAULT_REALM, OAuthRoutes};
pub use proxy::{ClientAddress, ForwardedHeader, MAX_HEADER_BYTES, MAX_HOPS, TrustedProxies};
