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
