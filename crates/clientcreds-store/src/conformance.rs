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
//! - Reads: [`insert_and_read`], [`time_round_trip`].
//! - Writes: [`duplicate_insert`], [`update_with_version`],
//!   [`delete_with_version`], [`atomic_commit`], [`concurrent_writers`].
//! - Logs: [`audit_trail`], [`activity_log`].
//! - Advisory use: [`record_use`].
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
//!   [`ClientQuery::now`]. A store that computes status from its own clock
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

use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use clientcreds_secret::SecretHash;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::{
    ActivityEvent, ActivityKind, ActivityQuery, ActivityRecord, AuditAction, AuditActor,
    AuditEvent, AuditOutcome, AuditQuery, AuditRecord, ClaimValue, ClientQuery, ClientRecord,
    ClientStatus, Commit, Cursor, SecretRecord, SecretUse, StatusFilter, Store, StoreError,
    TenantId, Write,
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
    duplicate_insert(&make().await).await;
    update_with_version(&make().await).await;
    delete_with_version(&make().await).await;
    atomic_commit(&make().await).await;
    audit_trail(&make().await).await;
    activity_log(&make().await).await;
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

/// Checks insert and read. An inserted client reads back equal, with
/// version 1, through [`ClientStore::client`] in its own tenant and through
/// [`ClientStore::client_for_authentication`]. It is invisible from another
/// tenant. An unknown id, or the id in another letter case, reads as `None`.
/// An insert whose record names a tenant other than its commit's is refused.
///
/// [`ClientStore::client`]: crate::ClientStore::client
/// [`ClientStore::client_for_authentication`]: crate::ClientStore::client_for_authentication
pub async fn insert_and_read(store: &dyn Store) {
    let c = Check("insert_and_read");
    let (a, b) = (tenant_a(), tenant_b());
    let id = "cc_read_01";
    let mut record = full_client(&a, id);
    record.version = 42; // The store sets 1, whatever the record says.
    commit_ok(c, store, insert(&record), "inserting a client").await;
    let expected = Some(stored(&record, 1));

    c.eq(
        "`client` in its own tenant",
        read(c, store, &a, id).await,
        expected.clone(),
    );
    c.eq(
        "`client_for_authentication`",
        read_any(c, store, id).await,
        expected.clone(),
    );
    c.eq(
        "`client` from another tenant",
        read(c, store, &b, id).await,
        None,
    );
    c.eq(
        "`client` with an unknown id",
        read(c, store, &a, "cc_read_unknown").await,
        None,
    );
    let unknown = read_any(c, store, "cc_read_unknown").await;
    c.eq(
        "`client_for_authentication` with an unknown id",
        unknown,
        None,
    );
    let upper = "CC_READ_01";
    c.eq(
        "`client` with the id in upper case",
        read(c, store, &a, upper).await,
        None,
    );
    let upper = read_any(c, store, upper).await;
    c.eq(
        "`client_for_authentication` with the id in upper case",
        upper,
        None,
    );

    let second = client(&a, "cc_read_02", at(20));
    commit_ok(c, store, insert(&second), "inserting a second client").await;
    let other = client(&b, "cc_read_03", at(30));
    commit_ok(c, store, insert(&other), "inserting a client in tenant B").await;
    let second_read = read(c, store, &a, "cc_read_02").await;
    c.eq("the second client", second_read, Some(stored(&second, 1)));
    let other_read = read(c, store, &b, "cc_read_03").await;
    c.eq(
        "tenant B's client, from tenant B",
        other_read,
        Some(stored(&other, 1)),
    );
    let other_read = read_any(c, store, "cc_read_03").await;
    c.eq(
        "tenant B's client, for authentication",
        other_read,
        Some(stored(&other, 1)),
    );
    let other_read = read(c, store, &a, "cc_read_03").await;
    c.eq("tenant B's client, from tenant A", other_read, None);
    c.eq(
        "the first client, after others were inserted",
        read(c, store, &a, id).await,
        expected,
    );

    let foreign = client(&b, "cc_read_04", at(40));
    let commit = Commit::new(audit_event(
        &a,
        "cc_read_04",
        AuditAction::Create,
        "smuggled",
    ))
    .with(Write::Insert(foreign));
    let what = "an insert in tenant A whose record names tenant B";
    commit_refused(c, store, commit, Want::AnyError, what).await;
}

/// Checks that inserting an id that exists is [`StoreError::Duplicate`] and
/// writes nothing (no client, no audit record). The id may exist in the
/// same tenant or in another: client ids are unique across tenants. Two
/// inserts of one new id in one commit are refused the same way.
pub async fn duplicate_insert(store: &dyn Store) {
    let c = Check("duplicate_insert");
    let (a, b) = (tenant_a(), tenant_b());
    let original = client(&a, "cc_dup_01", at(10));
    commit_ok(c, store, insert(&original), "inserting a client").await;

    let mut again = client(&a, "cc_dup_01", at(20));
    again.name = "Another client".to_owned();
    let what = "inserting an id that exists in the same tenant";
    commit_refused(c, store, insert(&again), Want::Duplicate, what).await;

    let elsewhere = client(&b, "cc_dup_01", at(20));
    let what = "inserting, in tenant B, an id that exists in tenant A";
    commit_refused(c, store, insert(&elsewhere), Want::Duplicate, what).await;

    let twin = client(&a, "cc_dup_02", at(30));
    let mut twin_again = twin.clone();
    twin_again.name = "Twin".to_owned();
    let commit = insert(&twin).with(Write::Insert(twin_again));
    let what = "inserting one new id twice in one commit";
    commit_refused(c, store, commit, Want::Duplicate, what).await;

    let read_back = read(c, store, &a, "cc_dup_01").await;
    c.eq(
        "the original client after the refused inserts",
        read_back,
        Some(stored(&original, 1)),
    );
    c.eq(
        "the twin after the refused commit",
        read_any(c, store, "cc_dup_02").await,
        None,
    );
}

/// Checks updates. The version read bumps the version by one and stores the
/// new content (the record's own `version` field is ignored). A stale or
/// never-stored version is [`StoreError::Conflict`]. A missing client, or
/// one that exists only in another tenant, is [`StoreError::NotFound`]. An
/// update whose record names another tenant than its commit is refused.
/// Every refusal writes nothing.
pub async fn update_with_version(store: &dyn Store) {
    let c = Check("update_with_version");
    let (a, b) = (tenant_a(), tenant_b());
    let id = "cc_upd_01";
    let original = client(&a, id, at(10));
    commit_ok(c, store, insert(&original), "inserting the client").await;

    let mut changed = stored(&original, 1);
    changed.name = "Renamed".to_owned();
    changed.scopes = vec!["read".to_owned()];
    changed.owner = Some("alice".to_owned());
    changed.updated_at = at(20);
    changed.version = 77; // The store sets the version, whatever the record says.
    commit_ok(
        c,
        store,
        update(&changed, 1),
        "updating with the version read (1)",
    )
    .await;
    let v2 = stored(&changed, 2);
    let what = "the client after an update (new content, version 2)";
    c.eq(what, read(c, store, &a, id).await, Some(v2.clone()));
    let what = "`client_for_authentication` after an update";
    c.eq(what, read_any(c, store, id).await, Some(v2.clone()));

    let mut stale = v2.clone();
    stale.name = "Stale write".to_owned();
    let what = "updating with a stale version (1, stored 2)";
    commit_refused(c, store, update(&stale, 1), Want::Conflict, what).await;
    let what = "updating with a version never stored (3, stored 2)";
    commit_refused(c, store, update(&stale, 3), Want::Conflict, what).await;

    let missing = client(&a, "cc_upd_missing", at(10));
    let what = "updating a client that does not exist";
    commit_refused(c, store, update(&missing, 1), Want::NotFound, what).await;

    let mut foreign = v2.clone();
    foreign.tenant = b.clone();
    let what = "updating, from tenant B, a client of tenant A";
    commit_refused(c, store, update(&foreign, 2), Want::NotFound, what).await;

    let smuggled =
        Commit::new(audit_event(&b, id, AuditAction::Update, "smuggled")).with(Write::Update {
            expected_version: 2,
            record: stale,
        });
    let what = "an update in tenant B whose record names tenant A";
    commit_refused(c, store, smuggled, Want::AnyError, what).await;

    let mut third = v2.clone();
    third.description = "Third version".to_owned();
    commit_ok(
        c,
        store,
        update(&third, 2),
        "updating again with the version read (2)",
    )
    .await;
    let what = "the client after a second update (version 3)";
    c.eq(what, read(c, store, &a, id).await, Some(stored(&third, 3)));
}

/// Checks deletes. The version read removes the client, from every read and
/// from listings. A stale version is [`StoreError::Conflict`]. A missing
/// client, or one that exists only in another tenant, is
/// [`StoreError::NotFound`]. The client's audit records outlive it, and its
/// id can then be inserted anew, at version 1.
pub async fn delete_with_version(store: &dyn Store) {
    let c = Check("delete_with_version");
    let (a, b) = (tenant_a(), tenant_b());
    let id = "cc_del_01";
    let original = client(&a, id, at(10));
    commit_ok(c, store, insert(&original), "inserting the client").await;
    let mut changed = stored(&original, 1);
    changed.name = "Renamed".to_owned();
    commit_ok(
        c,
        store,
        update(&changed, 1),
        "updating the client to version 2",
    )
    .await;
    let keeper = client(&a, "cc_del_02", at(20));
    commit_ok(c, store, insert(&keeper), "inserting a second client").await;

    let what = "deleting with a stale version (1, stored 2)";
    commit_refused(c, store, delete(&a, id, 1), Want::Conflict, what).await;
    let what = "deleting, from tenant B, a client of tenant A";
    commit_refused(c, store, delete(&b, id, 2), Want::NotFound, what).await;
    let what = "deleting a client that does not exist";
    commit_refused(
        c,
        store,
        delete(&a, "cc_del_missing", 1),
        Want::NotFound,
        what,
    )
    .await;

    commit_ok(
        c,
        store,
        delete(&a, id, 2),
        "deleting with the version read (2)",
    )
    .await;
    c.eq(
        "`client` after the delete",
        read(c, store, &a, id).await,
        None,
    );
    let what = "`client_for_authentication` after the delete";
    c.eq(what, read_any(c, store, id).await, None);
    let listed = ids(&all_clients(c, store, &a).await);
    c.eq(
        "the tenant's listing after the delete",
        listed,
        vec!["cc_del_02".to_owned()],
    );
    let what = "the other client after the delete";
    c.eq(
        what,
        read(c, store, &a, "cc_del_02").await,
        Some(stored(&keeper, 1)),
    );

    let what = "deleting the deleted client again";
    commit_refused(c, store, delete(&a, id, 2), Want::NotFound, what).await;

    let trail = audit_query(c, store, &a, Some(id), None, BIG).await;
    let actions: Vec<AuditAction> = trail.iter().map(|r| r.event.action).collect();
    let what = "the deleted client's audit records (they outlive it)";
    c.eq(
        what,
        actions,
        vec![
            AuditAction::Create,
            AuditAction::Update,
            AuditAction::Delete,
        ],
    );

    let reborn = client(&a, id, at(30));
    commit_ok(c, store, insert(&reborn), "inserting the deleted id anew").await;
    let what = "the client inserted anew (version 1)";
    c.eq(what, read(c, store, &a, id).await, Some(stored(&reborn, 1)));
}

/// Checks that a commit is all or nothing. A valid insert followed by a
/// stale update, a missing delete or a duplicate insert writes nothing: no
/// client, no change, no audit record. A valid multi-write commit applies
/// every write and appends one audit record.
pub async fn atomic_commit(store: &dyn Store) {
    let c = Check("atomic_commit");
    let a = tenant_a();
    let existing = client(&a, "cc_atom_01", at(10));
    commit_ok(c, store, insert(&existing), "inserting a client").await;
    let new = client(&a, "cc_atom_02", at(20));
    let mut changed = stored(&existing, 1);
    changed.name = "Changed in a commit".to_owned();

    let commit = insert(&new).with(Write::Update {
        expected_version: 7,
        record: changed.clone(),
    });
    let what = "a valid insert followed by an update with a stale version";
    commit_refused(c, store, commit, Want::Conflict, what).await;
    c.eq(
        "the new client after the refused commit",
        read_any(c, store, "cc_atom_02").await,
        None,
    );

    let commit = insert(&new).with(Write::Insert(client(&a, "cc_atom_01", at(30))));
    let what = "a valid insert followed by an insert of an existing id";
    commit_refused(c, store, commit, Want::Duplicate, what).await;

    let commit = update(&changed, 1).with(Write::Delete {
        client_id: "cc_atom_missing".to_owned(),
        expected_version: 1,
    });
    let what = "a valid update followed by a delete of a missing client";
    commit_refused(c, store, commit, Want::NotFound, what).await;
    let what = "the existing client after the refused commits";
    c.eq(
        what,
        read(c, store, &a, "cc_atom_01").await,
        Some(stored(&existing, 1)),
    );

    let third = client(&a, "cc_atom_03", at(30));
    let commit = insert(&new)
        .with(Write::Insert(third.clone()))
        .with(Write::Update {
            expected_version: 1,
            record: changed.clone(),
        });
    commit_ok(c, store, commit, "a commit with two inserts and an update").await;
    let what = "the first client inserted by a multi-write commit";
    c.eq(
        what,
        read(c, store, &a, "cc_atom_02").await,
        Some(stored(&new, 1)),
    );
    let what = "the second client inserted by a multi-write commit";
    c.eq(
        what,
        read(c, store, &a, "cc_atom_03").await,
        Some(stored(&third, 1)),
    );
    let what = "the client updated by a multi-write commit";
    c.eq(
        what,
        read(c, store, &a, "cc_atom_01").await,
        Some(stored(&changed, 2)),
    );
}

/// Checks the audit trail. Every successful commit appends exactly its
/// event, and [`AuditLog::append_audit`] appends one. A query returns its
/// tenant's records, optionally one client's, in increasing `seq`, after
/// `after_seq`, at most `limit`. Refused commits append nothing.
///
/// [`AuditLog::append_audit`]: crate::AuditLog::append_audit
pub async fn audit_trail(store: &dyn Store) {
    let c = Check("audit_trail");
    let (a, b) = (tenant_a(), tenant_b());
    let first = client(&a, "cc_aud_01", at(10));
    commit_ok(c, store, insert(&first), "inserting a client").await;
    let refused_read = AuditEvent {
        at: at(11),
        actor: AuditActor::PlatformAdmin {
            user: "staff-7".to_owned(),
        },
        tenant: a.clone(),
        client_id: Some("cc_aud_01".to_owned()),
        action: AuditAction::Read,
        outcome: AuditOutcome::Refused {
            reason: "forbidden".to_owned(),
        },
        detail: None,
    };
    c.ok(
        "appending a refused read",
        store.append_audit(refused_read).await,
    );
    let other = client(&b, "cc_aud_b1", at(12));
    commit_ok(c, store, insert(&other), "inserting a client in tenant B").await;
    let no_client = AuditEvent {
        at: at(13),
        actor: AuditActor::System,
        tenant: a.clone(),
        client_id: None,
        action: AuditAction::Read,
        outcome: AuditOutcome::Refused {
            reason: "invalid:query".to_owned(),
        },
        detail: Some("list".to_owned()),
    };
    c.ok(
        "appending a record about no client",
        store.append_audit(no_client).await,
    );
    let mut changed = stored(&first, 1);
    changed.name = "Renamed".to_owned();
    commit_ok(c, store, update(&changed, 1), "updating the client").await;
    let refused_create = AuditEvent {
        at: at(15),
        actor: AuditActor::TenantAdmin {
            user: "admin-2".to_owned(),
        },
        tenant: a.clone(),
        client_id: Some("cc_aud_02".to_owned()),
        action: AuditAction::Create,
        outcome: AuditOutcome::Refused {
            reason: "invalid:name".to_owned(),
        },
        detail: None,
    };
    c.ok(
        "appending a refused create",
        store.append_audit(refused_create).await,
    );
    let what = "a refused duplicate insert";
    commit_refused(c, store, insert(&first), Want::Duplicate, what).await;

    let all_a = audit_query(c, store, &a, None, None, BIG).await;
    let all_b = audit_query(c, store, &b, None, None, BIG).await;
    increasing_seq(c, "tenant A's records", &all_a);
    c.eq("the number of tenant A's records", all_a.len(), 5);
    c.eq("the number of tenant B's records", all_b.len(), 1);
    let actions: Vec<AuditAction> = all_a.iter().map(|r| r.event.action).collect();
    let expected = vec![
        AuditAction::Create,
        AuditAction::Read,
        AuditAction::Read,
        AuditAction::Update,
        AuditAction::Create,
    ];
    c.eq("tenant A's records, in order", actions, expected);
    c.that(
        "the sequence numbers interleave across tenants in append order",
        all_a[1].seq < all_b[0].seq && all_b[0].seq < all_a[2].seq,
    );

    let one = audit_query(c, store, &a, Some("cc_aud_01"), None, BIG).await;
    let expected: Vec<AuditRecord> = [0, 1, 3].iter().map(|&i| all_a[i].clone()).collect();
    c.eq("tenant A's records about client cc_aud_01", one, expected);
    let foreign = audit_query(c, store, &a, Some("cc_aud_b1"), None, BIG).await;
    c.eq(
        "tenant B's client's records, queried in tenant A",
        foreign,
        vec![],
    );

    let after = audit_query(c, store, &a, None, Some(all_a[1].seq), BIG).await;
    c.eq(
        "tenant A's records after the second",
        after,
        all_a[2..].to_vec(),
    );
    let after = audit_query(c, store, &a, None, Some(all_b[0].seq), BIG).await;
    c.eq(
        "tenant A's records after tenant B's record",
        after,
        all_a[2..].to_vec(),
    );
    let after = audit_query(c, store, &a, None, Some(all_a[4].seq), BIG).await;
    c.eq("tenant A's records after the last", after, vec![]);
    let limited = audit_query(c, store, &a, None, None, 2).await;
    c.eq(
        "tenant A's first two records (limit 2)",
        limited,
        all_a[..2].to_vec(),
    );
    let combined = audit_query(c, store, &a, Some("cc_aud_01"), Some(all_a[0].seq), 1).await;
    let what = "cc_aud_01's records after its first, limit 1";
    c.eq(what, combined, vec![all_a[1].clone()]);

    let mut paged = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let page = audit_query(c, store, &a, None, after, 2).await;
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        paged.extend(page);
    }
    c.eq(
        "tenant A's records read in pages of 2 by `after_seq`",
        paged,
        all_a,
    );
}

