//! Checks of the batch forms the warning runner uses:
//! [`ClientStore::clients_by_id`], [`WarningLedger::claim_warnings`],
//! [`WarningLedger::finish_warnings`], [`WarningLedger::set_warnings_due`]
//! and [`WarningLedger::sent_warnings_to`].
//!
//! [`ClientStore::clients_by_id`]: crate::ClientStore::clients_by_id

use super::support::{Check, at, client, commit_ok, insert, tenant_a, tenant_b};
use crate::{
    Claim, DueMove, DueWarning, Store, WarningFinish, WarningKey, WarningLedger, WarningOutcome,
    WarningState,
};

/// Checks that each batch form answers, item by item and in order, what
/// its one-at-a-time form would: clients by (tenant, id) (another
/// tenant's client is absent), claims (new, held, finished, lease over),
/// finishes (a stale attempt writes nothing), moves of the due instant
/// (only from the expected instant, only in the tenant) and sent counts.
pub async fn warnings_in_batches(store: &dyn Store, ledger: &dyn WarningLedger) {
    let c = Check("warnings_in_batches");
    let (a, b) = (tenant_a(), tenant_b());
    let mut records = Vec::new();
    for (tenant, id) in [(&a, "cc_wb_1"), (&a, "cc_wb_2"), (&b, "cc_wb_3")] {
        let mut record = client(tenant, id, at(1));
        record.secrets[0].warning_due = Some(at(100));
        commit_ok(c, store, insert(&record), "inserting a client").await;
        records.push(record);
    }

    let ids = [
        (a.clone(), "cc_wb_1".to_owned()),
        (b.clone(), "cc_wb_1".to_owned()),
        (a.clone(), "cc_wb_9".to_owned()),
        (b.clone(), "cc_wb_3".to_owned()),
        (a.clone(), "cc_wb_1".to_owned()),
    ];
    let many = c.ok("reading clients by id", store.clients_by_id(&ids).await);
    let mut one = Vec::new();
    for (tenant, id) in &ids {
        one.push(c.ok("reading a client", store.client(tenant, id).await));
    }
    c.eq("clients by id, against one by one", many.clone(), one);
    c.eq(
        "which clients were found",
        many.iter().map(Option::is_some).collect::<Vec<_>>(),
        vec![true, false, false, true, true],
    );

    let key = |client_id: &str| WarningKey {
        tenant: a.clone(),
        client_id: client_id.into(),
        secret_id: format!("{client_id}-s1"),
        stage_days: 7,
        recipient: "alice".into(),
    };
    let (k1, k2, k3) = (key("cc_wb_1"), key("cc_wb_2"), key("cc_wb_x"));
    c.ok("claiming k3", ledger.claim_warning(&k3, at(0), at(5)).await);
    c.ok(
        "finishing k3",
        ledger
            .finish_warning(&k3, 1, &WarningOutcome::Sent, at(1))
            .await,
    );
    c.ok(
        "claiming k2",
        ledger.claim_warning(&k2, at(10), at(20)).await,
    );
    let keys = [k3.clone(), k1.clone(), k2.clone()];
    c.eq(
        "a batch of claims: finished, new, held",
        c.ok(
            "claiming",
            ledger.claim_warnings(&keys, at(11), at(21)).await,
        ),
        vec![
            Claim::Finished,
            Claim::Claimed { attempt: 1 },
            Claim::Busy { until: at(20) },
        ],
    );
    c.eq(
        "a batch claim after the lease",
        c.ok(
            "claiming",
            ledger
                .claim_warnings(std::slice::from_ref(&k2), at(20), at(30))
                .await,
        ),
        vec![Claim::Claimed { attempt: 2 }],
    );
    c.eq(
        "an empty batch of claims",
        c.ok("claiming", ledger.claim_warnings(&[], at(20), at(30)).await),
        vec![],
    );

    let failed = WarningOutcome::Failed {
        reason: "smtp: refused".into(),
        retry_at: at(40),
    };
    let finishes = [
        WarningFinish {
            key: k2.clone(),
            attempt: 1,
            outcome: WarningOutcome::Sent,
        },
        WarningFinish {
            key: k1.clone(),
            attempt: 1,
            outcome: WarningOutcome::Sent,
        },
    ];
    c.eq(
        "a batch of finishes: a stale attempt, a current one",
        c.ok("finishing", ledger.finish_warnings(&finishes, at(22)).await),
        vec![false, true],
    );
    let retry = [WarningFinish {
        key: k2.clone(),
        attempt: 2,
        outcome: failed,
    }];
    c.eq(
        "a failure in a batch",
        c.ok("finishing", ledger.finish_warnings(&retry, at(23)).await),
        vec![true],
    );
    let k2_records = c.ok("reading", ledger.warnings(&a, "cc_wb_2").await);
    c.eq(
        "the failed warning waits for its retry",
        k2_records
            .iter()
            .map(|r| (r.state, r.attempts, r.next_attempt_at))
            .collect::<Vec<_>>(),
        vec![(WarningState::Pending, 2, at(40))],
    );

    let pairs = [
        (a.clone(), "alice".to_owned()),
        (b.clone(), "alice".to_owned()),
        (a.clone(), "nobody".to_owned()),
    ];
    let mut one = Vec::new();
    for (tenant, recipient) in &pairs {
        one.push(c.ok(
            "counting",
            ledger.sent_warnings(tenant, recipient, at(0)).await,
        ));
    }
    c.eq(
        "sent counts in a batch, against one by one",
        c.ok("counting", ledger.sent_warnings_to(&pairs, at(0)).await),
        one.clone(),
    );
    c.eq("sent counts", one, vec![2, 0, 0]);
    c.eq(
        "sent counts since after the sends",
        c.ok("counting", ledger.sent_warnings_to(&pairs, at(23)).await),
        vec![0, 0, 0],
    );

    let due = |tenant: &crate::TenantId, id: &str, secs: i64| DueWarning {
        tenant: tenant.clone(),
        client_id: id.into(),
        secret_id: format!("{id}-s1"),
        due_at: at(secs),
    };
    let moves = [
        DueMove {
            due: due(&a, "cc_wb_1", 100),
            next: Some(at(500)),
        },
        DueMove {
            due: due(&a, "cc_wb_2", 99),
            next: None,
        },
        DueMove {
            due: due(&a, "cc_wb_3", 100),
            next: None,
        },
    ];
    c.eq(
        "a batch of moves: expected, wrong instant, wrong tenant",
        c.ok("moving", ledger.set_warnings_due(&moves).await),
        vec![true, false, false],
    );
    c.eq(
        "due after the moves",
        c.ok("reading", ledger.due_warnings(at(200), 10).await)
            .into_iter()
            .map(|d| d.client_id)
            .collect::<Vec<_>>(),
        vec!["cc_wb_2".to_owned(), "cc_wb_3".to_owned()],
    );
    let last = [DueMove {
        due: due(&a, "cc_wb_2", 100),
        next: None,
    }];
    c.eq(
        "ending a schedule in a batch",
        c.ok("moving", ledger.set_warnings_due(&last).await),
        vec![true],
    );
    let _ = records;
}
