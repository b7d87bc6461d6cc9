//! The storage contract of clientcreds.
//!
//! - [`ClientStore`], [`AuditLog`] and [`ActivityLog`]: object-safe async
//!   traits, `Send + Sync + Debug`, methods on `&self`, with forwarding
//!   impls for `&T`, `Box<T>` and `Arc<T>`. [`Store`] is all three; a
//!   registry holds an `Arc<dyn Store>`.
//! - A change and its audit record travel as one [`Commit`], which cannot be
//!   built without its [`AuditEvent`] and is applied atomically: there is no
//!   way to change a client without recording it. Updates and deletes carry
//!   the version they read, and a mismatch is [`StoreError::Conflict`] (no
//!   lost updates).
//! - [`MemoryStore`]: the embedded default. O(1) lookup by client id, an
//!   ordered index for stable keyset pages.
//! - With the `conformance` feature, `conformance::run` checks any store
//!   against the whole contract in one call, so a host's own database
//!   adapter can prove itself.
//!
//! - [`CachedStore`] and [`AuthCache`]: an authentication cache in front
//!   of any store, bounded and with a time-to-live, invalidated by local
//!   commits and (through a listener such as PostgreSQL's) by other
//!   replicas' commits (see [`AuthCache`]).
//!
//! - [`KeyStore`]: signing keys at rest (public JWK in clear, private key
//!   sealed by the issuer), changed by compare-and-set on one revision so
//!   that replicas never rotate twice.
//!
//! - [`WarningLedger`]: expiry warnings, each claimed with a lease and
//!   finished once, whatever the number of runners; due secrets found
//!   through an index on [`SecretRecord::warning_due`].
//!
//! Every read and write of a client names its tenant, except
//! [`ClientStore::client_for_authentication`], which serves the one case
//! where the tenant is not known yet: a caller presenting a client id.
//!
//! Times are instants with microsecond precision (what Postgres keeps): a
//! store must return exactly the instant it was given, whatever the UTC
//! offset, and callers write nothing finer (the registry truncates its
//! clock).
//!
//! Effective status (expiring, expired) is derived from the clock at read
//! time by [`ClientRecord::effective_status`] and [`SecretRecord::state`],
//! the single definition every backend and view uses.

#![forbid(unsafe_code)]

mod auth_view;
mod cache;
mod contract;
mod error;
mod keys;
mod log;
mod memory;
mod model;
mod replay;
mod warnings;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use auth_view::{AuthSecret, AuthView};
/// The `time` crate (0.3), whose `Duration` and `OffsetDateTime` appear in
/// this crate's API: use this one and the versions always match.
pub use time;

pub use cache::{
    AuthCache, CacheStats, CachedStore, DEFAULT_MAX_BYTES, DEFAULT_TTL, MAX_CACHED_ID_LEN,
};
pub use contract::{
    ActivityLog, AuditLog, ClientPage, ClientQuery, ClientStore, Commit, Cursor, SecretUse, Store,
    Write,
};
pub use error::StoreError;
pub use keys::{
    KeyChange, KeyRing, KeyStore, MAX_KID_LEN, StoredKey, sort_keys, validate_stored_key,
};
pub use log::{
    ActivityCount, ActivityCountQuery, ActivityEvent, ActivityKind, ActivityQuery, ActivityRecord,
    AuditAction, AuditActor, AuditEvent, AuditOutcome, AuditQuery, AuditRecord, CountedOutcome,
};
pub use memory::{DEFAULT_LOG_CAPACITY, MemoryStore};
pub use model::{
    AuthMethod, AuthSettings, ClaimValue, ClientRecord, ClientStatus, EffectiveStatus,
    FederatedCredential, InvalidTenantId, SecretRecord, SecretState, StatusFilter, TenantId,
};
pub use replay::{
    DEFAULT_REPLAY_CAPACITY, MAX_REPLAY_KEY_LEN, MemoryReplayStore, ReplayCheck, ReplayStore,
    validate_replay_key,
};
pub use warnings::{
    Claim, DueMove, DueWarning, WarningFinish, WarningKey, WarningLedger, WarningOutcome,
    WarningRecord, WarningState, sort_warnings,
};