/// Checks the activity log. [`ActivityLog::activity`] returns a tenant's
/// entries, optionally one client's, in increasing `seq`, after
/// `after_seq`, at most `limit`. Entries without a tenant (an unknown client
/// id) belong to no tenant.
///
/// [`ActivityLog::activity`]: crate::ActivityLog::activity
pub async fn activity_log(store: &dyn Store) {
    let c = Check("activity_log");
    let (a, b) = (tenant_a(), tenant_b());
    let issued = |jti: &str| ActivityKind::TokenIssued {
        jti: jti.to_owned(),
        scope: "read write".to_owned(),
    };
    let denied = |reason: &str| ActivityKind::TokenDenied {
        reason: reason.to_owned(),
    };
    let events = [
        activity_event(Some(&a), "cc_act_01", 1, issued("jti-1")),
        activity_event(None, "cc_unknown", 2, denied("unknown_client")),
        activity_event(Some(&b), "cc_act_02", 3, issued("jti-2")),
        activity_event(Some(&a), "cc_act_03", 4, denied("bad_secret")),
        activity_event(Some(&a), "cc_act_01", 5, issued("jti-3")),
        activity_event(Some(&a), "cc_act_01", 6, denied("invalid_scope")),
    ];
    for event in events.clone() {
        c.ok("recording activity", store.record_activity(event).await);
    }

    let all_a = activity_query(c, store, &a, None, None, BIG).await;
    let expected: Vec<ActivityEvent> = [0, 3, 4, 5].iter().map(|&i| events[i].clone()).collect();
    c.eq(
        "tenant A's entries, in order",
        activity_events(&all_a),
        expected,
    );
    increasing_seq(c, "tenant A's entries", &all_a);
    let all_b = activity_query(c, store, &b, None, None, BIG).await;
    c.eq(
        "tenant B's entries",
        activity_events(&all_b),
        vec![events[2].clone()],
    );

    let one = activity_query(c, store, &a, Some("cc_act_01"), None, BIG).await;
    let expected: Vec<ActivityRecord> = [0, 2, 3].iter().map(|&i| all_a[i].clone()).collect();
    c.eq("tenant A's entries about client cc_act_01", one, expected);
    let unknown = activity_query(c, store, &a, Some("cc_unknown"), None, BIG).await;
    c.eq(
        "an entry without a tenant, queried in tenant A",
        unknown,
        vec![],
    );

    let after = activity_query(c, store, &a, None, Some(all_a[1].seq), BIG).await;
    c.eq(
        "tenant A's entries after the second",
        after,
        all_a[2..].to_vec(),
    );
    let after = activity_query(c, store, &a, None, Some(all_b[0].seq), BIG).await;
    c.eq(
        "tenant A's entries after tenant B's entry",
        after,
        all_a[1..].to_vec(),
    );
    let after = activity_query(c, store, &a, None, Some(all_a[3].seq), BIG).await;
    c.eq("tenant A's entries after the last", after, vec![]);
    let limited = activity_query(c, store, &a, None, None, 2).await;
    c.eq(
        "tenant A's first two entries (limit 2)",
        limited,
        all_a[..2].to_vec(),
    );
    let combined = activity_query(c, store, &a, Some("cc_act_01"), Some(all_a[0].seq), 1).await;
    let what = "cc_act_01's entries after its first, limit 1";
    c.eq(what, combined, vec![all_a[2].clone()]);

    let mut paged = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let page = activity_query(c, store, &a, None, after, 1).await;
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        paged.extend(page);
    }
    c.eq(
        "tenant A's entries read one at a time by `after_seq`",
        paged,
        all_a,
    );
}

