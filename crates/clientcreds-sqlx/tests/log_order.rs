//! Paging the audit trail and the activity log by sequence number on
//! PostgreSQL never skips a row that commits late (issue 20).
//!
//! A sequence number is taken when a row is inserted, not when it commits:
//! without care, a slow transaction's row (number 1) commits after a quick
//! one's (number 2), a reader that paged in between holds cursor 2, and
//! row 1 is never read. A trigger installed by the test stalls the slow
//! writer between its insert and its commit (on an advisory lock the test
//! holds), so the interleaving is certain; every write and read goes
//! through the store's public API.
//!
//! The advisory locks are database-wide, so this binary has one test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use clientcreds_sqlx::PgStore;
use clientcreds_store::{
    ActivityEvent, ActivityKind, ActivityLog, ActivityQuery, AuditAction, AuditActor, AuditEvent,
    AuditLog, AuditOutcome, AuditQuery, TenantId,
};
use sqlx::Connection;
use time::OffsetDateTime;

const STALL_KEY: i64 = 770_077;

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn audit_event(detail: &str) -> AuditEvent {
    AuditEvent {
        at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        actor: AuditActor::System,
        tenant: tenant(),
        client_id: None,
        action: AuditAction::Update,
        outcome: AuditOutcome::Success,
        detail: Some(detail.to_owned()),
    }
}

fn activity_event(client_id: &str) -> ActivityEvent {
    ActivityEvent {
        at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        tenant: Some(tenant()),
        client_id: client_id.to_owned(),
        kind: ActivityKind::TokenDenied {
            reason: "bad_secret".into(),
        },
    }
}

/// Stalls, after its insert and before its commit, every transaction that
/// writes a row whose `column` is `slow`, while the test holds `STALL_KEY`.
async fn install_stall(store: &PgStore, table: &str, column: &str) {
    let function = format!("cc_stall_{table}");
    sqlx::query(&format!(
        "CREATE FUNCTION {function}() RETURNS trigger AS $$ BEGIN \
         IF NEW.{column} = 'slow' THEN \
           PERFORM pg_advisory_lock_shared({STALL_KEY}); \
           PERFORM pg_advisory_unlock_shared({STALL_KEY}); \
         END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
    ))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(&format!(
        "CREATE TRIGGER {function} AFTER INSERT ON {table} \
         FOR EACH ROW EXECUTE FUNCTION {function}()"
    ))
    .execute(store.pool())
    .await
    .unwrap();
}

/// Waits until `n` sessions wait for an advisory lock.
async fn waiting_for_locks(store: &PgStore, n: i64) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if waiting >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} sessions never waited for an advisory lock");
}

async fn audit_details(store: &PgStore, after: Option<u64>) -> (Vec<String>, Option<u64>) {
    let page = store
        .audit(&AuditQuery {
            tenant: tenant(),
            client_id: None,
            after_seq: after,
            limit: 100,
        })
        .await
        .unwrap();
    let last = page.last().map(|r| r.seq).or(after);
    (
        page.into_iter()
            .filter_map(|r| r.event.detail)
            .collect::<Vec<_>>(),
        last,
    )
}

async fn activity_clients(store: &PgStore, after: Option<u64>) -> (Vec<String>, Option<u64>) {
    let page = store
        .activity(&ActivityQuery {
            tenant: tenant(),
            client_id: None,
            after_seq: after,
            limit: 100,
        })
        .await
        .unwrap();
    let last = page.last().map(|r| r.seq).or(after);
    (page.into_iter().map(|r| r.event.client_id).collect(), last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_commit_is_never_skipped_by_a_reader_paging_by_sequence() {
    let store = Arc::new(common::postgres().await);
    install_stall(&store, "clientcreds_audit", "detail").await;
    install_stall(&store, "clientcreds_activity", "client_id").await;
    let options = common::database_url();
    let mut holder = sqlx::PgConnection::connect(&options).await.unwrap();

    // The audit trail.
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(STALL_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    let slow = tokio::spawn({
        let store = store.clone();
        async move { store.append_audit(audit_event("slow")).await }
    });
    waiting_for_locks(&store, 1).await; // slow: inserted, not committed
    let quick = tokio::spawn({
        let store = store.clone();
        async move { store.append_audit(audit_event("quick")).await }
    });
    // Give the quick writer every chance to commit ahead of the slow one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (first, cursor) = audit_details(&store, None).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(STALL_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    slow.await.unwrap().unwrap();
    quick.await.unwrap().unwrap();
    let (second, _) = audit_details(&store, cursor).await;
    let mut seen: Vec<String> = first.iter().chain(&second).cloned().collect();
    seen.sort();
    assert_eq!(
        seen,
        vec!["quick".to_owned(), "slow".to_owned()],
        "first page {first:?}, then after {cursor:?}: {second:?}"
    );

    // The activity log: a single event and a batch.
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(STALL_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    let slow = tokio::spawn({
        let store = store.clone();
        async move { store.record_activity(activity_event("slow")).await }
    });
    waiting_for_locks(&store, 1).await;
    let quick = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .record_activities(vec![activity_event("quick-1"), activity_event("quick-2")])
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (first, cursor) = activity_clients(&store, None).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(STALL_KEY)
        .execute(&mut holder)
        .await
        .unwrap();
    slow.await.unwrap().unwrap();
    quick.await.unwrap().unwrap();
    let (second, _) = activity_clients(&store, cursor).await;
    let mut seen: Vec<String> = first.iter().chain(&second).cloned().collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "quick-1".to_owned(),
            "quick-2".to_owned(),
            "slow".to_owned()
        ],
        "first page {first:?}, then after {cursor:?}: {second:?}"
    );

    // Many writers at once, a reader paging all along: every row is read
    // exactly once, in increasing sequence.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    store
                        .record_activities(vec![
                            activity_event(&format!("w{w}-{i}-a")),
                            activity_event(&format!("w{w}-{i}-b")),
                        ])
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let mut cursor = None;
    let mut read = Vec::new();
    let mut seqs = Vec::new();
    loop {
        let done = writers.iter().all(tokio::task::JoinHandle::is_finished);
        let page = store
            .activity(&ActivityQuery {
                tenant: tenant(),
                client_id: None,
                after_seq: cursor,
                limit: 7,
            })
            .await
            .unwrap();
        if page.is_empty() && done {
            break;
        }
        for record in page {
            seqs.push(record.seq);
            cursor = Some(record.seq);
            if record.event.client_id.starts_with('w') {
                read.push(record.event.client_id);
            }
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    read.sort();
    let total = read.len();
    read.dedup();
    assert_eq!(read.len(), total, "a row read twice");
    assert_eq!(total, 8 * 25 * 2, "rows skipped");
}
