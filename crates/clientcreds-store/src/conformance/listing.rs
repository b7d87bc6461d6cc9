//! Checks of client listings.

use time::{Duration, UtcOffset};

use crate::{ClientRecord, ClientStatus, Cursor, StatusFilter, Store, TenantId};

#[allow(clippy::wildcard_imports)]
use super::support::*;

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
        // Lowercasing beyond ASCII: the Kelvin sign lowercases to `k`.
        named(&a, "cc_srch_11", 110, "\u{212A}elvin Sync", None),
        named(&a, "cc_srch_12", 120, "ÜBER Dienst", None),
        named(&b, "cc_srch_b1", 15, "Billing in B", Some("alice")),
    ];
    for record in &fixtures {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }

    let cases: [(&str, Option<&str>, &[&str]); 13] = [
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
        ("SRCH_1", None, &["cc_srch_10", "cc_srch_11", "cc_srch_12"]),
        ("kelvin", None, &["cc_srch_11"]),
        ("über", None, &["cc_srch_12"]),
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
                "cc_srch_11",
                "cc_srch_12",
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
/// [`ClientQuery::now`](crate::ClientQuery::now), not at the store's clock. The fixtures include both
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
        // Suspended by the platform: listed as inactive.
        with("cc_stat_suspended", 45, &|r| {
            r.status = ClientStatus::Suspended;
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
            &[
                "cc_stat_inactive",
                "cc_stat_inactive_past_grace",
                "cc_stat_suspended",
            ],
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
/// [`StoreError::InvalidCursor`](crate::StoreError::InvalidCursor).
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