/// Checks [`ClientStore::record_use`]. A use sets the client's and the
/// secret's `last_used_at` and never moves them back. `rehash` replaces
/// only that secret's hash. The version and every other field stay as
/// they were, so an update with the version read still succeeds. A use of
/// a missing client, of a client from another tenant, or of an unknown
/// secret succeeds and changes nothing. For an unknown secret, the store may
/// still set the client's `last_used_at`.
///
/// [`ClientStore::record_use`]: crate::ClientStore::record_use
pub async fn record_use(store: &dyn Store) {
    let c = Check("record_use");
    let (a, b) = (tenant_a(), tenant_b());
    let id = "cc_use_01";
    let mut original = client(&a, id, at(10));
    original.secrets.push(secret("cc_use_01-s2", at(11)));
    commit_ok(c, store, insert(&original), "inserting the client").await;
    let mut expected = stored(&original, 1);
    let use_of = |secret_id: &str, secs: i64, rehash: Option<SecretHash>| SecretUse {
        tenant: a.clone(),
        client_id: id.to_owned(),
        secret_id: secret_id.to_owned(),
        at: at(secs),
        rehash,
    };

    c.ok(
        "recording a use",
        store.record_use(&use_of("cc_use_01-s1", 100, None)).await,
    );
    expected.last_used_at = Some(at(100));
    expected.secrets[0].last_used_at = Some(at(100));
    let what = "the client after a use (last-used times set, version unchanged)";
    c.eq(what, read(c, store, &a, id).await, Some(expected.clone()));

    c.ok(
        "recording an older use",
        store.record_use(&use_of("cc_use_01-s1", 50, None)).await,
    );
    let what = "the client after an older use (last-used times never move back)";
    c.eq(what, read(c, store, &a, id).await, Some(expected.clone()));

    c.ok(
        "recording a use of the second secret",
        store.record_use(&use_of("cc_use_01-s2", 200, None)).await,
    );
    expected.last_used_at = Some(at(200));
    expected.secrets[1].last_used_at = Some(at(200));
    let what = "the client after a newer use of its second secret";
    c.eq(what, read(c, store, &a, id).await, Some(expected.clone()));

    let fresh = SecretHash::from_stored("hmac-sha256$v1$k2$conformance-rehashed");
    let usage = use_of("cc_use_01-s1", 150, Some(fresh.clone()));
    c.ok(
        "recording a use with a rehash",
        store.record_use(&usage).await,
    );
    expected.secrets[0].last_used_at = Some(at(150));
    expected.secrets[0].hash = fresh;
    let what = "the client after a use with a rehash (only that secret's hash replaced)";
    c.eq(what, read(c, store, &a, id).await, Some(expected.clone()));

    let mut missing = use_of("cc_use_01-s1", 300, None);
    missing.client_id = "cc_use_missing".to_owned();
    c.ok(
        "recording a use of a missing client",
        store.record_use(&missing).await,
    );
    let what = "a missing client after a use of it";
    c.eq(what, read_any(c, store, "cc_use_missing").await, None);

    let mut foreign = use_of(
        "cc_use_01-s1",
        400,
        Some(SecretHash::from_stored("hmac-sha256$x")),
    );
    foreign.tenant = b.clone();
    c.ok(
        "recording a use from another tenant",
        store.record_use(&foreign).await,
    );
    let what = "the client after a use recorded from another tenant (unchanged)";
    c.eq(what, read(c, store, &a, id).await, Some(expected.clone()));

    let unknown = use_of(
        "cc_use_01-s9",
        500,
        Some(SecretHash::from_stored("hmac-sha256$y")),
    );
    c.ok(
        "recording a use of an unknown secret",
        store.record_use(&unknown).await,
    );
    let after = read(c, store, &a, id).await.expect("the client exists");
    c.that(
        "the client's `last_used_at` after a use of an unknown secret \
         (unchanged, or that use's time)",
        after.last_used_at == expected.last_used_at || after.last_used_at == Some(at(500)),
    );
    let what = "the client after a use of an unknown secret (secrets and version unchanged)";
    c.eq(
        what,
        ClientRecord {
            last_used_at: expected.last_used_at,
            ..after.clone()
        },
        expected,
    );

    let mut changed = after;
    changed.name = "Renamed after use".to_owned();
    commit_ok(
        c,
        store,
        update(&changed, 1),
        "updating with version 1 after the uses",
    )
    .await;
    let what = "the client updated after the uses";
    c.eq(
        what,
        read(c, store, &a, id).await,
        Some(stored(&changed, 2)),
    );
}

