//! The batched activity writer behind the token endpoint, the counters of
//! unauthenticated refusals, and retention.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
use clientcreds_registry::{
    ActivityWriterOptions, Actor, BatchedActivity, Credentials, ExchangeRequest, ManualClock,
    NewClient, Policy, Registry, TokenService,
};
use clientcreds_secret::Secret;
use clientcreds_store::{
    ActivityEvent, ActivityKind, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog,
    AuditQuery, AuditRecord, ClientPage, ClientQuery, ClientRecord, ClientStore, Commit,
    MemoryStore, SecretUse, Store, StoreError, TenantId,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Semaphore;

/// A memory store whose activity writes wait for a permit (when gated)
/// or a pause, and are counted.
#[derive(Debug)]
struct SlowActivity {
    inner: MemoryStore,
    gate: Option<Arc<Semaphore>>,
    pause: StdDuration,
    writes: AtomicUsize,
}

impl SlowActivity {
    fn new(gate: Option<Arc<Semaphore>>, pause: StdDuration) -> Self {
        Self {
            inner: MemoryStore::new(),
            gate,
            pause,
            writes: AtomicUsize::new(0),
        }
    }

    async fn entries(&self, tenant: &TenantId) -> Vec<ActivityRecord> {
        let query = ActivityQuery {
            tenant: tenant.clone(),
            client_id: None,
            after_seq: None,
            limit: 100_000,
        };
        self.inner.activity(&query).await.unwrap()
    }
}

#[async_trait]
impl ClientStore for SlowActivity {
    async fn client(&self, t: &TenantId, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.client(t, id).await
    }
    async fn client_for_authentication(
        &self,
        id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.client_for_authentication(id).await
    }
    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        self.inner.list(query).await
    }
    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.inner.commit(commit).await
    }
    async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
        self.inner.record_use(usage).await
    }
}

#[async_trait]
impl AuditLog for SlowActivity {
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.inner.append_audit(event).await
    }
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(query).await
    }
}

#[async_trait]
impl ActivityLog for SlowActivity {
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
        self.record_activities(vec![event]).await
    }
    async fn record_activities(&self, events: Vec<ActivityEvent>) -> Result<(), StoreError> {
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        tokio::time::sleep(self.pause).await;
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.record_activities(events).await
    }
    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
        self.inner.activity(query).await
    }
}

struct Setup {
    registry: Arc<Registry>,
    tokens: TokenService,
    writer: Arc<BatchedActivity>,
}

fn setup(inner: Arc<dyn Store>, options: ActivityWriterOptions) -> Setup {
    let writer = BatchedActivity::spawn(inner, options);
    let registry =
        Arc::new(Registry::new(writer.clone(), common::hasher(), Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys, "https://issuer.test"),
        "https://api.test",
    );
    Setup {
        registry,
        tokens,
        writer,
    }
}

async fn client(s: &Setup, name: &str) -> Credentials {
    s.registry
        .create(&Actor::System, &tenant(), NewClient::named(name))
        .await
        .unwrap()
        .credentials
}

fn tenant() -> TenantId {
    TenantId::new("activity").unwrap()
}

async fn exchange(s: &Setup, creds: &Credentials) -> String {
    s.tokens
        .exchange(ExchangeRequest::client_credentials(
            creds.client_id.clone(),
            Secret::from(creds.client_secret.expose_secret()),
        ))
        .await
        .expect("token issued")
        .jti
}

