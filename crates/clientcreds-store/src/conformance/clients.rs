//! Checks of client reads and writes.

use clientcreds_secret::SecretHash;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::{ActivityKind, AuditAction, ClientRecord, Commit, SecretUse, Store, StoreError, Write};

#[allow(clippy::wildcard_imports)]
use super::support::*;

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