/// Checks that a listing holds only its tenant's clients, ordered by
/// creation instant and then client id. The order holds across UTC offsets
/// and across pages of one (the cursor breaks ties by id). A tenant without
/// clients lists an empty last page.
pub async fn list_tenant_and_order(store: &dyn Store) {
    let c = Check("list_tenant_and_order");
    let (a, b) = (tenant_a(), tenant_b());
    let plus_ten = UtcOffset::from_hms(10, 0, 0).unwrap();
    let minus_eight = UtcOffset::from_hms(-8, 0, 0).unwrap();
    let fixtures = [
        client(&a, "cc_ord_c", at(100)),
        client(&b, "cc_ord_b1", at(100)),
        client(&a, "cc_ord_a", at(100)),
        client(&a, "cc_ord_y", at(200).to_offset(minus_eight)),
        client(&a, "cc_ord_b", at(100)),
        client(&b, "cc_ord_b2", at(10)),
        client(&a, "cc_ord_z", at(50)),
        // Later by the clock on its wall, earlier as an instant.
        client(&a, "cc_ord_x", at(150).to_offset(plus_ten)),
        client(&a, "cc_ord_w", at(160)),
    ];
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }
    let expected_a = sorted_for(&fixtures, &a);
    let order: Vec<String> = [
        "cc_ord_z", "cc_ord_a", "cc_ord_b", "cc_ord_c", "cc_ord_x", "cc_ord_w", "cc_ord_y",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(ids(&expected_a), order, "the kit's own expectation");

    let page = c.ok("listing tenant A", store.list(&query(&a, 100)).await);
    c.eq(
        "tenant A's clients, in order",
        ids(&page.clients),
        order.clone(),
    );
    c.eq(
        "tenant A's clients, in full",
        page.clients,
        expected_a.clone(),
    );
    c.that(
        "a listing that fits one page has no next cursor",
        page.next.is_none(),
    );

    let expected_b = sorted_for(&fixtures, &b);
    let listed_b = walk(c, store, query(&b, 100), "listing tenant B").await;
    c.eq("tenant B's clients", listed_b, expected_b);

    let one_by_one = walk(c, store, query(&a, 1), "listing tenant A in pages of 1").await;
    c.eq(
        "tenant A's clients in pages of 1",
        ids(&one_by_one),
        order.clone(),
    );
    let two_by_two = walk(c, store, query(&a, 2), "listing tenant A in pages of 2").await;
    c.eq("tenant A's clients in pages of 2", ids(&two_by_two), order);

    let empty = TenantId::new("conformance-empty").unwrap();
    let page = c.ok(
        "listing a tenant without clients",
        store.list(&query(&empty, 10)).await,
    );
    c.that(
        "a tenant without clients lists nothing",
        page.clients.is_empty(),
    );
    c.that("an empty listing has no next cursor", page.next.is_none());
}

/// Checks paging. 25 clients in pages of 7 come as 7, 7, 7 and 4, each
/// exactly once and in order, and the short last page has no next cursor.
/// Pages of 5, 1, 25 and 26 give the same sequence. After a full last page
/// a store may hand out a cursor, but it must lead to an empty last page.
pub async fn list_pages(store: &dyn Store) {
    let c = Check("list_pages");
    let (a, b) = (tenant_a(), tenant_b());
    let mut fixtures = Vec::new();
    for i in (0..25).rev() {
        // Inserted latest first.
        fixtures.push(client(&a, &format!("cc_page_{i:02}"), at(i * 10)));
        if i % 5 == 0 {
            fixtures.push(client(&b, &format!("cc_page_b{i:02}"), at(i * 10)));
        }
    }
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }
    let expected = sorted_for(&fixtures, &a);

    let mut sizes = Vec::new();
    let mut listed = Vec::new();
    let mut request = query(&a, 7);
    for _ in 0..10 {
        let page = c.ok("listing a page of 7", store.list(&request).await);
        sizes.push(page.clients.len());
        listed.extend(page.clients);
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }
    c.eq(
        "the page sizes of 25 clients in pages of 7",
        sizes,
        vec![7, 7, 7, 4],
    );
    c.eq("25 clients read in pages of 7", listed, expected.clone());

    for limit in [5, 1, 25, 26] {
        let listed = walk(
            c,
            store,
            query(&a, limit),
            &format!("listing in pages of {limit}"),
        )
        .await;
        c.eq(
            &format!("25 clients read in pages of {limit}"),
            listed,
            expected.clone(),
        );
    }
}

/// Checks that paging is keyset paging. Clients inserted or updated
/// between page reads never make a client that existed at the first page
/// repeat or go missing, and the clients read stay in order across pages.
pub async fn list_stable_pages(store: &dyn Store) {
    let c = Check("list_stable_pages");
    let a = tenant_a();
    let fixtures: Vec<ClientRecord> = (0..20)
        .map(|i| client(&a, &format!("cc_stab_{i:02}"), at(i * 10)))
        .collect();
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }

    let mut request = query(&a, 7);
    let first = c.ok("listing the first page", store.list(&request).await);
    let expected_first: Vec<String> = fixtures[..7].iter().map(|r| r.client_id.clone()).collect();
    c.eq("the first page", ids(&first.clients), expected_first);
    let Some(next) = first.next else {
        c.fail("the first of three pages has no next cursor")
    };
    request.after = Some(next);
    let mut listed = first.clients;

    let inserted_between = [
        client(&a, "cc_stab_aa", at(-5)),  // before everything
        client(&a, "cc_stab_03x", at(35)), // inside the first page
        client(&a, "cc_stab_05z", at(60)), // same instant as the cursor, smaller id
        client(&a, "cc_stab_06z", at(60)), // same instant as the cursor, larger id
        client(&a, "cc_stab_12x", at(125)),
        client(&a, "cc_stab_zz", at(1000)), // after everything
    ];
    for record in &inserted_between {
        commit_ok(
            c,
            store,
            insert(record),
            "inserting a client between page reads",
        )
        .await;
    }
    let mut moved = stored(&fixtures[2], 1);
    moved.name = "Updated between page reads".to_owned();
    moved.updated_at = at(2000);
    commit_ok(
        c,
        store,
        update(&moved, 1),
        "updating a client of the first page",
    )
    .await;
    let mut later = stored(&fixtures[15], 1);
    later.name = "Updated before its page".to_owned();
    later.updated_at = at(2000);
    commit_ok(
        c,
        store,
        update(&later, 1),
        "updating a client of a later page",
    )
    .await;

    for _ in 0..20 {
        let page = c.ok("listing the next page", store.list(&request).await);
        for record in &page.clients {
            if listed.iter().any(|r| r.client_id == record.client_id) {
                c.fail(&format!("client {} was listed twice", record.client_id));
            }
        }
        listed.extend(page.clients);
        match page.next {
            Some(next) => request.after = Some(next),
            None => break,
        }
    }

    in_order(c, "the clients read across pages", &listed);
    for record in &fixtures {
        let count = listed
            .iter()
            .filter(|r| r.client_id == record.client_id)
            .count();
        let what = format!(
            "how often client {}, which existed at the first page, was listed",
            record.client_id
        );
        c.eq(&what, count, 1);
    }
    let seen_later = listed
        .iter()
        .find(|r| r.client_id == later.client_id)
        .cloned();
    c.eq(
        "the client updated before its page was read",
        seen_later,
        Some(stored(&later, 2)),
    );
    for early in ["cc_stab_aa", "cc_stab_03x", "cc_stab_05z"] {
        let what =
            format!("client {early}, inserted before the cursor, never shows on a later page");
        c.that(&what, listed.iter().all(|r| r.client_id != early));
    }
}

/// Checks that a cursor is a position, not a client. Deleting the client a
/// cursor was made from, and the client after it, does not break or restart
/// the listing: the rest comes once, in order.
pub async fn list_cursor_after_delete(store: &dyn Store) {
    let c = Check("list_cursor_after_delete");
    let a = tenant_a();
    let fixtures: Vec<ClientRecord> = (0..12)
        .map(|i| client(&a, &format!("cc_curs_{i:02}"), at(i * 10)))
        .collect();
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }
    let mut request = query(&a, 5);
    let first = c.ok("listing the first page", store.list(&request).await);
    c.eq(
        "the first page",
        first.clients.clone(),
        stored_all(&fixtures[..5]),
    );
    let Some(next) = first.next else {
        c.fail("the first of three pages has no next cursor")
    };
    request.after = Some(next);

    commit_ok(
        c,
        store,
        delete(&a, "cc_curs_04", 1),
        "deleting the cursor's client",
    )
    .await;
    commit_ok(
        c,
        store,
        delete(&a, "cc_curs_05", 1),
        "deleting the client after it",
    )
    .await;

    let rest = walk(
        c,
        store,
        request,
        "listing from a cursor whose client was deleted",
    )
    .await;
    c.eq(
        "the clients after the cursor",
        rest,
        stored_all(&fixtures[6..]),
    );
}