fn jtis(records: &[ActivityRecord], client_id: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.event.client_id == client_id)
        .map(|r| match &r.event.kind {
            ActivityKind::TokenIssued { jti, .. } => jti.clone(),
            other => panic!("unexpected entry {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_keep_their_order_within_each_client() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::from_millis(1)));
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default().with_max_batch(7),
    );
    let clients = [
        client(&s, "a").await,
        client(&s, "b").await,
        client(&s, "c").await,
    ];
    let mut issued: Vec<Vec<String>> = vec![Vec::new(); 3];
    for round in 0..40 {
        for (i, creds) in clients.iter().enumerate() {
            if (round + i) % 2 == 0 || i == 0 {
                issued[i].push(exchange(&s, creds).await);
            }
        }
    }
    s.writer.close().await;
    let entries = store.entries(&tenant()).await;
    for (i, creds) in clients.iter().enumerate() {
        assert_eq!(jtis(&entries, &creds.client_id), issued[i], "client {i}");
    }
    let stats = s.writer.stats();
    assert_eq!(stats.dropped, 0);
    assert_eq!(
        stats.written,
        issued.iter().map(Vec::len).sum::<usize>() as u64
    );
    assert!(
        stats.batches < stats.written,
        "entries were written several per batch: {stats:?}"
    );
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_entries_and_never_fails_a_token() {
    let gate = Arc::new(Semaphore::new(0));
    let store = Arc::new(SlowActivity::new(Some(gate.clone()), StdDuration::ZERO));
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default()
            .with_queue_capacity(4)
            .with_max_batch(1),
    );
    let creds = client(&s, "busy").await;
    for _ in 0..20 {
        // Every token is issued, whatever the queue.
        exchange(&s, &creds).await;
    }
    // Let the writer through, and write what is queued.
    gate.add_permits(1_000);
    s.writer.close().await;
    let stats = s.writer.stats();
    let stored = store.entries(&tenant()).await.len() as u64;
    assert_eq!(stats.written, stored);
    assert_eq!(stats.written + stats.dropped, 20, "{stats:?}");
    assert!(stats.dropped >= 15, "at most 1 + 4 entries fit: {stats:?}");
    // After close, entries are dropped (counted), tokens still issued.
    exchange(&s, &creds).await;
    assert_eq!(s.writer.stats().dropped, stats.dropped + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_writes_everything_queued() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::from_millis(50)));
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default().with_max_batch(2),
    );
    let creds = client(&s, "svc").await;
    let mut issued = Vec::new();
    for _ in 0..10 {
        issued.push(exchange(&s, &creds).await);
    }
    let before = store.entries(&tenant()).await.len();
    assert!(before < 10, "the writer is still busy ({before} written)");
    s.writer.close().await;
    let entries = store.entries(&tenant()).await;
    assert_eq!(jtis(&entries, &creds.client_id), issued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_through_the_writer_sees_its_own_entries() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::from_millis(20)));
    let s = setup(store.clone(), ActivityWriterOptions::default());
    let creds = client(&s, "svc").await;
    let jti = exchange(&s, &creds).await;
    let query = ActivityQuery {
        tenant: tenant(),
        client_id: Some(creds.client_id.clone()),
        after_seq: None,
        limit: 10,
    };
    let read = s.writer.activity(&query).await.unwrap();
    assert_eq!(jtis(&read, &creds.client_id), [jti]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_authenticate_no_client_are_counted_not_stored() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::ZERO));
    let s = setup(store.clone(), ActivityWriterOptions::default());
    let creds = client(&s, "svc").await;
    let unknown = format!("{}x", &creds.client_id[..creds.client_id.len() - 1]);
    for _ in 0..5 {
        let refused = s
            .tokens
            .exchange(ExchangeRequest::client_credentials(
                unknown.clone(),
                Secret::from(creds.client_secret.expose_secret()),
            ))
            .await;
        assert!(refused.is_err());
    }
    let no_credentials = s.tokens.exchange(ExchangeRequest::default()).await;
    assert!(no_credentials.is_err());
    s.writer.close().await;
    assert_eq!(store.writes.load(Ordering::SeqCst), 0, "nothing written");
    let counts = s.tokens.unauthenticated_refusals();
    assert_eq!(counts.by_reason().get("unknown_client"), Some(&5));
    assert_eq!(counts.by_reason().get("missing_grant_type"), Some(&1));
    assert_eq!(counts.total(), 6);
}

