//! Checks of the activity log's aggregate: [`ActivityLog::add_activity_counts`],
//! [`ActivityLog::activity_counts`], [`ActivityLog::prune_activity_counts`].
//!
//! [`ActivityLog::add_activity_counts`]: crate::ActivityLog::add_activity_counts
//! [`ActivityLog::activity_counts`]: crate::ActivityLog::activity_counts
//! [`ActivityLog::prune_activity_counts`]: crate::ActivityLog::prune_activity_counts

use crate::{ActivityCount, ActivityCountQuery, CountedOutcome, Store, TenantId};

use super::support::{BIG, Check, Task, at, join_all, tenant_a, tenant_b};

/// Concurrent adders [`activity_counts_concurrent`] races.
const ADDERS: usize = 8;

fn count(
    tenant: &TenantId,
    client_id: &str,
    secret_id: Option<&str>,
    source: Option<&str>,
    secs: i64,
    outcome: &CountedOutcome,
    n: u64,
) -> ActivityCount {
    ActivityCount {
        tenant: tenant.clone(),
        client_id: client_id.to_owned(),
        secret_id: secret_id.map(str::to_owned),
        source: source.map(str::to_owned),
        minute: ActivityCount::minute_of(at(secs)),
        outcome: outcome.clone(),
        count: n,
    }
}

async fn read(
    c: Check,
    store: &dyn Store,
    tenant: &TenantId,
    client_id: Option<&str>,
    since: Option<i64>,
    until: Option<i64>,
    limit: usize,
) -> Vec<ActivityCount> {
    let query = ActivityCountQuery {
        tenant: tenant.clone(),
        client_id: client_id.map(str::to_owned),
        since: since.map(at),
        until: until.map(at),
        limit,
    };
    c.ok(
        "reading activity counts",
        store.activity_counts(&query).await,
    )
}

/// Checks that counts with the same key add up (in one batch and across
/// batches), that reads keep to the tenant, the client and the time range,
/// in the documented order (minute, client, secret, source, issued before
/// refusals), and that `limit` holds.
pub async fn activity_counts(store: &dyn Store) {
    let c = Check("activity_counts");
    let (a, b) = (tenant_a(), tenant_b());
    let issued = CountedOutcome::Issued;
    let scope = CountedOutcome::Denied {
        reason: "invalid_scope".to_owned(),
    };
    c.ok(
        "adding an empty batch",
        store.add_activity_counts(Vec::new()).await,
    );
    c.ok(
        "adding counts",
        store
            .add_activity_counts(vec![
                count(
                    &a,
                    "cc_cnt_02",
                    Some("s1"),
                    Some("192.0.2.1"),
                    61,
                    &issued,
                    3,
                ),
                count(
                    &a,
                    "cc_cnt_01",
                    Some("s2"),
                    Some("192.0.2.1"),
                    70,
                    &issued,
                    2,
                ),
                count(
                    &a,
                    "cc_cnt_01",
                    Some("s1"),
                    Some("192.0.2.9"),
                    65,
                    &issued,
                    1,
                ),
                count(
                    &a,
                    "cc_cnt_01",
                    Some("s1"),
                    Some("192.0.2.1"),
                    62,
                    &scope,
                    4,
                ),
                count(
                    &a,
                    "cc_cnt_01",
                    Some("s1"),
                    Some("192.0.2.1"),
                    119,
                    &issued,
                    5,
                ),
                count(&b, "cc_cnt_09", None, None, 61, &issued, 7),
                // Same key as the fifth (same minute): adds to it.
                count(
                    &a,
                    "cc_cnt_01",
                    Some("s1"),
                    Some("192.0.2.1"),
                    60,
                    &issued,
                    1,
                ),
                count(&a, "cc_cnt_01", None, None, 10, &issued, 1),
            ])
            .await,
    );
    c.ok(
        "adding to stored counts",
        store
            .add_activity_counts(vec![
                count(
                    &a,
                    "cc_cnt_02",
                    Some("s1"),
                    Some("192.0.2.1"),
                    100,
                    &issued,
                    10,
                ),
                count(&a, "cc_cnt_01", None, None, 0, &issued, 2),
            ])
            .await,
    );
    let all_a = read(c, store, &a, None, None, None, BIG).await;
    let expected = vec![
        count(&a, "cc_cnt_01", None, None, 0, &issued, 3),
        count(
            &a,
            "cc_cnt_01",
            Some("s1"),
            Some("192.0.2.1"),
            60,
            &issued,
            6,
        ),
        count(
            &a,
            "cc_cnt_01",
            Some("s1"),
            Some("192.0.2.1"),
            60,
            &scope,
            4,
        ),
        count(
            &a,
            "cc_cnt_01",
            Some("s1"),
            Some("192.0.2.9"),
            60,
            &issued,
            1,
        ),
        count(
            &a,
            "cc_cnt_01",
            Some("s2"),
            Some("192.0.2.1"),
            60,
            &issued,
            2,
        ),
        count(
            &a,
            "cc_cnt_02",
            Some("s1"),
            Some("192.0.2.1"),
            60,
            &issued,
            13,
        ),
    ];
    c.eq(
        "tenant A's counts, added up, in order",
        all_a.clone(),
        expected,
    );
    c.eq(
        "tenant B's counts",
        read(c, store, &b, None, None, None, BIG).await,
        vec![count(&b, "cc_cnt_09", None, None, 60, &issued, 7)],
    );
    c.eq(
        "tenant A's counts of cc_cnt_02",
        read(c, store, &a, Some("cc_cnt_02"), None, None, BIG).await,
        all_a[5..].to_vec(),
    );
    c.eq(
        "tenant B's counts of tenant A's client",
        read(c, store, &b, Some("cc_cnt_01"), None, None, BIG).await,
        vec![],
    );
    c.eq(
        "counts of minutes from 60 s",
        read(c, store, &a, None, Some(60), None, BIG).await,
        all_a[1..].to_vec(),
    );
    c.eq(
        "counts of minutes before 60 s",
        read(c, store, &a, None, None, Some(60), BIG).await,
        all_a[..1].to_vec(),
    );
    c.eq(
        "counts of minutes from 1 s (the minute at 0 s starts before)",
        read(c, store, &a, None, Some(1), None, BIG).await,
        all_a[1..].to_vec(),
    );
    c.eq(
        "the first two counts (limit 2)",
        read(c, store, &a, None, None, None, 2).await,
        all_a[..2].to_vec(),
    );
}