/// Checks search: a case-insensitive substring of the name or the client
/// id, in the query's tenant only. `_`, `%` and `\` are plain characters,
/// not patterns. An empty search matches every client. Search combines with
/// the owner filter and applies before paging.
pub async fn list_search(store: &dyn Store) {
    let c = Check("list_search");
    let (a, b) = (tenant_a(), tenant_b());
    let named = |tenant: &TenantId, id: &str, secs: i64, name: &str, owner: Option<&str>| {
        let mut record = client(tenant, id, at(secs));
        record.name = name.to_owned();
        record.owner = owner.map(str::to_owned);
        record
    };
    let fixtures = [
        named(&a, "cc_srch_01", 10, "Billing Service", Some("alice")),
        named(&a, "cc_srch_02", 20, "nightly BILLING reports", Some("bob")),
        named(&a, "cc_srch_billing", 30, "Unrelated", None),
        named(&a, "cc_srch_04", 40, "Payments", None),
        named(&a, "cc_srch_05", 50, "a_b tool", None),
        named(&a, "cc_srch_06", 60, "axb tool", None),
        named(&a, "cc_srch_07", 70, "100% ready", None),
        named(&a, "cc_srch_08", 80, "1000 ready", None),
        named(&a, "cc_srch_09", 90, "back\\slash", None),
        named(&a, "cc_srch_10", 100, "backslash", None),
        named(&b, "cc_srch_b1", 15, "Billing in B", Some("alice")),
    ];
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }

    let cases: [(&str, Option<&str>, &[&str]); 11] = [
        (
            "billing",
            None,
            &["cc_srch_01", "cc_srch_02", "cc_srch_billing"],
        ),
        (
            "BiLLiNG",
            None,
            &["cc_srch_01", "cc_srch_02", "cc_srch_billing"],
        ),
        ("PAYMENTS", None, &["cc_srch_04"]),
        ("SRCH_1", None, &["cc_srch_10"]),
        ("a_b", None, &["cc_srch_05"]),
        ("%", None, &["cc_srch_07"]),
        ("k\\s", None, &["cc_srch_09"]),
        ("no such client", None, &[]),
        ("billing", Some("alice"), &["cc_srch_01"]),
        ("billing", Some("carol"), &[]),
        (
            "",
            None,
            &[
                "cc_srch_01",
                "cc_srch_02",
                "cc_srch_billing",
                "cc_srch_04",
                "cc_srch_05",
                "cc_srch_06",
                "cc_srch_07",
                "cc_srch_08",
                "cc_srch_09",
                "cc_srch_10",
            ],
        ),
    ];
    for (search, owner, expected) in cases {
        let mut request = query(&a, 100);
        request.search = Some(search.to_owned());
        request.owner = owner.map(str::to_owned);
        let expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        let what = format!("clients matching search {search:?} (owner {owner:?})");
        let listed = walk(c, store, request.clone(), &what).await;
        c.eq(&what, ids(&listed), expected.clone());
        request.limit = 1;
        let what = format!("clients matching search {search:?} (owner {owner:?}), in pages of 1");
        let listed = walk(c, store, request, &what).await;
        c.eq(&what, ids(&listed), expected);
    }
}

/// Checks the owner filter: exactly the clients with that owner, in the
/// query's tenant only, before paging.
pub async fn list_owner(store: &dyn Store) {
    let c = Check("list_owner");
    let (a, b) = (tenant_a(), tenant_b());
    let owned = |tenant: &TenantId, id: &str, secs: i64, owner: Option<&str>| {
        let mut record = client(tenant, id, at(secs));
        record.owner = owner.map(str::to_owned);
        record
    };
    let fixtures = [
        owned(&a, "cc_own_01", 10, Some("alice")),
        owned(&a, "cc_own_02", 20, Some("bob")),
        owned(&a, "cc_own_03", 30, None),
        owned(&b, "cc_own_b1", 35, Some("alice")),
        owned(&a, "cc_own_04", 40, Some("alice")),
        owned(&a, "cc_own_05", 50, Some("alice-smith")),
    ];
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }
    let cases: [(&str, &[&str]); 3] = [
        ("alice", &["cc_own_01", "cc_own_04"]),
        ("bob", &["cc_own_02"]),
        ("carol", &[]),
    ];
    for (owner, expected) in cases {
        let expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        for limit in [100, 1] {
            let mut request = query(&a, limit);
            request.owner = Some(owner.to_owned());
            let what = format!("clients of owner {owner:?}, in pages of {limit}");
            let listed = walk(c, store, request, &what).await;
            c.eq(&what, ids(&listed), expected.clone());
        }
    }
    let listed = walk(c, store, query(&a, 100), "listing without an owner filter").await;
    c.eq(
        "tenant A's clients without an owner filter",
        listed.len(),
        5,
    );
}

/// Checks the status filter for each of active, inactive, revoked, expiring
/// and expired, computed by [`ClientRecord::effective_status`] at
/// [`ClientQuery::now`], not at the store's clock. The fixtures include both
/// edges of a grace window and clients that are expired only through their
/// secrets. The filter applies before paging.
pub async fn list_status(store: &dyn Store) {
    let c = Check("list_status");
    let (a, b) = (tenant_a(), tenant_b());
    let now = at(NOW_SECS);
    let hour = Duration::hours(1);
    let with = |id: &str, secs: i64, edit: &dyn Fn(&mut ClientRecord)| {
        let mut record = client(&a, id, at(secs));
        edit(&mut record);
        record
    };
    let fixtures = [
        with("cc_stat_active", 10, &|_| {}),
        with("cc_stat_rotating", 20, &|r| {
            r.secrets[0].grace_until = Some(now + hour);
            r.secrets.push(secret("cc_stat_rotating-s2", at(20)));
        }),
        with("cc_stat_inactive", 30, &|r| {
            r.status = ClientStatus::Inactive;
        }),
        with("cc_stat_inactive_past_grace", 40, &|r| {
            r.status = ClientStatus::Inactive;
            r.grace_until = Some(now - hour);
        }),
        with("cc_stat_revoked", 50, &|r| {
            r.status = ClientStatus::Revoked;
            r.secrets[0].revoked_at = Some(at(50));
        }),
        with("cc_stat_expiring", 60, &|r| {
            r.grace_until = Some(now + hour);
        }),
        with("cc_stat_expiring_by_1s", 70, &|r| {
            r.grace_until = Some(now + Duration::seconds(1));
        }),
        with("cc_stat_grace_ended", 80, &|r| {
            r.grace_until = Some(now - hour);
        }),
        with("cc_stat_grace_ends_now", 90, &|r| r.grace_until = Some(now)),
        with("cc_stat_secret_expired", 100, &|r| {
            r.secrets[0].expires_at = Some(now - hour);
        }),
        with("cc_stat_secret_grace_ended", 110, &|r| {
            r.secrets[0].grace_until = Some(now - hour);
        }),
        with("cc_stat_secret_revoked", 120, &|r| {
            r.secrets[0].revoked_at = Some(at(120));
        }),
        with("cc_stat_no_secrets", 130, &|r| r.secrets.clear()),
        // Expires in the store's real clock's past, not at the query's `now`.
        with("cc_stat_secret_expires_later", 140, &|r| {
            r.secrets[0].expires_at = Some(now + hour);
        }),
    ];
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }
    let other = client(&b, "cc_stat_b1", at(15));
    commit_ok(c, store, insert(&other), "inserting a client in tenant B").await;

    let designed: [(StatusFilter, &[&str]); 5] = [
        (
            StatusFilter::Active,
            &[
                "cc_stat_active",
                "cc_stat_rotating",
                "cc_stat_secret_expires_later",
            ],
        ),
        (
            StatusFilter::Inactive,
            &["cc_stat_inactive", "cc_stat_inactive_past_grace"],
        ),
        (StatusFilter::Revoked, &["cc_stat_revoked"]),
        (
            StatusFilter::Expiring,
            &["cc_stat_expiring", "cc_stat_expiring_by_1s"],
        ),
        (
            StatusFilter::Expired,
            &[
                "cc_stat_grace_ended",
                "cc_stat_grace_ends_now",
                "cc_stat_secret_expired",
                "cc_stat_secret_grace_ended",
                "cc_stat_secret_revoked",
                "cc_stat_no_secrets",
            ],
        ),
    ];
    for (filter, designed_ids) in designed {
        let expected: Vec<ClientRecord> = stored_all(&fixtures)
            .into_iter()
            .filter(|r| filter.matches(r.effective_status(now)))
            .collect();
        let designed_ids: Vec<String> = designed_ids.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            ids(&expected),
            designed_ids,
            "the kit's own fixtures for {filter:?}"
        );
        for limit in [100, 1] {
            let mut request = query(&a, limit);
            request.status = Some(filter);
            let what =
                format!("clients with status {filter:?} at the query's `now`, in pages of {limit}");
            let listed = walk(c, store, request, &what).await;
            c.eq(&what, listed, expected.clone());
        }
    }
    let listed = walk(c, store, query(&a, 100), "listing without a status filter").await;
    c.eq(
        "tenant A's clients without a status filter",
        listed,
        stored_all(&fixtures),
    );
}