#[tokio::test]
async fn retention_prunes_activity_older_than_the_age_and_audit_only_when_asked() {
    let store = Arc::new(MemoryStore::new());
    let start = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let registry = Registry::new(store.clone(), common::hasher(), Policy::default())
        .unwrap()
        .with_clock(clock.clone());
    let t = tenant();
    let event = |at: OffsetDateTime, jti: &str| ActivityEvent {
        at,
        tenant: Some(t.clone()),
        client_id: "c".to_owned(),
        kind: ActivityKind::TokenIssued {
            jti: jti.to_owned(),
            scope: String::new(),
        },
    };
    let cutoff = start + Duration::days(1);
    store
        .record_activities(vec![
            event(cutoff - Duration::microseconds(1), "old"),
            event(cutoff, "at-cutoff"),
            event(cutoff + Duration::days(3), "new"),
        ])
        .await
        .unwrap();
    registry
        .create(&Actor::System, &t, NewClient::named("audited"))
        .await
        .unwrap();
    clock.set(cutoff + clientcreds_registry::DEFAULT_ACTIVITY_RETENTION);
    let pruned = registry
        .prune_activity(clientcreds_registry::DEFAULT_ACTIVITY_RETENTION)
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    let query = ActivityQuery {
        tenant: t.clone(),
        client_id: None,
        after_seq: None,
        limit: 10,
    };
    let left: Vec<String> = store
        .activity(&query)
        .await
        .unwrap()
        .iter()
        .map(|r| match &r.event.kind {
            ActivityKind::TokenIssued { jti, .. } => jti.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(left, ["at-cutoff", "new"]);
    // The audit trail is untouched by activity retention.
    let audit = registry
        .audit(&Actor::System, &t, None, None, 10)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(registry.prune_audit(Duration::days(1)).await.unwrap(), 1);
    assert!(registry.prune_activity(Duration::days(-1)).await.is_err());
}

fn denied(tenant: &TenantId, n: usize) -> ActivityEvent {
    ActivityEvent {
        at: OffsetDateTime::UNIX_EPOCH + Duration::seconds(i64::try_from(n).unwrap()),
        tenant: Some(tenant.clone()),
        client_id: format!("cc_{}_{n}", tenant.as_str()),
        kind: ActivityKind::TokenDenied {
            reason: "bad_secret".to_owned(),
        },
    }
}

#[tokio::test]
async fn one_tenants_flood_leaves_the_other_tenants_their_share_of_the_queue() {
    let gate = Arc::new(Semaphore::new(0));
    let store = Arc::new(SlowActivity::new(Some(gate.clone()), StdDuration::ZERO));
    let writer = BatchedActivity::spawn(
        store.clone(),
        ActivityWriterOptions::default()
            .with_queue_capacity(10)
            .with_max_batch(1),
    );
    let (flood, quiet, late) = (
        TenantId::new("flood").unwrap(),
        TenantId::new("quiet").unwrap(),
        TenantId::new("late").unwrap(),
    );
    // The writer is stuck on its first batch; the flood fills the queue.
    for n in 0..500 {
        writer.record_activity(denied(&flood, n)).await.unwrap();
    }
    // A quiet tenant's few entries still get in, in their order.
    for n in 0..3 {
        writer.record_activity(denied(&quiet, n)).await.unwrap();
    }
    // A second flood gets about half of what is left, no more.
    for n in 0..500 {
        writer.record_activity(denied(&late, n)).await.unwrap();
    }
    gate.add_permits(10_000);
    writer.close().await;

    let written = |t: &TenantId| {
        let store = store.clone();
        let t = t.clone();
        async move { store.entries(&t).await }
    };
    let quiet_entries = written(&quiet).await;
    let names: Vec<&str> = quiet_entries
        .iter()
        .map(|r| r.event.client_id.as_str())
        .collect();
    assert_eq!(names, ["cc_quiet_0", "cc_quiet_1", "cc_quiet_2"]);
    let (flood_n, late_n) = (written(&flood).await.len(), written(&late).await.len());
    // One thread: the writer took nothing before the floods were done, so
    // ten queued entries: 3 quiet, the rest split.
    assert_eq!(flood_n + late_n + 3, 10, "{flood_n} + {late_n}");
    assert!(
        (3..=4).contains(&late_n) && (3..=4).contains(&flood_n),
        "the floods share what the quiet tenant leaves: {flood_n} / {late_n}"
    );
    let stats = writer.stats();
    assert_eq!(stats.written, 10);
    assert_eq!(stats.written + stats.dropped, 1_003, "{stats:?}");
    // The flood's entries that were kept are its oldest, in order.
    let kept: Vec<String> = written(&flood)
        .await
        .iter()
        .map(|r| r.event.client_id.clone())
        .collect();
    let expected: Vec<String> = (0..flood_n).map(|n| format!("cc_flood_{n}")).collect();
    assert_eq!(kept, expected);
}