/// Checks that concurrent additions to the same key lose nothing (two
/// replicas flushing the same client's minute at once).
pub async fn activity_counts_concurrent(store: &dyn Store) {
    let c = Check("activity_counts_concurrent");
    let a = tenant_a();
    let issued = CountedOutcome::Issued;
    let tasks: Vec<Task<'_, _>> = (0..ADDERS)
        .map(|i| -> Task<'_, _> {
            // Overlapping keys, in different orders per adder.
            let mut batch: Vec<ActivityCount> = (0..5_i64)
                .map(|k| count(&a, &format!("cc_cnc_{k}"), Some("s"), None, 0, &issued, 1))
                .collect();
            if i % 2 == 1 {
                batch.reverse();
            }
            Box::pin(store.add_activity_counts(batch))
        })
        .collect();
    for result in join_all(tasks).await {
        c.ok("adding concurrently", result);
    }
    let all = read(c, store, &a, None, None, None, BIG).await;
    let expected: Vec<ActivityCount> = (0..5_i64)
        .map(|k| {
            let n = u64::try_from(ADDERS).unwrap();
            count(&a, &format!("cc_cnc_{k}"), Some("s"), None, 0, &issued, n)
        })
        .collect();
    c.eq("every addition counted", all, expected);
}

/// Checks [`ActivityLog::prune_activity_counts`]: it removes exactly the
/// counts whose minute starts strictly before the cut-off, in every
/// tenant, and returns how many.
///
/// [`ActivityLog::prune_activity_counts`]: crate::ActivityLog::prune_activity_counts
pub async fn activity_counts_retention(store: &dyn Store) {
    let c = Check("activity_counts_retention");
    let (a, b) = (tenant_a(), tenant_b());
    let issued = CountedOutcome::Issued;
    let batch = vec![
        count(&a, "cc_cre_01", None, None, 0, &issued, 1),
        count(&b, "cc_cre_02", None, None, 59, &issued, 1),
        count(&a, "cc_cre_01", None, None, 120, &issued, 1),
        count(&b, "cc_cre_02", None, None, 180, &issued, 1),
    ];
    c.ok("adding counts", store.add_activity_counts(batch).await);
    let pruned = c.ok(
        "pruning before 120 s",
        store.prune_activity_counts(at(120)).await,
    );
    c.eq("counts pruned", pruned, 2);
    c.eq(
        "tenant A's counts left",
        read(c, store, &a, None, None, None, BIG).await,
        vec![count(&a, "cc_cre_01", None, None, 120, &issued, 1)],
    );
    c.eq(
        "tenant B's counts left",
        read(c, store, &b, None, None, None, BIG).await,
        vec![count(&b, "cc_cre_02", None, None, 180, &issued, 1)],
    );
    let again = c.ok("pruning again", store.prune_activity_counts(at(120)).await);
    c.eq("counts pruned the second time", again, 0);
}