/// Checks that a cursor the store never issued is
/// [`StoreError::InvalidCursor`].
pub async fn list_invalid_cursor(store: &dyn Store) {
    let c = Check("list_invalid_cursor");
    let a = tenant_a();
    for i in 0..3 {
        let record = client(&a, &format!("cc_bad_{i:02}"), at(i * 10));
        commit_ok(c, store, insert(&record), "inserting a client").await;
    }
    for text in ["not a cursor", "\u{1f600}"] {
        let mut request = query(&a, 2);
        request.after = Some(Cursor::from_text(text));
        let what = format!("listing after the cursor text {text:?}");
        c.err(&what, store.list(&request).await, Want::InvalidCursor);
    }
}

/// Checks concurrent writers. 16 updates of one client from the same read
/// version, polled together: exactly one succeeds and the others are
/// [`StoreError::Conflict`]. 16 inserts of one new id: exactly one succeeds
/// and the others are [`StoreError::Duplicate`]. 16 deletes from one version:
/// exactly one succeeds and the others are a conflict or not found. Each
/// time the audit trail holds exactly the winner's record.
pub async fn concurrent_writers(store: &dyn Store) {
    let c = Check("concurrent_writers");
    let a = tenant_a();
    let id = "cc_race_01";
    let original = client(&a, id, at(10));
    commit_ok(c, store, insert(&original), "inserting the client").await;
    let read_once = read(c, store, &a, id).await.expect("the client exists");

    let tasks = (0..WRITERS)
        .map(|i| {
            let mut record = read_once.clone();
            record.name = format!("writer {i}");
            let detail = format!("writer {i}");
            let commit = Commit::new(audit_event(&a, id, AuditAction::Update, &detail)).with(
                Write::Update {
                    expected_version: read_once.version,
                    record,
                },
            );
            store.commit(commit)
        })
        .collect();
    let results = join_all(tasks).await;
    let winner = single_winner(c, "16 concurrent updates from one version", &results, |e| {
        matches!(e, StoreError::Conflict)
    });
    let stored_now = read(c, store, &a, id).await.expect("the client exists");
    c.eq(
        "the winning update's name",
        stored_now.name,
        format!("writer {winner}"),
    );
    c.eq(
        "the version after 16 concurrent updates",
        stored_now.version,
        2,
    );
    let trail = audit_query(c, store, &a, Some(id), None, BIG).await;
    let details: Vec<Option<String>> = trail.iter().map(|r| r.event.detail.clone()).collect();
    let expected = vec![
        Some(format!("create {id}")),
        Some(format!("writer {winner}")),
    ];
    c.eq(
        "the audit records after 16 concurrent updates",
        details,
        expected,
    );

    let id = "cc_race_02";
    let tasks = (0..WRITERS)
        .map(|i| {
            let mut record = client(&a, id, at(20));
            record.name = format!("inserter {i}");
            let detail = format!("inserter {i}");
            let commit = Commit::new(audit_event(&a, id, AuditAction::Create, &detail))
                .with(Write::Insert(record));
            store.commit(commit)
        })
        .collect();
    let results = join_all(tasks).await;
    let winner = single_winner(c, "16 concurrent inserts of one id", &results, |e| {
        matches!(e, StoreError::Duplicate)
    });
    let stored_now = read(c, store, &a, id).await.expect("the client exists");
    c.eq(
        "the winning insert's name",
        stored_now.name,
        format!("inserter {winner}"),
    );
    let trail = audit_query(c, store, &a, Some(id), None, BIG).await;
    let details: Vec<Option<String>> = trail.iter().map(|r| r.event.detail.clone()).collect();
    let expected = vec![Some(format!("inserter {winner}"))];
    c.eq(
        "the audit records after 16 concurrent inserts",
        details,
        expected,
    );
    let inserter = winner;

    let tasks = (0..WRITERS)
        .map(|i| {
            let detail = format!("deleter {i}");
            let commit = Commit::new(audit_event(&a, id, AuditAction::Delete, &detail)).with(
                Write::Delete {
                    client_id: id.to_owned(),
                    expected_version: 1,
                },
            );
            store.commit(commit)
        })
        .collect();
    let results = join_all(tasks).await;
    let winner = single_winner(c, "16 concurrent deletes from one version", &results, |e| {
        matches!(e, StoreError::Conflict | StoreError::NotFound)
    });
    c.eq(
        "the client after 16 concurrent deletes",
        read_any(c, store, id).await,
        None,
    );
    let trail = audit_query(c, store, &a, Some(id), None, BIG).await;
    let details: Vec<Option<String>> = trail.iter().map(|r| r.event.detail.clone()).collect();
    let expected = vec![
        Some(format!("inserter {inserter}")),
        Some(format!("deleter {winner}")),
    ];
    c.eq(
        "the audit records after 16 concurrent deletes",
        details,
        expected,
    );
}

/// Checks that times survive storage as instants, to the microsecond,
/// whatever their UTC offset. This covers every time field of a client
/// and its secrets, audit and activity times, a use's time,
/// and the listing order of two clients created one microsecond apart.
pub async fn time_round_trip(store: &dyn Store) {
    let c = Check("time_round_trip");
    let a = tenant_a();
    let east = UtcOffset::from_hms(5, 30, 0).unwrap();
    let west = UtcOffset::from_hms(-9, -30, 0).unwrap();
    let precise = |secs: i64, micros: i64, offset: UtcOffset| {
        (at(secs) + Duration::microseconds(micros)).to_offset(offset)
    };
    let id = "cc_time_01";
    let mut record = full_client(&a, id);
    record.created_at = precise(10, 123_456, east);
    record.updated_at = precise(11, 1, west);
    record.last_used_at = Some(precise(12, 999_999, UtcOffset::UTC));
    record.grace_until = Some(precise(NOW_SECS + 13, 7, east));
    for (i, secret) in (0_i64..).zip(record.secrets.iter_mut()) {
        secret.created_at = precise(14 + i, 100 + i, west);
        secret.expires_at = Some(precise(NOW_SECS * 2, 200 + i, east));
        secret.grace_until = Some(precise(NOW_SECS + 16, 300 + i, UtcOffset::UTC));
        secret.revoked_at = Some(precise(17, 400 + i, west));
        secret.last_used_at = Some(precise(18, 500 + i, east));
    }
    let mut commit_event = audit_event(&a, id, AuditAction::Create, "precise");
    commit_event.at = precise(19, 987_654, west);
    let commit = Commit::new(commit_event).with(Write::Insert(record.clone()));
    commit_ok(
        c,
        store,
        commit,
        "inserting a client with microsecond times",
    )
    .await;
    let expected = stored(&record, 1);
    let what = "a client with microsecond times, read back";
    c.eq(what, read(c, store, &a, id).await, Some(expected.clone()));
    let what = "a client with microsecond times, read back for authentication";
    c.eq(what, read_any(c, store, id).await, Some(expected.clone()));
    let listed = walk(
        c,
        store,
        query(&a, 10),
        "listing a client with microsecond times",
    )
    .await;
    c.eq(
        "a client with microsecond times, listed",
        listed,
        vec![expected.clone()],
    );

    let used_at = precise(20, 3, east);
    let secret_id = expected.secrets[0].secret_id.clone();
    let usage = SecretUse {
        tenant: a.clone(),
        client_id: id.to_owned(),
        secret_id,
        at: used_at,
        rehash: None,
    };
    c.ok(
        "recording a use at a microsecond time",
        store.record_use(&usage).await,
    );
    let mut after_use = expected;
    after_use.last_used_at = Some(used_at);
    after_use.secrets[0].last_used_at = Some(used_at);
    let what = "the client after a use at a microsecond time";
    c.eq(what, read(c, store, &a, id).await, Some(after_use));

    let mut appended = audit_event(&a, id, AuditAction::Read, "precise append");
    appended.at = precise(21, 5, east);
    c.ok(
        "appending an audit record at a microsecond time",
        store.append_audit(appended).await,
    );
    let mut activity = activity_event(
        Some(&a),
        id,
        22,
        ActivityKind::TokenIssued {
            jti: "jti-precise".to_owned(),
            scope: "read".to_owned(),
        },
    );
    activity.at = precise(22, 77, west);
    c.ok(
        "recording activity at a microsecond time",
        store.record_activity(activity.clone()).await,
    );
    let trail = audit_query(c, store, &a, Some(id), None, BIG).await;
    let times: Vec<OffsetDateTime> = trail.iter().map(|r| r.event.at).collect();
    c.eq(
        "audit times read back",
        times,
        vec![precise(19, 987_654, west), precise(21, 5, east)],
    );
    let entries = activity_query(c, store, &a, Some(id), None, BIG).await;
    c.eq(
        "activity read back",
        activity_events(&entries),
        vec![activity],
    );

    // Ordered by creation instant to the microsecond: a store that truncates
    // would order these two by id instead.
    let later = client(&a, "cc_time_a", precise(500, 2, east));
    let earlier = client(&a, "cc_time_b", precise(500, 1, west));
    for record in [&later, &earlier] {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }
    let listed = walk(c, store, query(&a, 1), "listing clients created 1 µs apart").await;
    let order = vec![
        "cc_time_01".to_owned(),
        "cc_time_b".to_owned(),
        "cc_time_a".to_owned(),
    ];
    c.eq(
        "clients created 1 µs apart, in pages of 1",
        ids(&listed),
        order,
    );
}

