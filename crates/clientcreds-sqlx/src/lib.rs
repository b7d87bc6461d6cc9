//! PostgreSQL and SQLite stores for clientcreds, on sqlx.
//!
//! [`PgStore`] (feature `postgres`) and [`SqliteStore`] (feature `sqlite`)
//! implement `clientcreds_store::{ClientStore, AuditLog, ActivityLog, KeyStore, WarningLedger}` and
//! pass the store crate's conformance kit. Queries are built at run time,
//! so no database is needed to compile. Migrations are embedded and run by
//! an explicit call, [`PgStore::migrate`] / [`SqliteStore::migrate`], that
//! the host makes at start-up.
//!
//! # Schema
//!
//! `clientcreds_clients` (unique client id, indexes for tenant + creation
//! order, tenant + status, tenant + owner, a version column),
//! `clientcreds_secrets` (one row per secret, cascading on delete),
//! `clientcreds_activity_counts` (issuance and refusals per tenant, client,
//! secret, source, minute and outcome, added to by a sorted multi-row
//! upsert so replicas add up; migration 0008),
//! `clientcreds_audit` and `clientcreds_activity` (sequence-numbered in
//! commit order: on PostgreSQL each appending transaction takes a
//! transaction-scoped advisory lock per log first, so a reader paging by
//! sequence never skips a late commit),
//! `clientcreds_signing_keys` (public JWK in clear, private key sealed by
//! the issuer), `clientcreds_key_ring` (one revision row that every key
//! change is conditional on), `clientcreds_withdrawn_keys` (kids withdrawn
//! for good) and `clientcreds_warnings` (the warning ledger, keyed by
//! tenant, client, secret, stage and recipient).
//! Times are stored as microseconds since the Unix epoch in `BIGINT`
//! columns: exact round trips, no time-zone or precision drift between
//! the two databases and the in-memory store.
//!
//! # Guarantees
//!
//! A `Commit` is one transaction: its writes and its audit record land
//! together or not at all. Updates and deletes are conditional on the
//! version (`UPDATE … WHERE version = $n`), so a concurrent change is
//! `StoreError::Conflict`, never an overwrite. Listing is one statement:
//! keyset position, owner, effective status at the query's `now` (computed
//! from the stored instants) and the case-insensitive search (on columns
//! lowercased by Rust, behind a `pg_trgm` index on PostgreSQL and a
//! covering index on SQLite) are all filtered in SQL, with the same rules
//! as the store crate's, so the three backends agree.
//!
//! # At memory speed
//!
//! - Put a `clientcreds_store::CachedStore` in front of a store to answer
//!   authentication lookups from memory. [`PgStore`] announces every
//!   commit with `NOTIFY` in the commit's transaction, and
//!   [`PgStore::spawn_invalidation_listener`] keeps a replica's cache in
//!   step (off while its connection is down).
//! - `ActivityLog::record_activities` writes multi-row inserts and
//!   `ActivityLog::add_activity_counts` one upsert per 140 counts (the
//!   registry's batched activity writer uses both).
//! - The expiry-warning runner's batch calls (`ClientStore::clients_by_id`,
//!   `WarningLedger::claim_warnings`, `finish_warnings`, `set_warnings_due`,
//!   `sent_warnings_to`) are one statement per 500 rows.
//! - `ActivityLog::prune_activity` / `AuditLog::prune_audit` delete by age
//!   through an index on `at` (migration 0004).
//! - Pools do not ping a connection each time it is taken
//!   (`test_before_acquire(false)`; see [`PgStore`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), clientcreds_store::StoreError> {
//! let store = clientcreds_sqlx::PgStore::connect("postgres://localhost/app").await?;
//! store.migrate().await?;
//! let store: std::sync::Arc<dyn clientcreds_store::Store> = std::sync::Arc::new(store);
//! # let _ = store; Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod codec;
mod counts_impl;
mod keys_impl;
mod listing;
#[cfg(feature = "postgres")]
mod pg_listen;
#[cfg(feature = "postgres")]
mod postgres;
mod replay_impl;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store_impl;
mod warnings_batch;
mod warnings_impl;

#[cfg(feature = "postgres")]
pub use pg_listen::{DEFAULT_LISTENER_HEARTBEAT, InvalidationListener};
#[cfg(feature = "postgres")]
pub use postgres::{DEFAULT_NOTIFY_CHANNEL, PgStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
