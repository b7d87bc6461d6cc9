//! Checks of the expiry-warning ledger ([`WarningLedger`]).

use std::future::Future;

use time::Duration;

use super::support::{
    Check, Task, at, client, commit_ok, delete, insert, join_all, tenant_a, tenant_b, update,
};
use crate::{
    Claim, DueWarning, Store, StoreError, WarningKey, WarningLedger, WarningOutcome, WarningState,
};

/// Runs every warning-ledger check, each against a fresh, empty store made
/// by `make` (a store that is both a [`Store`] and a [`WarningLedger`]).
///
/// ```
/// use clientcreds_store::{MemoryStore, conformance};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// conformance::run_warning_ledger(|| async { MemoryStore::new() }).await;
/// # }
/// ```
pub async fn run_warning_ledger<S, F, Fut>(mut make: F)
where
    S: Store + WarningLedger,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let store = make().await;
    warnings_due_and_advance(&store, &store).await;
    let store = make().await;
    warnings_claim_and_finish(&store).await;
    let store = make().await;
    warnings_concurrent_claims(&store).await;
    let store = make().await;
    warnings_keyed_by_client(&store).await;
    let store = make().await;
    super::warnings_in_batches(&store, &store).await;
}

/// Checks that [`WarningLedger::due_warnings`] returns exactly the secrets
/// whose `warning_due` is at or before `now`, earliest first, at most
/// `limit`, in every tenant; that commits that change or delete a client
/// change what is due; and that [`WarningLedger::set_warning_due`] moves a
/// secret's instant only from the expected one, only in its tenant.
pub async fn warnings_due_and_advance(store: &dyn Store, ledger: &dyn WarningLedger) {
    let c = Check("warnings_due_and_advance");
    let (a, b) = (tenant_a(), tenant_b());
    let mut first = client(&a, "cc_warn_1", at(1));
    first.secrets[0].warning_due = Some(at(100));
    let mut second = client(&b, "cc_warn_2", at(2));
    second.secrets[0].warning_due = Some(at(50) + Duration::microseconds(1));
    let mut later = client(&a, "cc_warn_3", at(3));
    later.secrets[0].warning_due = Some(at(1_000));
    let none = client(&a, "cc_warn_4", at(4));
    for record in [&first, &second, &later, &none] {
        commit_ok(c, store, insert(record), "inserting a client").await;
    }
    let due = c.ok(
        "reading due warnings",
        ledger.due_warnings(at(100), 10).await,
    );
    c.eq(
        "due warnings at 100 s",
        due,
        vec![
            DueWarning {
                tenant: b.clone(),
                client_id: "cc_warn_2".into(),
                secret_id: "cc_warn_2-s1".into(),
                due_at: at(50) + Duration::microseconds(1),
            },
            DueWarning {
                tenant: a.clone(),
                client_id: "cc_warn_1".into(),
                secret_id: "cc_warn_1-s1".into(),
                due_at: at(100),
            },
        ],
    );
    c.eq(
        "due warnings with limit 1",
        c.ok("reading", ledger.due_warnings(at(100), 1).await).len(),
        1,
    );
    c.eq(
        "due warnings before any is due",
        c.ok("reading", ledger.due_warnings(at(50), 10).await),
        Vec::new(),
    );

    // set_warning_due: from the expected instant only, in its tenant only.
    c.eq(
        "moving from a wrong instant",
        c.ok(
            "moving",
            ledger
                .set_warning_due(&a, "cc_warn_1", "cc_warn_1-s1", at(99), Some(at(500)))
                .await,
        ),
        false,
    );
    c.eq(
        "moving in another tenant",
        c.ok(
            "moving",
            ledger
                .set_warning_due(&b, "cc_warn_1", "cc_warn_1-s1", at(100), Some(at(500)))
                .await,
        ),
        false,
    );
    c.eq(
        "moving from the expected instant",
        c.ok(
            "moving",
            ledger
                .set_warning_due(&a, "cc_warn_1", "cc_warn_1-s1", at(100), Some(at(500)))
                .await,
        ),
        true,
    );
    c.eq(
        "clearing",
        c.ok(
            "clearing",
            ledger
                .set_warning_due(
                    &b,
                    "cc_warn_2",
                    "cc_warn_2-s1",
                    at(50) + Duration::microseconds(1),
                    None,
                )
                .await,
        ),
        true,
    );
    let due = c.ok("reading", ledger.due_warnings(at(600), 10).await);
    c.eq(
        "due after moving and clearing",
        due.iter()
            .map(|d| (d.client_id.clone(), d.due_at))
            .collect::<Vec<_>>(),
        vec![("cc_warn_1".to_owned(), at(500))],
    );
    let stored = c
        .ok("reading", store.client(&a, "cc_warn_1").await)
        .unwrap();
    c.eq(
        "the moved instant reads back",
        stored.secrets[0].warning_due,
        Some(at(500)),
    );
    c.eq("a moved instant keeps the version", stored.version, 1);

    // Commits change what is due.
    let mut changed = stored.clone();
    changed.secrets[0].warning_due = Some(at(20));
    commit_ok(c, store, update(&changed, 1), "updating a client").await;
    commit_ok(c, store, delete(&a, "cc_warn_3", 1), "deleting a client").await;
    let due = c.ok("reading", ledger.due_warnings(at(2_000), 10).await);
    c.eq(
        "due after an update and a delete",
        due.iter()
            .map(|d| (d.client_id.clone(), d.due_at))
            .collect::<Vec<_>>(),
        vec![("cc_warn_1".to_owned(), at(20))],
    );
}