/// The number of writers [`concurrent_writers`] races.
const WRITERS: usize = 16;

/// A limit that reads everything the checks write.
const BIG: usize = 10_000;

/// Seconds after the fixtures' epoch at which listings compute status.
const NOW_SECS: i64 = 100_000;

/// A named check; its methods panic with the name and what differed.
#[derive(Debug, Clone, Copy)]
struct Check(&'static str);

/// The error a refused operation must return.
#[derive(Debug, Clone, Copy)]
enum Want {
    Conflict,
    NotFound,
    Duplicate,
    InvalidCursor,
    AnyError,
}

impl Want {
    fn matches(self, error: &StoreError) -> bool {
        match self {
            Self::Conflict => matches!(error, StoreError::Conflict),
            Self::NotFound => matches!(error, StoreError::NotFound),
            Self::Duplicate => matches!(error, StoreError::Duplicate),
            Self::InvalidCursor => matches!(error, StoreError::InvalidCursor),
            Self::AnyError => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Conflict => "StoreError::Conflict",
            Self::NotFound => "StoreError::NotFound",
            Self::Duplicate => "StoreError::Duplicate",
            Self::InvalidCursor => "StoreError::InvalidCursor",
            Self::AnyError => "an error",
        }
    }
}

impl Check {
    #[track_caller]
    fn fail(self, what: &str) -> ! {
        panic!("conformance check `{}` failed: {what}", self.0)
    }

    #[track_caller]
    fn that(self, what: &str, holds: bool) {
        if !holds {
            self.fail(what);
        }
    }

    #[track_caller]
    fn eq<T: PartialEq + Debug>(self, what: &str, actual: T, expected: T) {
        if actual != expected {
            self.fail(&format!(
                "{what}\n  expected: {expected:#?}\n  actual:   {actual:#?}"
            ));
        }
    }

    #[track_caller]
    fn ok<T>(self, what: &str, result: Result<T, StoreError>) -> T {
        match result {
            Ok(value) => value,
            Err(error) => self.fail(&format!("{what}: expected success, got {error:?}")),
        }
    }

    #[track_caller]
    fn err<T: Debug>(self, what: &str, result: Result<T, StoreError>, want: Want) {
        match result {
            Err(error) if want.matches(&error) => {}
            other => self.fail(&format!(
                "{what}: expected {}, got {other:?}",
                want.describe()
            )),
        }
    }
}

/// Everything a refused commit could have touched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    clients: Vec<(String, Option<ClientRecord>)>,
    audit_a: Vec<AuditRecord>,
    audit_b: Vec<AuditRecord>,
}

