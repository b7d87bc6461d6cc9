//! The caller's side of OAuth 2.0 client credentials: a token cache that
//! refreshes early, once, with backoff, and never serves the wrong token.
//!
//! A service that calls an API protected by client credentials should not
//! mint a token per request (wasteful, rate limited, sometimes billed per
//! token). It should keep a token until shortly before it expires and then
//! refresh it, with one refresh in flight however many tasks ask, and never
//! hand a token for one scope to a caller who asked for another. This crate
//! is that cache.
//!
//! | you want | use |
//! |---|---|
//! | configure id, secret, endpoint (or issuer + RFC 8414 discovery), auth method | [`TokenClient::builder`] |
//! | authenticate with a private key instead of a secret (`private_key_jwt`, RFC 7523) | [`TokenClient::builder_with_key`] + [`AssertionKey`] (feature `private-key-jwt`) |
//! | no stored credential: the workload's own token (Kubernetes, CI, SPIFFE) as the assertion | [`TokenClient::builder_with_assertion`] + [`AssertionSource`] |
//! | a token for a scope set and audience | [`TokenClient::source`] → [`TokenSource::token`] |
//! | sender-constrained tokens (DPoP, RFC 9449): bound to a key, a proof on every request | [`TokenClientBuilder::dpop`] + [`DpopKey`] (feature `dpop`) |
//! | `Authorization: Bearer` on reqwest requests, one retry on 401 `invalid_token` | [`BearerMiddleware`] (feature `middleware`) |
//! | the same for hyper / tonic / any tower client | [`BearerLayer`] (feature `tower`) |
//! | the same for any other HTTP client: the headers of one request, and whether to retry | [`TokenSource::authorize`] + [`TokenSource::inspect_response`] |
//! | another HTTP client for the token requests | [`Transport`] (reqwest is the default, feature `reqwest`) |
//! | tokens shared between replicas | [`TokenCache`] ([`MemoryCache`] is the default) |
//! | time under test | [`Clock`] |
//!
//! # Quick start
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), clientcreds_client::Error> {
//! # use std::sync::Arc;
//! # use std::sync::atomic::{AtomicUsize, Ordering};
//! # #[derive(Debug, Default)]
//! # struct Server(AtomicUsize);
//! # #[async_trait::async_trait]
//! # impl clientcreds_client::Transport for Server {
//! #     async fn send(&self, _: http::Request<Vec<u8>>)
//! #         -> Result<http::Response<Vec<u8>>, clientcreds_client::TransportError> {
//! #         let n = self.0.fetch_add(1, Ordering::SeqCst);
//! #         let body = format!(r#"{{"access_token":"token-{n}","token_type":"Bearer","expires_in":3600}}"#);
//! #         Ok(http::Response::new(body.into_bytes()))
//! #     }
//! # }
//! # let server = Arc::new(Server::default());
//! use clientcreds_client::{ClientSecret, TokenClient, TokenRequest};
//!
//! let tokens = TokenClient::builder("svc_123", ClientSecret::new("cs_…"))
//!     .token_endpoint("https://auth.example/oauth/token")
//! #   .transport(server.clone())
//!     .build()?;
//! let echo = tokens.source(TokenRequest::new().scope("echo"))?;
//!
//! let first = echo.token().await?; // asks the token endpoint
//! let again = echo.token().await?; // the cached token: no request
//! assert_eq!(first.expose_secret(), again.expose_secret());
//! # assert_eq!(server.0.load(Ordering::SeqCst), 1);
//!
//! // Another scope is another cache entry, never the `echo` token.
//! let read = tokens.token(&TokenRequest::new().scope("read")).await?;
//! assert_ne!(read.expose_secret(), first.expose_secret());
//! # Ok(()) }
//! ```
//!
//! (The hidden lines plug in a transport that answers without a network;
//! drop them and the default reqwest transport calls the real endpoint.)
//!
//! # Client authentication
//!
//! Three ways to prove who the client is, each a builder constructor; the
//! cache, single flight, backoff and negative cache behave the same for
//! all three.
//!
//! - **A client secret**, [`TokenClient::builder`]: HTTP Basic
//!   (`client_secret_basic`, the default) or the form body
//!   (`client_secret_post`), see [`AuthMethod`].
//! - **A private key**, [`TokenClient::builder_with_key`] with an
//!   [`AssertionKey`] loaded from PKCS#8 PEM or a private JWK (EdDSA,
//!   ES256, ES384; RS256 and PS256 load on both crypto backends): every
//!   token request carries a new assertion (RFC 7523 §2.2) with `iss` =
//!   `sub` = the client id, `aud` = the authorization server's issuer
//!   identifier, `iat` now, `exp` 60 s later (configurable up to 5
//!   minutes), a fresh 128-bit `jti`, header `typ`
//!   `client-authentication+jwt` (draft-ietf-oauth-rfc7523bis; plain `JWT`
//!   for older servers through [`AssertionTyp`]) and the key's `kid`.
//!   The `aud` is the issuer the client was built with (for
//!   [`discover`](TokenClientBuilder::discover), the issuer the metadata
//!   names, which must equal the configured one), else the one set with
//!   [`AssertionKey::with_audience`]; **only when neither is known is it the
//!   token endpoint URL**, which some servers refuse: configure the issuer.
//! - **A federated assertion**, [`TokenClient::builder_with_assertion`] with
//!   an [`AssertionSource`]: a JWT minted by another issuer for this
//!   workload, read afresh for every token request from a file (the
//!   Kubernetes projected service-account token, rotated in place by the
//!   kubelet) or from the host's async callback.
//!
//! Both assertion kinds are sent as RFC 7521 §4.2 form parameters,
//! `client_id`, `client_assertion_type` ([`CLIENT_ASSERTION_TYPE`]) and
//! `client_assertion`, never with a `client_secret` or a Basic header.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use std::sync::Arc;
//! # #[derive(Debug)]
//! # struct Server;
//! # #[async_trait::async_trait]
//! # impl clientcreds_client::Transport for Server {
//! #     async fn send(&self, request: http::Request<Vec<u8>>)
//! #         -> Result<http::Response<Vec<u8>>, clientcreds_client::TransportError> {
//! #         let form = String::from_utf8(request.into_body()).unwrap();
//! #         assert!(form.contains("&client_assertion=") && !form.contains("client_secret"));
//! #         let body = r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#;
//! #         Ok(http::Response::new(body.as_bytes().to_vec()))
//! #     }
//! # }
//! use clientcreds_client::jwt::{Algorithm, SigningKey, pkcs8_pem};
//! use clientcreds_client::{AssertionKey, AssertionSource, TokenClient, TokenRequest};
//!
//! // private_key_jwt: the PEM would come from the host's secret manager;
//! // the server has the public half registered.
//! # let pem = pkcs8_pem(&SigningKey::generate_pkcs8(Algorithm::ES256)?);
//! let key = AssertionKey::from_pkcs8_pem(Algorithm::ES256, &pem)?;
//! let signed = TokenClient::builder_with_key("svc_123", key)
//!     .issuer("https://auth.example") // the assertion's `aud`
//!     .token_endpoint("https://auth.example/oauth/token")
//! #   .transport(Arc::new(Server))
//!     .build()?;
//! signed.token(&TokenRequest::new().scope("echo")).await?;
//!
//! // Federated: the workload's own token, re-read on every refresh.
//! let federated = TokenClient::builder_with_assertion(
//!     "svc_456",
//!     AssertionSource::callback(|| async {
//!         // e.g. read it from the platform's metadata service
//!         Ok::<_, std::io::Error>("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3In0.c2ln".to_owned())
//!     }),
//! )
//! .token_endpoint("https://auth.example/oauth/token")
//! # .transport(Arc::new(Server))
//! .build()?;
//! federated.token(&TokenRequest::new()).await?;
//! # Ok(()) }
//! ```
//!
//! # DPoP: tokens bound to a key
//!
//! With [`TokenClientBuilder::dpop`] and a [`DpopKey`] (generated, or the
//! host's own as PKCS#8 PEM, a private JWK or a loaded
//! [`SigningKey`](jwt::SigningKey); EdDSA by default, ES256 and others
//! too), the client asks for DPoP-bound tokens (RFC 9449):
//!
//! - every token request carries a `DPoP` proof (`htm` `POST`, `htu` the
//!   token endpoint), and the answer must say `token_type: DPoP`; a
//!   `Bearer` answer is an [`Error::InvalidResponse`] unless
//!   [`dpop_allow_bearer`](TokenClientBuilder::dpop_allow_bearer) accepts
//!   it (a server that ignores DPoP hands out replayable tokens), and a
//!   `DPoP` answer to a client without a key is one too;
//! - every API request through [`BearerMiddleware`], [`BearerLayer`] or
//!   [`TokenSource::authorize`] carries `Authorization: DPoP <token>` and
//!   a new proof for that request: its method, its URL (without query and
//!   fragment), `ath` the token's SHA-256, a fresh 128-bit `jti`, `iat`
//!   from the client's [`Clock`];
//! - a server nonce (RFC 9449 §8, §9) is answered with one retry: the
//!   authorization server's 400 `use_dpop_nonce`, the resource server's
//!   401 `WWW-Authenticate: DPoP error="use_dpop_nonce"`, each with a
//!   `DPoP-Nonce` header. Nonces are remembered per origin, updated from
//!   every `DPoP-Nonce` a response carries, and never sent to another
//!   origin. A server that asks again after the retry gets its answer
//!   back ([`OAuthErrorCode::UseDpopNonce`], or the 401);
//! - the cache key gains the key's thumbprint: a token bound to one key
//!   is never served to a client holding another (or none).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), clientcreds_client::Error> {
//! # use std::sync::Arc;
//! # #[derive(Debug)]
//! # struct Server;
//! # #[async_trait::async_trait]
//! # impl clientcreds_client::Transport for Server {
//! #     async fn send(&self, request: http::Request<Vec<u8>>)
//! #         -> Result<http::Response<Vec<u8>>, clientcreds_client::TransportError> {
//! #         assert!(request.headers().contains_key("dpop"));
//! #         let body = r#"{"access_token":"t","token_type":"DPoP","expires_in":3600}"#;
//! #         Ok(http::Response::new(body.as_bytes().to_vec()))
//! #     }
//! # }
//! use clientcreds_client::{ClientSecret, DpopKey, TokenClient, TokenRequest, TokenType};
//!
//! let tokens = TokenClient::builder("svc_123", ClientSecret::new("cs_…"))
//!     .token_endpoint("https://auth.example/oauth/token")
//!     .dpop(DpopKey::generate()?) // Ed25519, held in memory only
//! #   .transport(Arc::new(Server))
//!     .build()?;
//! let echo = tokens.source(TokenRequest::new().scope("echo"))?;
//! assert_eq!(echo.token().await?.token_type(), TokenType::DPoP);
//!
//! // What BearerMiddleware and BearerLayer do for each request:
//! let url = "https://api.example/v1/echo";
//! let auth = echo.authorize(&http::Method::POST, url).await?;
//! assert_eq!(auth.authorization().to_str().unwrap(), "DPoP t");
//! assert!(auth.dpop().is_some()); // the proof for POST on that URL
//! # Ok(()) }
//! ```
//!
//! # The rules
//!
//! - **Expiry** is `expires_in` from the response, never later than the
//!   JWT's own `exp` when the token is a JWT. The `exp` is read from the
//!   payload *without checking the signature*: it can only make the cache
//!   refresh sooner, never trust a token longer. Without either, the
//!   [default lifetime](TokenClientBuilder::default_lifetime) (300 s).
//! - **Early refresh**: a token is refreshed when less than the
//!   [margin](TokenClientBuilder::refresh_margin) (60 s) plus a random
//!   [jitter](TokenClientBuilder::refresh_jitter) (up to 30 s) of its life
//!   remains (at most half its life, for short-lived tokens).
//! - **One refresh at a time** per cache entry. Inside the margin, callers
//!   get the still-valid token at once while one background task refreshes.
//!   With no valid token, callers wait for the one refresh in flight.
//! - **Failures**: a failed refresh keeps the still-valid token in service
//!   and is retried with exponential [backoff](TokenClientBuilder::backoff)
//!   (1 s doubling to 60 s, equal jitter). Once the token has expired,
//!   callers get a typed [`Error`]: [`Error::Network`], [`Error::Status`],
//!   [`Error::OAuth`] with the RFC 6749 code, or [`Error::BackingOff`]
//!   carrying the cause while the next attempt is held back.
//!   `invalid_client` and `unauthorized_client` are not retried in a loop:
//!   they are remembered for the [negative cache](TokenClientBuilder::negative_cache)
//!   time (30 s) and returned at once.
//! - **Cache key**: token endpoint, client id, scope set, audience and
//!   resources, plus the key's thumbprint for a `private_key_jwt` client
//!   and a marker for a federated one, plus the DPoP key's thumbprint for
//!   a DPoP client ([`CacheKey`]). A token is only ever served to a
//!   request with the same key.
//! - **Secrets**: the client secret ([`ClientSecret`]) and tokens
//!   ([`AccessToken`]) print as `[redacted]` and are zeroized on drop; an
//!   [`AssertionKey`] prints its algorithm and `kid` only, an
//!   [`AssertionSource`] its file path or `Callback`, a [`DpopKey`] its
//!   algorithm and thumbprint, and the assertions
//!   they yield are zeroized after the request is built and never
//!   printed; tracing spans (`token_refresh`) carry the endpoint, client
//!   id, authentication method, scope, audience and reason, never a
//!   secret, key, assertion or token; `Authorization` headers are marked
//!   sensitive, and so are `DPoP` proofs.
//! - **Transport security**: the endpoint must be `https://`, except on
//!   loopback (or behind [`TokenClientBuilder::danger_allow_insecure_http`]);
//!   the default transport follows no redirects.
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `reqwest` | yes | `reqwest::Client` as the [`Transport`] |
//! | `rustls-tls` | yes | HTTPS for that transport (rustls, webpki roots) |
//! | `middleware` | no | [`BearerMiddleware`] for `reqwest-middleware` |
//! | `tower` | no | [`BearerLayer`] / [`Bearer`] for tower clients |
//! | `private-key-jwt` | yes | [`AssertionKey`]: signing with `clientcreds-jwt` on ring (already in the tree through rustls) |
//! | `dpop` | yes | [`DpopKey`], [`TokenClientBuilder::dpop`]: DPoP proofs with `clientcreds-jwt` (the same dependency as `private-key-jwt`) |
//!
//! A caller compiles an HTTP client, tokio's sync primitives and serde,
//! and with `private-key-jwt` or `dpop` the signing half of `clientcreds-jwt`
//! (re-exported as [`jwt`]): nothing of the issuer. Federated assertions
//! ([`AssertionSource`]) need no crypto and no feature.

mod api;
mod assertion;
mod cache;
mod challenge;
mod client;
mod clock;
#[cfg(feature = "dpop")]
mod dpop;
mod error;
#[cfg(feature = "middleware")]
mod middleware;
mod protocol;
mod request;
mod secret;
mod source;
#[cfg(feature = "tower")]
mod tower;
mod transport;

/// The `clientcreds-jwt` crate that signs `private_key_jwt` assertions
/// and DPoP proofs: [`Algorithm`](jwt::Algorithm) names a PEM key's
/// algorithm, and [`SigningKey`](jwt::SigningKey) is a key already loaded.
#[cfg(any(feature = "private-key-jwt", feature = "dpop"))]
pub use clientcreds_jwt as jwt;
/// The `http` crate (1), whose requests the tower layer handles.
pub use http;
/// The `reqwest` crate (0.12) that the default transport uses: build a
/// `reqwest::Client` with this one and the versions always match.
#[cfg(feature = "reqwest")]
pub use reqwest;
/// The `reqwest-middleware` crate (0.4) whose `Middleware` trait
/// [`BearerMiddleware`] implements: build the `ClientWithMiddleware` with
/// this one, or a `reqwest-middleware` of another version will not accept it.
#[cfg(feature = "middleware")]
pub use reqwest_middleware;

pub use api::AuthHeaders;
#[cfg(feature = "private-key-jwt")]
pub use assertion::{AssertionKey, AssertionTyp};
pub use assertion::{AssertionSource, CLIENT_ASSERTION_TYPE, MAX_ASSERTION_BYTES};
pub use cache::{MemoryCache, TokenCache};
pub use challenge::{Retry, is_invalid_token, is_use_dpop_nonce};
pub use client::{TokenClient, TokenClientBuilder};
pub use clock::{Clock, SystemClock};
#[cfg(feature = "dpop")]
pub use dpop::DpopKey;
pub use error::{Error, OAuthErrorCode, TransportError};
#[cfg(feature = "middleware")]
pub use middleware::BearerMiddleware;
pub use protocol::AuthMethod;
pub use request::{CacheKey, TokenRequest};
pub use secret::{AccessToken, ClientSecret, TokenType};
pub use source::TokenSource;
#[cfg(feature = "tower")]
pub use tower::{Bearer, BearerLayer, BoxError, ReplayBody};
#[cfg(feature = "reqwest")]
pub use transport::default_reqwest_client;
pub use transport::{MAX_RESPONSE_BYTES, Transport};
