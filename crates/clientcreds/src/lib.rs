//! OAuth 2.0 client credentials as embeddable Rust libraries: issue
//! tokens, verify them, and call APIs with them.
//!
//! One line in a host's manifest, features for the parts it plays:
//!
//! ```text
//! cargo add clientcreds --features server-axum,postgres    # an issuer with its routers and admin API
//! cargo add clientcreds --features resource,reqwest,axum   # an API that verifies tokens (axum extractor)
//! cargo add clientcreds --features resource,reqwest,tower  # the same behind a tower layer
//! cargo add clientcreds --features client,middleware       # a service that calls such an API
//! ```
//!
//! | module | feature | what |
//! |---|---|---|
//! | [`secret`] | always | client ids and secrets: generation, format, peppered hashes, master keys |
//! | [`jwt`] | always | signing keys, key sets, JWKS, RFC 9068 access tokens: mint and verify |
//! | [`store`] | always | the storage contract, the in-memory store, the conformance kit |
//! | [`registry`] | `server` | clients, rotation with grace, tenancy, audit, token exchange, signing-key rotation, expiry warnings |
//! | [`http`] | `server` | the token endpoint, introspection and RFC 8414 metadata on the `http` crate's types |
//! | [`axum`] | `server-axum` | mountable routers: token endpoint, introspection, metadata, JWKS, the admin API; `Issuer`, which wires them |
//! | [`console`] | `console` | the admin console: server-rendered pages (clients, one-time reveal, rotate, revoke, delete, activity, audit, warnings, tenants, signing keys) behind the admin authentication |
//! | [`sqlx`] | `postgres`, `sqlite` | the stores on PostgreSQL and SQLite |
//! | [`resource`] | `resource` | bearer checks, remote key sets (`reqwest`), tower layer (`tower`), axum extractor `Access` (`axum`) |
//! | [`client`] | `client` | the caller's token cache: early refresh, single flight, backoff; `private_key_jwt`, DPoP-bound tokens (`client::DpopKey`); tower layer (`tower`), reqwest middleware (`middleware`) |
//!
//! The parties are independent: `resource` and `client` compile none of
//! the issuer's crates (`registry`, `http`, `sqlx`, the routers), and the
//! `axum` feature only adds the axum side of the parties that are on (the
//! resource server's extractor); the issuer's routers are `server-axum`,
//! which turns on `server` and `axum`.
//!
//! Other features: `aws-lc-rs` (default) is the crypto backend; without
//! it (`default-features = false`) every part signs and verifies with
//! ring instead (ring compiles a little C and assembly of its own, but no
//! aws-lc). `smtp` sends product E's expiry warnings by e-mail; `reqwest`
//! lets a resource server fetch the issuer's keys over HTTPS.
//!
//! Every feature is additive: it adds a module or an impl and never
//! changes what another feature does.
//!
//! # Third-party crates in the API
//!
//! Types of a few other crates appear in ours; use the versions
//! re-exported here (or the same major versions in your manifest), or
//! the compiler will report a missing trait implementation without
//! naming the version:
//!
//! | crate | version | re-exported as |
//! |---|---|---|
//! | `time` | 0.3 | [`time`] (durations and instants everywhere) |
//! | `reqwest` | 0.12 | `reqwest` (features `client` or `reqwest`), `client::reqwest`, `resource::reqwest` |
//! | `reqwest-middleware` | 0.4 | `reqwest_middleware`, `client::reqwest_middleware` (feature `middleware`) |
//! | `axum` | 0.8 | `resource::axum` (features `resource`, `axum`), `axum::axum` (feature `server-axum`) |
//! | `http` | 1 | `http::http` (feature `server`), `resource::http`, `client::http` (requests and responses) |
//!
//! # The guide
//!
//! Start with [`guide`]: the three parties (issuing, verifying, calling),
//! then one recipe per reference product with its exact configuration,
//! then storage, keys, and running several replicas. Every recipe is a
//! doctest that CI runs with exactly the features its chapter names.
#![cfg_attr(
    not(feature = "server"),
    doc = "\n\n[`registry`]: https://docs.rs/clientcreds-registry\n\n[`http`]: https://docs.rs/clientcreds-http"
)]
#![cfg_attr(
    not(feature = "server-axum"),
    doc = "\n\n[`axum`]: https://docs.rs/clientcreds-axum"
)]
#![cfg_attr(
    not(feature = "console"),
    doc = "\n\n[`console`]: https://docs.rs/clientcreds-console"
)]
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    doc = "\n\n[`sqlx`]: https://docs.rs/clientcreds-sqlx"
)]
#![cfg_attr(
    not(feature = "resource"),
    doc = "\n\n[`resource`]: https://docs.rs/clientcreds-resource"
)]
#![cfg_attr(
    not(feature = "client"),
    doc = "\n\n[`client`]: https://docs.rs/clientcreds-client"
)]
#![forbid(unsafe_code)]

pub mod guide;

#[doc(inline)]
pub use clientcreds_jwt as jwt;
#[doc(inline)]
pub use clientcreds_secret as secret;
#[doc(inline)]
pub use clientcreds_store as store;

/// The `time` crate (0.3), whose `Duration` and `OffsetDateTime` appear
/// throughout the API.
pub use clientcreds_store::time;

#[cfg(feature = "server")]
#[doc(inline)]
pub use clientcreds_http as http;
#[cfg(feature = "server")]
#[doc(inline)]
pub use clientcreds_registry as registry;

#[cfg(feature = "server-axum")]
#[doc(inline)]
pub use clientcreds_axum as axum;

#[cfg(feature = "console")]
#[doc(inline)]
pub use clientcreds_console as console;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[doc(inline)]
pub use clientcreds_sqlx as sqlx;

#[cfg(feature = "resource")]
#[doc(inline)]
pub use clientcreds_resource as resource;

#[cfg(feature = "client")]
#[doc(inline)]
pub use clientcreds_client as client;

/// The `reqwest` crate (0.12) that the caller's token client and the
/// resource server's key fetcher are built on.
#[cfg(feature = "client")]
pub use clientcreds_client::reqwest;
/// The `reqwest` crate (0.12) that the resource server's key fetcher is
/// built on.
#[cfg(all(feature = "reqwest", feature = "resource", not(feature = "client")))]
pub use clientcreds_resource::reqwest;

/// The `reqwest-middleware` crate (0.4) whose `Middleware` trait
/// `client::BearerMiddleware` implements.
#[cfg(feature = "middleware")]
pub use clientcreds_client::reqwest_middleware;