type Task<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every task on the calling task until all are done, in order.
async fn join_all<T>(tasks: Vec<Task<'_, T>>) -> Vec<T> {
    let mut slots: Vec<(Option<Task<'_, T>>, Option<T>)> =
        tasks.into_iter().map(|task| (Some(task), None)).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (task, output) in &mut slots {
            if let Some(future) = task {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *output = Some(value);
                        *task = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots
        .into_iter()
        .map(|(_, output)| output.expect("every task finished"))
        .collect()
}

/// The index of the only `Ok`; every other result must be a `loser` error.
#[track_caller]
fn single_winner(
    c: Check,
    what: &str,
    results: &[Result<(), StoreError>],
    loser: impl Fn(&StoreError) -> bool,
) -> usize {
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    if winners.len() != 1 {
        c.fail(&format!(
            "{what}: expected exactly one success, got {}",
            winners.len()
        ));
    }
    for result in results {
        if let Err(error) = result
            && !loser(error)
        {
            c.fail(&format!("{what}: a losing writer got {error:?}"));
        }
    }
    winners[0]
}

/// Commits, then checks the audit trail gained exactly the commit's event.
async fn commit_ok(c: Check, store: &dyn Store, commit: Commit, what: &str) {
    let tenant = commit.tenant().clone();
    let event = commit.audit().clone();
    let before = audit_query(c, store, &tenant, None, None, BIG).await;
    c.ok(what, store.commit(commit).await);
    let after = audit_query(c, store, &tenant, None, None, BIG).await;
    let mut expected = audit_events(&before);
    expected.push(event);
    let check = format!("{what}: the tenant's audit trail (the records before it, then its event)");
    c.eq(&check, audit_events(&after), expected);
    c.eq(
        &format!("{what}: the earlier audit records"),
        after[..before.len()].to_vec(),
        before,
    );
    increasing_seq(c, &format!("{what}: the audit trail"), &after);
}

/// Commits, expecting `want`, then checks that nothing changed.
async fn commit_refused(c: Check, store: &dyn Store, commit: Commit, want: Want, what: &str) {
    let ids: Vec<String> = commit
        .writes()
        .iter()
        .map(|write| match write {
            Write::Insert(record) | Write::Update { record, .. } => record.client_id.clone(),
            Write::Delete { client_id, .. } => client_id.clone(),
        })
        .collect();
    let before = snapshot(c, store, &ids).await;
    c.err(what, store.commit(commit).await, want);
    let after = snapshot(c, store, &ids).await;
    let check = format!(
        "{what}: the store after the refused commit \
         (it must write nothing, not even its audit record)"
    );
    c.eq(&check, after, before);
}

async fn snapshot(c: Check, store: &dyn Store, ids: &[String]) -> Snapshot {
    let mut clients = Vec::new();
    for id in ids {
        clients.push((id.clone(), read_any(c, store, id).await));
    }
    Snapshot {
        clients,
        audit_a: audit_query(c, store, &tenant_a(), None, None, BIG).await,
        audit_b: audit_query(c, store, &tenant_b(), None, None, BIG).await,
    }
}

async fn read(c: Check, store: &dyn Store, tenant: &TenantId, id: &str) -> Option<ClientRecord> {
    c.ok(
        &format!("reading client {id} in tenant {tenant}"),
        store.client(tenant, id).await,
    )
}

async fn read_any(c: Check, store: &dyn Store, id: &str) -> Option<ClientRecord> {
    let what = format!("reading client {id} for authentication");
    c.ok(&what, store.client_for_authentication(id).await)
}

async fn audit_query(
    c: Check,
    store: &dyn Store,
    tenant: &TenantId,
    client_id: Option<&str>,
    after_seq: Option<u64>,
    limit: usize,
) -> Vec<AuditRecord> {
    let query = AuditQuery {
        tenant: tenant.clone(),
        client_id: client_id.map(str::to_owned),
        after_seq,
        limit,
    };
    c.ok(
        &format!("reading the audit trail ({query:?})"),
        store.audit(&query).await,
    )
}

async fn activity_query(
    c: Check,
    store: &dyn Store,
    tenant: &TenantId,
    client_id: Option<&str>,
    after_seq: Option<u64>,
    limit: usize,
) -> Vec<ActivityRecord> {
    let query = ActivityQuery {
        tenant: tenant.clone(),
        client_id: client_id.map(str::to_owned),
        after_seq,
        limit,
    };
    c.ok(
        &format!("reading the activity log ({query:?})"),
        store.activity(&query).await,
    )
}

/// Reads every page of `query`, checking that pages are no larger than the
/// limit, that only the last page is short, and that no client repeats.
async fn walk(
    c: Check,
    store: &dyn Store,
    mut query: ClientQuery,
    what: &str,
) -> Vec<ClientRecord> {
    let mut listed: Vec<ClientRecord> = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let page = c.ok(what, store.list(&query).await);
        if page.clients.len() > query.limit {
            c.fail(&format!(
                "{what}: a page of {} clients for limit {}",
                page.clients.len(),
                query.limit
            ));
        }
        for record in &page.clients {
            if !seen.insert(record.client_id.clone()) {
                c.fail(&format!("{what}: client {} listed twice", record.client_id));
            }
        }
        let short = page.clients.len() < query.limit;
        listed.extend(page.clients);
        match page.next {
            None => return listed,
            Some(_) if short => {
                c.fail(&format!(
                    "{what}: a page shorter than the limit has a next cursor"
                ));
            }
            Some(next) => query.after = Some(next),
        }
    }
}

async fn all_clients(c: Check, store: &dyn Store, tenant: &TenantId) -> Vec<ClientRecord> {
    walk(c, store, query(tenant, 100), "listing every client").await
}

fn tenant_a() -> TenantId {
    TenantId::new("conformance-a").unwrap()
}

fn tenant_b() -> TenantId {
    TenantId::new("conformance-b").unwrap()
}

/// The fixtures' epoch (2001-01-01T00:00:00Z) plus `secs`.
fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(978_307_200 + secs).unwrap()
}

fn query(tenant: &TenantId, limit: usize) -> ClientQuery {
    ClientQuery {
        tenant: tenant.clone(),
        now: at(NOW_SECS),
        status: None,
        search: None,
        owner: None,
        limit,
        after: None,
    }
}

fn secret(secret_id: &str, created_at: OffsetDateTime) -> SecretRecord {
    SecretRecord {
        secret_id: secret_id.to_owned(),
        hash: SecretHash::from_stored(format!("hmac-sha256$v1$k1$conformance-{secret_id}")),
        display_prefix: "cs_live_ab12".to_owned(),
        label: "created".to_owned(),
        created_at,
        expires_at: None,
        grace_until: None,
        revoked_at: None,
        last_used_at: None,
    }
}

/// An active client with one active secret and nothing optional set.
fn client(tenant: &TenantId, client_id: &str, created_at: OffsetDateTime) -> ClientRecord {
    ClientRecord {
        tenant: tenant.clone(),
        client_id: client_id.to_owned(),
        name: format!("Client {client_id}"),
        description: String::new(),
        owner: None,
        created_by: "admin-1".to_owned(),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        audiences: vec!["https://api.example.com".to_owned()],
        extra_claims: BTreeMap::new(),
        token_lifetime_secs: None,
        status: ClientStatus::Active,
        grace_until: None,
        replaced_by: None,
        created_at,
        updated_at: created_at,
        last_used_at: None,
        version: 1,
        secrets: vec![secret(&format!("{client_id}-s1"), created_at)],
    }
}

/// A client with every field set, times in whole seconds and UTC.
fn full_client(tenant: &TenantId, client_id: &str) -> ClientRecord {
    let mut record = client(tenant, client_id, at(10));
    record.name = "Reporting \u{2014} Zahlungsverkehr \u{652f}\u{6255}".to_owned();
    record.description = "Reads invoices.\nLine two, with \"quotes\" and 'apostrophes'.".to_owned();
    record.owner = Some("alice".to_owned());
    record.created_by = "admin-2".to_owned();
    record.scopes = vec![
        "write".to_owned(),
        "read".to_owned(),
        "admin:all".to_owned(),
    ];
    record.audiences = vec![
        "https://b.example".to_owned(),
        "https://a.example".to_owned(),
    ];
    record.extra_claims = BTreeMap::from([
        (
            "roles".to_owned(),
            ClaimValue::List(vec!["reader".to_owned(), "auditor".to_owned()]),
        ),
        (
            "department".to_owned(),
            ClaimValue::Text("finance".to_owned()),
        ),
        ("internal".to_owned(), ClaimValue::Bool(true)),
        ("tier".to_owned(), ClaimValue::Integer(-3)),
        ("none".to_owned(), ClaimValue::List(Vec::new())),
    ]);
    record.token_lifetime_secs = Some(900);
    record.grace_until = Some(at(NOW_SECS * 3));
    record.replaced_by = Some("cc_read_next".to_owned());
    record.updated_at = at(20);
    record.last_used_at = Some(at(30));
    let mut old = secret(&format!("{client_id}-s1"), at(10));
    old.label = "created".to_owned();
    old.expires_at = Some(at(NOW_SECS * 4));
    old.grace_until = Some(at(NOW_SECS * 2));
    old.last_used_at = Some(at(25));
    let mut revoked = secret(&format!("{client_id}-s2"), at(12));
    revoked.label = "rotation 2".to_owned();
    revoked.display_prefix = "cs_live_cd34".to_owned();
    revoked.revoked_at = Some(at(13));
    let mut current = secret(&format!("{client_id}-s3"), at(14));
    current.label = "rotation 3".to_owned();
    current.display_prefix = "cs_live_ef56".to_owned();
    record.secrets = vec![old, revoked, current];
    record
}

fn audit_event(
    tenant: &TenantId,
    client_id: &str,
    action: AuditAction,
    detail: &str,
) -> AuditEvent {
    AuditEvent {
        at: at(1),
        actor: AuditActor::TenantAdmin {
            user: "admin-1".to_owned(),
        },
        tenant: tenant.clone(),
        client_id: Some(client_id.to_owned()),
        action,
        outcome: AuditOutcome::Success,
        detail: Some(detail.to_owned()),
    }
}

fn activity_event(
    tenant: Option<&TenantId>,
    client_id: &str,
    secs: i64,
    kind: ActivityKind,
) -> ActivityEvent {
    ActivityEvent {
        at: at(secs),
        tenant: tenant.cloned(),
        client_id: client_id.to_owned(),
        kind,
    }
}

fn insert(record: &ClientRecord) -> Commit {
    let id = &record.client_id;
    Commit::new(audit_event(
        &record.tenant,
        id,
        AuditAction::Create,
        &format!("create {id}"),
    ))
    .with(Write::Insert(record.clone()))
}

fn update(record: &ClientRecord, expected_version: u64) -> Commit {
    let id = &record.client_id;
    let detail = format!("update {id} from version {expected_version}");
    Commit::new(audit_event(
        &record.tenant,
        id,
        AuditAction::Update,
        &detail,
    ))
    .with(Write::Update {
        expected_version,
        record: record.clone(),
    })
}

fn delete(tenant: &TenantId, client_id: &str, expected_version: u64) -> Commit {
    let detail = format!("delete {client_id} at version {expected_version}");
    Commit::new(audit_event(tenant, client_id, AuditAction::Delete, &detail)).with(Write::Delete {
        client_id: client_id.to_owned(),
        expected_version,
    })
}

/// `record` as a store returns it at `version`.
fn stored(record: &ClientRecord, version: u64) -> ClientRecord {
    ClientRecord {
        version,
        ..record.clone()
    }
}

fn stored_all(records: &[ClientRecord]) -> Vec<ClientRecord> {
    records.iter().map(|r| stored(r, 1)).collect()
}

/// `tenant`'s fixtures at version 1, in listing order.
fn sorted_for(records: &[ClientRecord], tenant: &TenantId) -> Vec<ClientRecord> {
    let mut mine: Vec<ClientRecord> = records
        .iter()
        .filter(|r| &r.tenant == tenant)
        .map(|r| stored(r, 1))
        .collect();
    mine.sort_by(|x, y| (x.created_at, &x.client_id).cmp(&(y.created_at, &y.client_id)));
    mine
}

fn ids(records: &[ClientRecord]) -> Vec<String> {
    records.iter().map(|r| r.client_id.clone()).collect()
}

#[track_caller]
fn in_order(c: Check, what: &str, records: &[ClientRecord]) {
    for pair in records.windows(2) {
        let (x, y) = (&pair[0], &pair[1]);
        if (x.created_at, &x.client_id) >= (y.created_at, &y.client_id) {
            c.fail(&format!(
                "{what}: {} is listed before {}",
                x.client_id, y.client_id
            ));
        }
    }
}

fn audit_events(records: &[AuditRecord]) -> Vec<AuditEvent> {
    records.iter().map(|r| r.event.clone()).collect()
}

fn activity_events(records: &[ActivityRecord]) -> Vec<ActivityEvent> {
    records.iter().map(|r| r.event.clone()).collect()
}

/// Records that carry a sequence number.
trait Sequenced {
    fn seq(&self) -> u64;
}

impl Sequenced for AuditRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
}

impl Sequenced for ActivityRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
}

#[track_caller]
fn increasing_seq<R: Sequenced>(c: Check, what: &str, records: &[R]) {
    for pair in records.windows(2) {
        if pair[0].seq() >= pair[1].seq() {
            c.fail(&format!(
                "{what}: seq {} comes before seq {}",
                pair[0].seq(),
                pair[1].seq()
            ));
        }
    }
}
