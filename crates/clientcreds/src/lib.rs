//! OAuth 2.0 client credentials as embeddable Rust libraries: issue
//! tokens, verify them, and call APIs with them.
//!
//! One line in a host's manifest, features for the parts it plays:
//!
//! ```text
//! cargo add clientcreds --features server,axum,postgres   # an issuer with an admin API
//! cargo add clientcreds --features resource,tower         # an API that verifies tokens
//! cargo add clientcreds --features client                 # a service that calls such an API
//! ```
//!
//! | module | feature | what |
//! |---|---|---|
//! | [`secret`] | always | client ids and secrets: generation, format, peppered hashes, master keys |
//! | [`jwt`] | always | signing keys, key sets, JWKS, RFC 9068 access tokens: mint and verify |
//! | [`store`] | always | the storage contract, the in-memory store, the conformance kit |
//! | `registry` | `server` | clients, rotation with grace, tenancy, audit, token exchange, signing-key rotation, expiry warnings |
//! | `http` | `server` | the token endpoint, introspection and RFC 8414 metadata on the `http` crate's types |
//! | `axum` | `axum` | mountable routers: token endpoint, introspection, metadata, JWKS, the admin API |
//! | `sqlx` | `postgres`, `sqlite` | the stores on PostgreSQL and SQLite |
//! | `resource` | `resource` | bearer checks, remote key sets, tower layer (`tower`), axum extractor (`axum`) |
//! | `client` | `client` | the caller's token cache: early refresh, single flight, backoff; tower layer (`tower`), reqwest middleware (`middleware`) |
//!
//! Other features: `aws-lc-rs` (default) is the crypto backend; without
//! it (`default-features = false`) every part uses ring and no C library
//! is built. `smtp` sends product E's expiry warnings by e-mail; `reqwest`
//! lets a resource server fetch the issuer's keys over HTTPS.
//!
//! Every feature is additive: it adds a module or an impl and never
//! changes what another feature does.
//!
//! # The guide
//!
//! Start with [`guide`]: the three parties (issuing, verifying, calling),
//! then one recipe per reference product with its exact configuration,
//! then storage, keys, and running several replicas. Every recipe is a
//! doctest that CI runs.

#![forbid(unsafe_code)]

pub mod guide;

pub use clientcreds_jwt as jwt;
pub use clientcreds_secret as secret;
pub use clientcreds_store as store;

#[cfg(feature = "server")]
pub use clientcreds_http as http;
#[cfg(feature = "server")]
pub use clientcreds_registry as registry;

#[cfg(feature = "axum")]
pub use clientcreds_axum as axum;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use clientcreds_sqlx as sqlx;

#[cfg(feature = "resource")]
pub use clientcreds_resource as resource;

#[cfg(feature = "client")]
pub use clientcreds_client as client;
