//! The conformance kit: checks that a store keeps the whole storage
//! contract.
//!
//! A backend (a host's own database adapter, say) proves that it keeps the
//! contract of [`ClientStore`], [`AuditLog`] and [`ActivityLog`] by handing
//! [`run`] a function that makes a fresh, empty store. Every check gets a
//! store of its own. A failed check panics, like a failed `assert!` in a
//! test. The message names the check and what differed.
//!
//! ```
//! use std::sync::Arc;
//!
//! use clientcreds_store::{MemoryStore, Store, conformance};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // In a backend's tests, inside `#[tokio::test] async fn conforms()`:
//! conformance::run(|| async { MemoryStore::new() }).await;
//!
//! // A store behind `Arc<dyn Store>` works the same way.
//! conformance::run(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
//!
//! // One check at a time, while fixing a backend:
//! conformance::record_use(&MemoryStore::new()).await;
//! # }
//! ```
//!
//! # What is checked
//!
//! - Reads: [`insert_and_read`], [`authentication_view_and_count`],
//!   [`time_round_trip`].
//! - Writes: [`duplicate_insert`], [`update_with_version`],
//!   [`delete_with_version`], [`atomic_commit`], [`concurrent_writers`].
//! - Logs: [`audit_trail`], [`activity_log`], [`activity_batch`],
//!   [`activity_retention`], [`audit_retention`].
//! - Activity counts: [`activity_counts`], [`activity_counts_concurrent`],
//!   [`activity_counts_retention`].
//! - Advisory use: [`record_use`].
//! - Signing keys ([`run_key_store`], for a [`KeyStore`](crate::KeyStore)):
//!   [`key_store_round_trip`], [`key_store_compare_and_set`],
//!   [`key_store_atomic_changes`], [`key_store_concurrent_rotation`],
//!   [`key_store_withdrawn`].
//! - Expiry warnings ([`run_warning_ledger`], for a store that is also a
//!   [`WarningLedger`](crate::WarningLedger)): [`warnings_due_and_advance`],
//!   [`warnings_claim_and_finish`], [`warnings_concurrent_claims`],
//!   [`warnings_keyed_by_client`], [`warnings_in_batches`].
//! - Single-use identifiers ([`run_replay_store`], for a
//!   [`ReplayStore`](crate::ReplayStore)): [`replay_single_use`],
//!   [`replay_expiry`], [`replay_concurrent`], [`replay_prune`].
//! - Listing: [`list_tenant_and_order`], [`list_pages`],
//!   [`list_stable_pages`], [`list_cursor_after_delete`], [`list_search`],
//!   [`list_owner`], [`list_status`], [`list_invalid_cursor`].
//!
//! # What the checks assume
//!
//! - Each check starts from an empty store. It uses the tenants
//!   `conformance-a` and `conformance-b` and client ids that start with
//!   `cc_`.
//! - Times are compared as instants: the UTC offset need not survive, but
//!   microseconds must (see [`time_round_trip`]). The contract's precision
//!   is the microsecond, what Postgres keeps; the registry writes no finer.
//! - The fixtures' clock is fixed in 2001, and listings pass that instant as
//!   [`ClientQuery::now`](crate::ClientQuery::now). A store that computes status from its own clock
//!   fails [`list_status`].
//! - Nothing in the kit needs a particular async runtime. The concurrent
//!   writers are futures polled together on the calling task.
//!
//! [`ClientStore`]: crate::ClientStore
//! [`AuditLog`]: crate::AuditLog
//! [`ActivityLog`]: crate::ActivityLog

// A test kit reports a failed check by panicking, as `assert!` does.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::future::Future;

use crate::Store;

mod clients;
mod counts;
mod keys;
mod listing;
mod logs;
mod replay;
mod support;
mod views;
mod warning_batches;
mod warnings;

pub use clients::{
    atomic_commit, concurrent_writers, delete_with_version, duplicate_insert, insert_and_read,
    record_use, time_round_trip, update_with_version,
};
pub use counts::{activity_counts, activity_counts_concurrent, activity_counts_retention};
pub use keys::{
    key_store_atomic_changes, key_store_compare_and_set, key_store_concurrent_rotation,
    key_store_round_trip, key_store_withdrawn, run_key_store,
};
pub use listing::{
    list_cursor_after_delete, list_invalid_cursor, list_owner, list_pages, list_search,
    list_stable_pages, list_status, list_tenant_and_order,
};
pub use logs::{activity_batch, activity_log, activity_retention, audit_retention, audit_trail};
pub use replay::{
    replay_concurrent, replay_expiry, replay_prune, replay_single_use, run_replay_store,
};
pub use views::authentication_view_and_count;
pub use warning_batches::warnings_in_batches;
pub use warnings::{
    run_warning_ledger, warnings_claim_and_finish, warnings_concurrent_claims,
    warnings_due_and_advance, warnings_keyed_by_client,
};

/// Runs every check, each against a fresh, empty store made by `make`.
///
/// It panics at the first failed check, naming it and what differed. Any
/// type that implements [`Store`] works, including `Arc<dyn Store>`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    insert_and_read(&make().await).await;
    authentication_view_and_count(&make().await).await;
    duplicate_insert(&make().await).await;
    update_with_version(&make().await).await;
    delete_with_version(&make().await).await;
    atomic_commit(&make().await).await;
    audit_trail(&make().await).await;
    activity_log(&make().await).await;
    activity_batch(&make().await).await;
    activity_retention(&make().await).await;
    activity_counts(&make().await).await;
    activity_counts_concurrent(&make().await).await;
    activity_counts_retention(&make().await).await;
    audit_retention(&make().await).await;
    record_use(&make().await).await;
    list_tenant_and_order(&make().await).await;
    list_pages(&make().await).await;
    list_stable_pages(&make().await).await;
    list_cursor_after_delete(&make().await).await;
    list_search(&make().await).await;
    list_owner(&make().await).await;
    list_status(&make().await).await;
    list_invalid_cursor(&make().await).await;
    concurrent_writers(&make().await).await;
    time_round_trip(&make().await).await;
}