/// Checks claims: the first claim of a warning wins with attempt 1; while
/// its lease runs, claims are [`Claim::Busy`] until the lease's end; after
/// it, a new claim wins with attempt 2 and the stale attempt can no longer
/// finish it. A failure makes it busy until its retry instant; a send or an
/// undeliverable recipient finishes it for good ([`Claim::Finished`]). The
/// records read back for their client only, in order.
pub async fn warnings_claim_and_finish(ledger: &dyn WarningLedger) {
    let c = Check("warnings_claim_and_finish");
    let key = |recipient: &str, stage: u32| WarningKey {
        tenant: tenant_a(),
        client_id: "cc_claim".into(),
        secret_id: "cc_claim-s1".into(),
        stage_days: stage,
        recipient: recipient.into(),
    };
    let alice = key("alice", 7);
    c.eq(
        "a first claim",
        c.ok(
            "claiming",
            ledger.claim_warning(&alice, at(0), at(60)).await,
        ),
        Claim::Claimed { attempt: 1 },
    );
    c.eq(
        "a claim during the lease",
        c.ok(
            "claiming",
            ledger.claim_warning(&alice, at(30), at(90)).await,
        ),
        Claim::Busy { until: at(60) },
    );
    c.eq(
        "a claim after the lease",
        c.ok(
            "claiming",
            ledger.claim_warning(&alice, at(60), at(120)).await,
        ),
        Claim::Claimed { attempt: 2 },
    );
    c.eq(
        "finishing with the stale attempt",
        c.ok(
            "finishing",
            ledger
                .finish_warning(&alice, 1, &WarningOutcome::Sent, at(61))
                .await,
        ),
        false,
    );
    let failed = WarningOutcome::Failed {
        reason: "smtp: connection refused".into(),
        retry_at: at(300),
    };
    c.eq(
        "a failure",
        c.ok(
            "finishing",
            ledger.finish_warning(&alice, 2, &failed, at(62)).await,
        ),
        true,
    );
    c.eq(
        "a claim during the backoff",
        c.ok(
            "claiming",
            ledger.claim_warning(&alice, at(200), at(260)).await,
        ),
        Claim::Busy { until: at(300) },
    );
    c.eq(
        "a claim after the backoff",
        c.ok(
            "claiming",
            ledger.claim_warning(&alice, at(300), at(360)).await,
        ),
        Claim::Claimed { attempt: 3 },
    );
    c.eq(
        "a send",
        c.ok(
            "finishing",
            ledger
                .finish_warning(&alice, 3, &WarningOutcome::Sent, at(301))
                .await,
        ),
        true,
    );
    c.eq(
        "a claim of a sent warning, however late",
        c.ok(
            "claiming",
            ledger.claim_warning(&alice, at(10_000), at(10_060)).await,
        ),
        Claim::Finished,
    );
    c.eq(
        "finishing a sent warning again",
        c.ok(
            "finishing",
            ledger
                .finish_warning(&alice, 3, &WarningOutcome::Sent, at(302))
                .await,
        ),
        false,
    );
    // Another recipient and another stage are other warnings.
    let bob = key("bob", 7);
    c.eq(
        "another recipient",
        c.ok("claiming", ledger.claim_warning(&bob, at(0), at(60)).await),
        Claim::Claimed { attempt: 1 },
    );
    let nobody = WarningOutcome::Undeliverable {
        reason: "not in the directory".into(),
    };
    c.ok(
        "finishing",
        ledger.finish_warning(&bob, 1, &nobody, at(1)).await,
    );
    c.eq(
        "a claim of an undeliverable warning",
        c.ok(
            "claiming",
            ledger.claim_warning(&bob, at(100), at(160)).await,
        ),
        Claim::Finished,
    );
    let alice_0 = key("alice", 0);
    c.eq(
        "another stage",
        c.ok(
            "claiming",
            ledger.claim_warning(&alice_0, at(0), at(60)).await,
        ),
        Claim::Claimed { attempt: 1 },
    );
    let mut other_tenant = key("carol", 1);
    other_tenant.tenant = tenant_b();
    other_tenant.client_id = "cc_claim_b".into();
    other_tenant.secret_id = "cc_claim_b-s1".into();
    c.ok(
        "claiming",
        ledger.claim_warning(&other_tenant, at(0), at(60)).await,
    );

    let records = c.ok(
        "reading records",
        ledger.warnings(&tenant_a(), "cc_claim").await,
    );
    c.eq(
        "records: key, state, attempts, detail",
        records
            .iter()
            .map(|r| {
                (
                    r.key.stage_days,
                    r.key.recipient.clone(),
                    r.state,
                    r.attempts,
                    r.detail.clone(),
                )
            })
            .collect::<Vec<_>>(),
        vec![
            (7, "alice".to_owned(), WarningState::Sent, 3, String::new()),
            (
                7,
                "bob".to_owned(),
                WarningState::Undeliverable,
                1,
                "not in the directory".to_owned(),
            ),
            (
                0,
                "alice".to_owned(),
                WarningState::Pending,
                1,
                String::new(),
            ),
        ],
    );
    c.eq("sent at", records[0].updated_at, at(301));
    c.eq(
        "no records in another tenant",
        c.ok(
            "reading records",
            ledger.warnings(&tenant_b(), "cc_claim").await,
        ),
        Vec::new(),
    );
}

