//! The guide: from nothing to an issuer, a verifying API and a caller,
//! then the reference products' configurations, storage, keys, replicas.
//!
//! | chapter | features its code needs |
//! |---|---|
//! | [`parties`]: issuing, verifying, calling | `axum`, `resource`, `client` |
//! | [`product_a`]: rotation that issues a new client, with a grace window | `axum` |
//! | [`product_b`]: body credentials, a fixed scope, a caching caller | `server`, `client` |
//! | [`product_c`]: roles in 30-minute JWTs | `server` |
//! | [`product_d`]: scopes, and delete revokes live tokens | `server` |
//! | [`product_e`]: secrets that expire after 180 days, with warnings | `axum` |
//! | [`storage`]: memory, SQLite, PostgreSQL, your own | `sqlite` |
//! | [`keys`]: master keys, peppers and signing keys | `server` |
//! | [`replicas`]: several replicas on one database | `server` |
//! | [`foreign_issuers`]: tokens from an issuer other than ours | `resource`, `client` |
//!
//! Each chapter's code is a doctest that CI runs with every feature on
//! (`cargo test -p clientcreds --doc --all-features`); the chapters are
//! compiled in when their features are on (docs.rs shows them all).
//!
//! The chapters use the in-memory store so that they run anywhere; swap
//! in `sqlx::PgStore` or `sqlx::SqliteStore` (see [`storage`]) for a real
//! deployment, and `MasterKeys` from your secret manager (see [`keys`]).

#[cfg(all(feature = "axum", feature = "resource", feature = "client"))]
#[doc = include_str!("../guide/parties.md")]
pub mod parties {}

#[cfg(feature = "axum")]
#[doc = include_str!("../guide/product_a.md")]
pub mod product_a {}

#[cfg(all(feature = "server", feature = "client"))]
#[doc = include_str!("../guide/product_b.md")]
pub mod product_b {}

#[cfg(feature = "server")]
#[doc = include_str!("../guide/product_c.md")]
pub mod product_c {}

#[cfg(feature = "server")]
#[doc = include_str!("../guide/product_d.md")]
pub mod product_d {}

#[cfg(feature = "axum")]
#[doc = include_str!("../guide/product_e.md")]
pub mod product_e {}

#[cfg(feature = "sqlite")]
#[doc = include_str!("../guide/storage.md")]
pub mod storage {}

#[cfg(feature = "server")]
#[doc = include_str!("../guide/keys.md")]
pub mod keys {}

#[cfg(feature = "server")]
#[doc = include_str!("../guide/replicas.md")]
pub mod replicas {}

#[cfg(all(feature = "resource", feature = "client"))]
#[doc = include_str!("../guide/foreign_issuers.md")]
pub mod foreign_issuers {}
