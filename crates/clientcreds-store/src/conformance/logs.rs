//! Checks of the audit trail and the activity log.

use crate::{
    ActivityEvent, ActivityKind, ActivityRecord, AuditAction, AuditActor, AuditEvent, AuditOutcome,
    AuditRecord, Store,
};

#[allow(clippy::wildcard_imports)]
use super::support::*;

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

/// Checks [`ActivityLog::record_activities`]: a batch lands in its order,
/// after what was there, with increasing sequence numbers, and an empty
/// batch writes nothing.
///
/// [`ActivityLog::record_activities`]: crate::ActivityLog::record_activities
pub async fn activity_batch(store: &dyn Store) {
    let c = Check("activity_batch");
    let a = tenant_a();
    let issued = |jti: &str| ActivityKind::TokenIssued {
        jti: jti.to_owned(),
        scope: "read".to_owned(),
    };
    let first = activity_event(Some(&a), "cc_bat_01", 1, issued("jti-0"));
    c.ok(
        "recording one entry",
        store.record_activity(first.clone()).await,
    );
    c.ok(
        "recording an empty batch",
        store.record_activities(Vec::new()).await,
    );
    // More than one multi-row statement's worth, with instants out of order.
    let batch: Vec<ActivityEvent> = (0..1_203)
        .map(|i| {
            let client = format!("cc_bat_{:02}", i % 7);
            activity_event(
                Some(&a),
                &client,
                1_000 - (i % 50),
                issued(&format!("jti-{i}")),
            )
        })
        .collect();
    c.ok(
        "recording a batch",
        store.record_activities(batch.clone()).await,
    );
    let all = activity_query(c, store, &a, None, None, BIG).await;
    let mut expected = vec![first];
    expected.extend(batch);
    c.eq(
        "the entries, in recording order",
        activity_events(&all),
        expected,
    );
    increasing_seq(c, "the batch's entries", &all);
}

/// Checks [`ActivityLog::prune_activity`]: it removes exactly the entries
/// strictly older than the cut-off, in every tenant (an entry at the
/// cut-off stays), returns how many, leaves the others' sequence numbers
/// alone, and later entries keep increasing numbers.
///
/// [`ActivityLog::prune_activity`]: crate::ActivityLog::prune_activity
pub async fn activity_retention(store: &dyn Store) {
    let c = Check("activity_retention");
    let (a, b) = (tenant_a(), tenant_b());
    let denied = ActivityKind::TokenDenied {
        reason: "bad_secret".to_owned(),
    };
    let events = vec![
        activity_event(Some(&a), "cc_ret_01", 10, denied.clone()),
        activity_event(Some(&b), "cc_ret_02", 5, denied.clone()),
        activity_event(Some(&a), "cc_ret_01", 30, denied.clone()),
        activity_event(Some(&a), "cc_ret_03", 20, denied.clone()),
        activity_event(Some(&a), "cc_ret_01", 19, denied.clone()),
        activity_event(None, "cc_unknown", 1, denied.clone()),
    ];
    c.ok(
        "recording entries",
        store.record_activities(events.clone()).await,
    );
    let before_a = activity_query(c, store, &a, None, None, BIG).await;
    let pruned = c.ok("pruning before 20 s", store.prune_activity(at(20)).await);
    c.eq("entries pruned", pruned, 4);
    let after_a = activity_query(c, store, &a, None, None, BIG).await;
    let kept: Vec<_> = before_a
        .iter()
        .filter(|r| r.event.at >= at(20))
        .cloned()
        .collect();
    c.eq(
        "tenant A's entries at or after the cut-off",
        after_a.clone(),
        kept,
    );
    let after_b = activity_query(c, store, &b, None, None, BIG).await;
    c.eq("tenant B's entries (all older)", after_b, vec![]);
    let again = c.ok("pruning again", store.prune_activity(at(20)).await);
    c.eq("entries pruned the second time", again, 0);
    let later = activity_event(Some(&a), "cc_ret_01", 40, denied);
    c.ok(
        "recording after pruning",
        store.record_activity(later).await,
    );
    let now_a = activity_query(c, store, &a, None, None, BIG).await;
    c.eq("entries after pruning and one more", now_a.len(), 3);
    increasing_seq(c, "entries after pruning", &now_a);
}

/// Checks [`AuditLog::prune_audit`]: it removes exactly the records
/// strictly older than the cut-off, in every tenant, and returns how many.
///
/// [`AuditLog::prune_audit`]: crate::AuditLog::prune_audit
pub async fn audit_retention(store: &dyn Store) {
    let c = Check("audit_retention");
    let (a, b) = (tenant_a(), tenant_b());
    let event = |tenant: &crate::TenantId, secs: i64| AuditEvent {
        at: at(secs),
        actor: AuditActor::System,
        tenant: tenant.clone(),
        client_id: None,
        action: AuditAction::Read,
        outcome: AuditOutcome::Refused {
            reason: "forbidden".to_owned(),
        },
        detail: None,
    };
    for (tenant, secs) in [(&a, 3), (&b, 4), (&a, 9), (&a, 8), (&b, 12)] {
        c.ok("appending", store.append_audit(event(tenant, secs)).await);
    }
    let pruned = c.ok("pruning before 9 s", store.prune_audit(at(9)).await);
    c.eq("records pruned", pruned, 3);
    let left_a = audit_query(c, store, &a, None, None, BIG).await;
    c.eq(
        "tenant A's records left",
        audit_events(&left_a),
        vec![event(&a, 9)],
    );
    let left_b = audit_query(c, store, &b, None, None, BIG).await;
    c.eq(
        "tenant B's records left",
        audit_events(&left_b),
        vec![event(&b, 12)],
    );
}