/// Checks that the ledger keys a warning by tenant and client as well as
/// by secret, stage and recipient: a secret id is unique within its client
/// only, so another client's secret with the same id (in the same tenant or
/// another) has warnings of its own, which a send of the first never
/// finishes. Also checks [`WarningLedger::sent_warnings`]: it counts the
/// sends to a recipient in one tenant since an instant, and nothing else.
pub async fn warnings_keyed_by_client(ledger: &dyn WarningLedger) {
    let c = Check("warnings_keyed_by_client");
    let first = WarningKey {
        tenant: tenant_a(),
        client_id: "cc_twin_1".into(),
        secret_id: "cc_twin-s1".into(),
        stage_days: 7,
        recipient: "alice".into(),
    };
    let mut same_tenant = first.clone();
    same_tenant.client_id = "cc_twin_2".into();
    let mut other_tenant = first.clone();
    other_tenant.tenant = tenant_b();
    c.eq(
        "a first claim",
        c.ok(
            "claiming",
            ledger.claim_warning(&first, at(0), at(60)).await,
        ),
        Claim::Claimed { attempt: 1 },
    );
    c.eq(
        "a send",
        c.ok(
            "finishing",
            ledger
                .finish_warning(&first, 1, &WarningOutcome::Sent, at(1))
                .await,
        ),
        true,
    );
    c.eq(
        "another client's secret with the same id",
        c.ok(
            "claiming",
            ledger.claim_warning(&same_tenant, at(2), at(60)).await,
        ),
        Claim::Claimed { attempt: 1 },
    );
    c.eq(
        "the same client id and secret id in another tenant",
        c.ok(
            "claiming",
            ledger.claim_warning(&other_tenant, at(2), at(60)).await,
        ),
        Claim::Claimed { attempt: 1 },
    );
    c.eq(
        "finishing the first client's claim does not touch the second's",
        c.ok(
            "finishing",
            ledger
                .finish_warning(&first, 1, &WarningOutcome::Sent, at(3))
                .await,
        ),
        false,
    );
    c.ok(
        "finishing",
        ledger
            .finish_warning(&same_tenant, 1, &WarningOutcome::Sent, at(10))
            .await,
    );
    for (client, records) in [("cc_twin_1", 1), ("cc_twin_2", 1)] {
        c.eq(
            "each client reads its own records",
            c.ok(
                "reading records",
                ledger.warnings(&tenant_a(), client).await,
            )
            .len(),
            records,
        );
    }
    c.eq(
        "sends to alice in tenant a",
        c.ok(
            "counting",
            ledger.sent_warnings(&tenant_a(), "alice", at(0)).await,
        ),
        2,
    );
    c.eq(
        "sends to alice in tenant a since the second",
        c.ok(
            "counting",
            ledger.sent_warnings(&tenant_a(), "alice", at(5)).await,
        ),
        1,
    );
    c.eq(
        "a pending warning is not a send",
        c.ok(
            "counting",
            ledger.sent_warnings(&tenant_b(), "alice", at(0)).await,
        ),
        0,
    );
    c.eq(
        "another recipient",
        c.ok(
            "counting",
            ledger.sent_warnings(&tenant_a(), "bob", at(0)).await,
        ),
        0,
    );
}

/// Checks that of several runners claiming one warning at once, exactly
/// one gets it.
pub async fn warnings_concurrent_claims(ledger: &dyn WarningLedger) {
    const RUNNERS: usize = 8;
    let c = Check("warnings_concurrent_claims");
    let key = WarningKey {
        tenant: tenant_a(),
        client_id: "cc_race".into(),
        secret_id: "cc_race-s1".into(),
        stage_days: 30,
        recipient: "alice".into(),
    };
    let tasks: Vec<Task<'_, Result<Claim, StoreError>>> = (0..RUNNERS)
        .map(|_| {
            let key = key.clone();
            Box::pin(async move { ledger.claim_warning(&key, at(0), at(60)).await }) as Task<'_, _>
        })
        .collect();
    let results: Vec<Claim> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| c.ok("claiming concurrently", r))
        .collect();
    c.eq(
        "claims won",
        results
            .iter()
            .filter(|r| matches!(r, Claim::Claimed { .. }))
            .count(),
        1,
    );
    c.that(
        "every other claim is busy until the lease's end",
        results
            .iter()
            .all(|r| matches!(r, Claim::Claimed { attempt: 1 } | Claim::Busy { .. })),
    );
}
