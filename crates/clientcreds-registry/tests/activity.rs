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
    ActivityCount, ActivityCountQuery, ActivityEvent, ActivityKind, ActivityLog, ActivityQuery,
    ActivityRecord, AuditEvent, AuditLog, AuditQuery, AuditRecord, ClientPage, ClientQuery,
    ClientRecord, ClientStore, Commit, CountedOutcome, MemoryStore, SecretUse, Store, StoreError,
    TenantId,
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
    /// Writes of counts refused before one succeeds.
    refuse_counts: AtomicUsize,
    /// Answers `Unsupported` to counts, as a store older than them does.
    no_counts: std::sync::atomic::AtomicBool,
    count_writes: AtomicUsize,
}

impl SlowActivity {
    fn new(gate: Option<Arc<Semaphore>>, pause: StdDuration) -> Self {
        Self {
            inner: MemoryStore::new(),
            gate,
            pause,
            writes: AtomicUsize::new(0),
            refuse_counts: AtomicUsize::new(0),
            no_counts: std::sync::atomic::AtomicBool::new(false),
            count_writes: AtomicUsize::new(0),
        }
    }

    /// The counts stored for `client_id`, summed over minutes and sources.
    async fn counted(&self, client_id: &str) -> Vec<(Option<String>, CountedOutcome, u64)> {
        let query = ActivityCountQuery {
            tenant: tenant(),
            client_id: Some(client_id.to_owned()),
            since: None,
            until: None,
            limit: 100_000,
        };
        let mut sums: Vec<(Option<String>, CountedOutcome, u64)> = Vec::new();
        for c in self.inner.activity_counts(&query).await.unwrap() {
            match sums
                .iter_mut()
                .find(|(s, o, _)| *s == c.secret_id && *o == c.outcome)
            {
                Some((_, _, n)) => *n += c.count,
                None => sums.push((c.secret_id, c.outcome, c.count)),
            }
        }
        sums
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
    async fn add_activity_counts(&self, counts: Vec<ActivityCount>) -> Result<(), StoreError> {
        if self.no_counts.load(Ordering::SeqCst) {
            return Err(StoreError::Unsupported {
                operation: "add_activity_counts",
            });
        }
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        tokio::time::sleep(self.pause).await;
        let refuse = self
            .refuse_counts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Err(StoreError::backend(std::io::Error::other(
                "refused by the test",
            )));
        }
        self.count_writes.fetch_add(1, Ordering::SeqCst);
        self.inner.add_activity_counts(counts).await
    }
    async fn activity_counts(
        &self,
        query: &ActivityCountQuery,
    ) -> Result<Vec<ActivityCount>, StoreError> {
        self.inner.activity_counts(query).await
    }
    async fn prune_activity_counts(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.prune_activity_counts(before).await
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

fn secret_id(creds: &Credentials) -> Option<String> {
    Some(creds.secret_id.as_str().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_issued_token_is_counted_per_client_and_secret_in_few_writes() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::from_millis(1)));
    let s = Arc::new(setup(
        store.clone(),
        ActivityWriterOptions::default().with_flush_interval(StdDuration::from_millis(5)),
    ));
    let clients = [
        client(&s, "a").await,
        client(&s, "b").await,
        client(&s, "c").await,
    ];
    // Concurrent issuers, as under load.
    let mut tasks = Vec::new();
    for (i, creds) in clients.iter().enumerate() {
        for _ in 0..4 {
            let s = s.clone();
            let id = creds.client_id.clone();
            let secret = creds.client_secret.expose_secret().to_owned();
            tasks.push(tokio::spawn(async move {
                for _ in 0..(10 * (i + 1)) {
                    let request = ExchangeRequest::client_credentials(
                        id.clone(),
                        Secret::from(secret.as_str()),
                    );
                    s.tokens.exchange(request).await.expect("token issued");
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    s.writer.close().await;
    for (i, creds) in clients.iter().enumerate() {
        let expected = u64::try_from(40 * (i + 1)).unwrap();
        assert_eq!(
            store.counted(&creds.client_id).await,
            [(secret_id(creds), CountedOutcome::Issued, expected)],
            "client {i}"
        );
    }
    assert!(
        store.entries(&tenant()).await.is_empty(),
        "no row per token"
    );
    let stats = s.writer.stats();
    assert_eq!(stats.counted, 240, "{stats:?}");
    assert_eq!((stats.dropped, stats.counts_lost), (0, 0), "{stats:?}");
    let writes = store.count_writes.load(Ordering::SeqCst);
    assert!(
        writes < 240 / 4,
        "counts are summed before writing: {writes}"
    );
}

#[tokio::test]
async fn a_blocked_store_never_fails_a_token_nor_loses_a_count() {
    let gate = Arc::new(Semaphore::new(0));
    let store = Arc::new(SlowActivity::new(Some(gate.clone()), StdDuration::ZERO));
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default()
            .with_queue_capacity(1)
            .with_max_batch(1)
            .with_flush_interval(StdDuration::from_millis(1)),
    );
    let creds = client(&s, "busy").await;
    for _ in 0..20 {
        // Every token is issued, whatever the store does.
        exchange(&s, &creds).await;
        tokio::task::yield_now().await;
    }
    // Let the writer through, and write what is summed.
    gate.add_permits(1_000);
    s.writer.close().await;
    let stats = s.writer.stats();
    assert_eq!(stats.counted, 20, "{stats:?}");
    assert_eq!(
        store.counted(&creds.client_id).await,
        [(secret_id(&creds), CountedOutcome::Issued, 20)]
    );
    // After close, counts go straight to the store.
    exchange(&s, &creds).await;
    assert_eq!(
        store.counted(&creds.client_id).await,
        [(secret_id(&creds), CountedOutcome::Issued, 21)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_written_every_interval_and_close_writes_the_rest() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::ZERO));
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default().with_flush_interval(StdDuration::from_millis(50)),
    );
    let creds = client(&s, "svc").await;
    for _ in 0..3 {
        exchange(&s, &creds).await;
    }
    // No flush, no close: the interval writes them.
    let mut waited = 0;
    while store.counted(&creds.client_id).await.is_empty() {
        assert!(waited < 100, "written within the interval");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
        waited += 1;
    }
    assert_eq!(
        store.counted(&creds.client_id).await,
        [(secret_id(&creds), CountedOutcome::Issued, 3)]
    );

    let slow = Arc::new(SlowActivity::new(None, StdDuration::ZERO));
    let s = setup(
        slow.clone(),
        ActivityWriterOptions::default().with_flush_interval(StdDuration::from_secs(600)),
    );
    let creds = client(&s, "svc").await;
    for _ in 0..10 {
        exchange(&s, &creds).await;
    }
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    assert!(
        slow.counted(&creds.client_id).await.is_empty(),
        "not yet due"
    );
    s.writer.close().await;
    assert_eq!(
        slow.counted(&creds.client_id).await,
        [(secret_id(&creds), CountedOutcome::Issued, 10)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_write_of_counts_is_kept_and_retried() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::ZERO));
    store.refuse_counts.store(3, Ordering::SeqCst);
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default().with_flush_interval(StdDuration::from_millis(2)),
    );
    let creds = client(&s, "svc").await;
    for _ in 0..5 {
        exchange(&s, &creds).await;
        tokio::time::sleep(StdDuration::from_millis(3)).await;
    }
    s.writer.flush().await;
    s.writer.flush().await;
    s.writer.flush().await;
    s.writer.close().await;
    let stats = s.writer.stats();
    assert_eq!(stats.count_retries, 3, "{stats:?}");
    assert_eq!((stats.counted, stats.counts_lost), (5, 0), "{stats:?}");
    assert_eq!(
        store.counted(&creds.client_id).await,
        [(secret_id(&creds), CountedOutcome::Issued, 5)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_through_the_writer_sees_its_own_counts_and_refusals() {
    let store = Arc::new(SlowActivity::new(None, StdDuration::from_millis(20)));
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default().with_flush_interval(StdDuration::from_secs(600)),
    );
    let creds = client(&s, "svc").await;
    exchange(&s, &creds).await;
    for _ in 0..3 {
        let refused = s
            .tokens
            .exchange(
                ExchangeRequest::client_credentials(
                    creds.client_id.clone(),
                    Secret::from(creds.client_secret.expose_secret()),
                )
                .with_scope("not-allowed")
                .with_source("192.0.2.7".parse::<std::net::IpAddr>().unwrap()),
            )
            .await;
        assert!(refused.is_err());
    }
    let counts = s
        .writer
        .activity_counts(&ActivityCountQuery {
            tenant: tenant(),
            client_id: Some(creds.client_id.clone()),
            since: None,
            until: None,
            limit: 10,
        })
        .await
        .unwrap();
    let seen: Vec<(Option<&str>, &CountedOutcome, u64)> = counts
        .iter()
        .map(|c| (c.source.as_deref(), &c.outcome, c.count))
        .collect();
    let scope = CountedOutcome::Denied {
        reason: "invalid_scope".to_owned(),
    };
    // Refusals name no secret, so they sort first within the minute.
    assert_eq!(
        seen,
        [
            (Some("192.0.2.7"), &scope, 3),
            (None, &CountedOutcome::Issued, 1),
        ]
    );
    // The repeated refusal keeps one individual row per interval.
    let query = ActivityQuery {
        tenant: tenant(),
        client_id: Some(creds.client_id.clone()),
        after_seq: None,
        limit: 10,
    };
    let rows = s.writer.activity(&query).await.unwrap();
    let kinds: Vec<&ActivityKind> = rows.iter().map(|r| &r.event.kind).collect();
    assert_eq!(
        kinds,
        [&ActivityKind::TokenDenied {
            reason: "invalid_scope".to_owned()
        }]
    );
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

#[tokio::test]
async fn a_store_without_counts_keeps_a_row_per_token_and_the_writer_gives_counts_up() {
    // Straight on the store: the exchange falls back to the row per token.
    let store = Arc::new(SlowActivity::new(None, StdDuration::ZERO));
    store.no_counts.store(true, Ordering::SeqCst);
    let registry =
        Arc::new(Registry::new(store.clone(), common::hasher(), Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys, "https://issuer.test"),
        "https://api.test",
    );
    let creds = registry
        .create(&Actor::System, &tenant(), NewClient::named("old"))
        .await
        .unwrap()
        .credentials;
    let issued = tokens
        .exchange(ExchangeRequest::client_credentials(
            creds.client_id.clone(),
            Secret::from(creds.client_secret.expose_secret()),
        ))
        .await
        .unwrap();
    let rows = store.entries(&tenant()).await;
    let kinds: Vec<&ActivityKind> = rows.iter().map(|r| &r.event.kind).collect();
    assert_eq!(
        kinds,
        [&ActivityKind::TokenIssued {
            jti: issued.jti.clone(),
            scope: issued.scope.clone()
        }]
    );

    // Behind the writer: counts the store cannot take are given up and
    // counted lost, not held and retried for ever.
    let s = setup(
        store.clone(),
        ActivityWriterOptions::default().with_flush_interval(StdDuration::from_millis(1)),
    );
    let creds = client(&s, "svc").await;
    exchange(&s, &creds).await;
    s.writer.flush().await;
    let stats = s.writer.stats();
    assert_eq!(
        (stats.counted, stats.counts_lost, stats.count_retries),
        (0, 1, 0),
        "{stats:?}"
    );
    s.writer.close().await;
}
