//! The authentication cache: what it keeps, for how long, and what makes
//! it forget.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clientcreds_secret::SecretHash;
use clientcreds_store::{
    AuditAction, AuditActor, AuditEvent, AuditOutcome, AuthCache, AuthView, CachedStore,
    ClientPage, ClientQuery, ClientRecord, ClientStatus, ClientStore, Commit, MAX_CACHED_ID_LEN,
    MemoryStore, SecretRecord, SecretUse, StoreError, TenantId, Write,
};
use time::OffsetDateTime;

fn tenant() -> TenantId {
    TenantId::new("cache").unwrap()
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_000_000_000 + secs).unwrap()
}

fn record(id: &str) -> ClientRecord {
    ClientRecord {
        tenant: tenant(),
        client_id: id.to_owned(),
        name: "svc".to_owned(),
        description: String::new(),
        owner: None,
        created_by: "admin".to_owned(),
        scopes: Vec::new(),
        audiences: Vec::new(),
        extra_claims: BTreeMap::new(),
        token_lifetime_secs: None,
        status: ClientStatus::Active,
        grace_until: None,
        replaced_by: None,
        created_at: at(0),
        updated_at: at(0),
        last_used_at: None,
        version: 1,
        auth: Default::default(),
        secrets: vec![SecretRecord {
            secret_id: "s1".to_owned(),
            hash: SecretHash::from_stored("hash".to_owned()),
            display_prefix: String::new(),
            label: String::new(),
            created_at: at(0),
            expires_at: None,
            grace_until: None,
            revoked_at: None,
            last_used_at: None,
            warning_due: None,
            public_jwk: None,
        }],
    }
}

fn audit() -> AuditEvent {
    AuditEvent {
        at: at(1),
        actor: AuditActor::System,
        tenant: tenant(),
        client_id: None,
        action: AuditAction::Update,
        outcome: AuditOutcome::Success,
        detail: None,
    }
}

async fn cached(ttl: Duration, max_bytes: usize) -> (CachedStore<MemoryStore>, Arc<AuthCache>) {
    let cache = Arc::new(AuthCache::new(ttl).with_max_bytes(max_bytes));
    let store = CachedStore::new(MemoryStore::new(), cache.clone());
    store
        .commit(Commit::new(audit()).with(Write::Insert(record("cc_known"))))
        .await
        .unwrap();
    (store, cache)
}

#[tokio::test]
async fn known_and_unknown_ids_are_both_answered_from_memory() {
    let (store, cache) = cached(Duration::from_secs(60), 1 << 20).await;
    for _ in 0..3 {
        assert!(
            store
                .authentication_view("cc_known")
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .authentication_view("cc_nobody")
                .await
                .unwrap()
                .is_none()
        );
    }
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (2, 4, 2));
}

#[tokio::test]
async fn entries_expire_after_the_ttl() {
    let (store, cache) = cached(Duration::from_millis(50), 1 << 20).await;
    store.authentication_view("cc_known").await.unwrap();
    store.authentication_view("cc_known").await.unwrap();
    std::thread::sleep(Duration::from_millis(60));
    store.authentication_view("cc_known").await.unwrap();
    assert_eq!((cache.stats().hits, cache.stats().misses), (1, 2));
}

#[tokio::test]
async fn a_commit_through_the_wrapper_invalidates_before_it_returns() {
    let (store, cache) = cached(Duration::from_secs(60), 1 << 20).await;
    let before = store
        .authentication_view("cc_known")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.status, ClientStatus::Active);
    let mut revoked = record("cc_known");
    revoked.status = ClientStatus::Revoked;
    store
        .commit(Commit::new(audit()).with(Write::Update {
            expected_version: 1,
            record: revoked,
        }))
        .await
        .unwrap();
    let after = store
        .authentication_view("cc_known")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, ClientStatus::Revoked);
    assert_eq!(cache.stats().invalidations, 2, "the insert and the update");
    // A delete, too.
    store
        .commit(Commit::new(audit()).with(Write::Delete {
            client_id: "cc_known".to_owned(),
            expected_version: 2,
        }))
        .await
        .unwrap();
    assert!(
        store
            .authentication_view("cc_known")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn advisory_use_updates_the_cached_view() {
    let (store, _cache) = cached(Duration::from_secs(60), 1 << 20).await;
    store.authentication_view("cc_known").await.unwrap();
    store
        .record_use(&SecretUse {
            tenant: tenant(),
            client_id: "cc_known".to_owned(),
            secret_id: "s1".to_owned(),
            at: at(5),
            rehash: None,
        })
        .await
        .unwrap();
    let seen = store
        .authentication_view("cc_known")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.secrets[0].last_used_at, Some(at(5)));
}

#[tokio::test]
async fn unknown_ids_fill_at_most_a_quarter_and_long_ids_are_never_kept() {
    let (store, cache) = cached(Duration::from_secs(60), 4096).await;
    store.authentication_view("cc_known").await.unwrap();
    let known_bytes = cache.stats().bytes;
    for i in 0..100 {
        store
            .authentication_view(&format!("cc_x{i}"))
            .await
            .unwrap();
    }
    let stats = cache.stats();
    assert!(
        stats.bytes <= known_bytes + 1024,
        "a quarter of 4 KiB at most for unknown ids: {stats:?}"
    );
    assert!(stats.entries > 2, "some unknown ids are kept: {stats:?}");
    // The known client was not pushed out by the flood.
    let hits = stats.hits;
    store.authentication_view("cc_known").await.unwrap();
    assert_eq!(cache.stats().hits, hits + 1);

    let long = "c".repeat(MAX_CACHED_ID_LEN + 1);
    store.authentication_view(&long).await.unwrap();
    store.authentication_view(&long).await.unwrap();
    assert_eq!(cache.stats().hits, hits + 1, "a long id is read every time");
}

/// A client whose view weighs about `audience_bytes` × `audiences`.
fn heavy(id: &str, audiences: usize, audience_bytes: usize) -> ClientRecord {
    let mut record = record(id);
    record.audiences = (0..audiences)
        .map(|i| format!("{i:04}{}", "a".repeat(audience_bytes - 4)))
        .collect();
    record.description = "not part of the view ".repeat(100);
    record
}

#[tokio::test]
async fn a_hit_shares_the_view_and_leaves_out_what_authentication_does_not_read() {
    let (store, _cache) = cached(Duration::from_secs(60), 1 << 20).await;
    store
        .commit(Commit::new(audit()).with(Write::Insert(heavy("cc_heavy", 50, 1000))))
        .await
        .unwrap();
    let first = store
        .authentication_view("cc_heavy")
        .await
        .unwrap()
        .unwrap();
    let second = store
        .authentication_view("cc_heavy")
        .await
        .unwrap()
        .unwrap();
    assert!(Arc::ptr_eq(&first, &second), "a hit is the same allocation");
    assert_eq!(first.audiences.len(), 50);
    let record = store
        .client_for_authentication("cc_heavy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*first, AuthView::of(&record));
    assert!(
        first.memory_bytes() >= 50 * 1000 && first.memory_bytes() < 50 * 1000 + 8 * 1024,
        "the view weighs its audiences, not the description: {}",
        first.memory_bytes()
    );
}

#[tokio::test]
async fn memory_is_bounded_in_bytes_not_entries() {
    let budget = 256 * 1024;
    let (store, cache) = cached(Duration::from_secs(60), budget).await;
    // 40 clients of about 20 KB: 800 KB if nothing bounded them.
    for i in 0..40 {
        let id = format!("cc_big{i:02}");
        store
            .commit(Commit::new(audit()).with(Write::Insert(heavy(&id, 20, 1000))))
            .await
            .unwrap();
        store.authentication_view(&id).await.unwrap();
        assert!(cache.stats().bytes <= budget, "{:?}", cache.stats());
    }
    let stats = cache.stats();
    assert!(
        stats.entries < 13,
        "at most 256 KB of 20 KB views: {stats:?}"
    );
    assert!(stats.evictions > 0, "{stats:?}");
    // The same budget holds far more small clients.
    cache.flush();
    for i in 0..200 {
        let id = format!("cc_small{i:03}");
        store
            .commit(Commit::new(audit()).with(Write::Insert(record(&id))))
            .await
            .unwrap();
        store.authentication_view(&id).await.unwrap();
    }
    assert_eq!(cache.stats().entries, 200, "{:?}", cache.stats());
    // A client larger than the whole budget is read every time, never kept.
    store
        .commit(Commit::new(audit()).with(Write::Insert(heavy("cc_huge", 300, 1000))))
        .await
        .unwrap();
    let hits = cache.stats().hits;
    store.authentication_view("cc_huge").await.unwrap();
    store.authentication_view("cc_huge").await.unwrap();
    assert_eq!(cache.stats().hits, hits);
    assert!(cache.stats().bytes <= budget);
}

#[tokio::test]
async fn an_expired_entry_is_removed_by_the_lookup_that_finds_it() {
    let (store, cache) = cached(Duration::from_millis(50), 1 << 20).await;
    store.authentication_view("cc_nobody").await.unwrap();
    let filled = cache.stats();
    assert_eq!(filled.entries, 1);
    std::thread::sleep(Duration::from_millis(60));
    // Cached again at once by this miss, but not before the old entry went.
    store.authentication_view("cc_nobody").await.unwrap();
    let stats = cache.stats();
    assert_eq!((stats.evictions, stats.entries), (1, 1), "{stats:?}");
    assert_eq!(
        stats.bytes, filled.bytes,
        "the old entry's charge was returned"
    );
}

#[tokio::test]
async fn an_unavailable_cache_is_flushed_and_bypassed() {
    let (store, cache) = cached(Duration::from_secs(60), 1 << 20).await;
    store.authentication_view("cc_known").await.unwrap();
    cache.set_available(false);
    assert_eq!(cache.stats().entries, 0);
    store.authentication_view("cc_known").await.unwrap();
    store.authentication_view("cc_known").await.unwrap();
    assert_eq!((cache.stats().hits, cache.stats().entries), (0, 0));
    cache.set_available(true);
    store.authentication_view("cc_known").await.unwrap();
    store.authentication_view("cc_known").await.unwrap();
    assert_eq!(cache.stats().hits, 1);
}

/// A store whose read is overtaken by a change: the change's invalidation
/// arrives while the read is in flight (as a notification would).
#[derive(Debug)]
struct Overtaken {
    inner: MemoryStore,
    cache: Arc<AuthCache>,
}

#[async_trait]
impl ClientStore for Overtaken {
    async fn client(&self, t: &TenantId, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.client(t, id).await
    }
    async fn client_for_authentication(
        &self,
        id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let read = self.inner.client_for_authentication(id).await;
        self.cache.invalidate(id);
        read
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

#[tokio::test]
async fn a_read_overtaken_by_an_invalidation_is_not_cached() {
    let cache = Arc::new(AuthCache::new(Duration::from_secs(60)));
    let store = CachedStore::new(
        Overtaken {
            inner: MemoryStore::new(),
            cache: cache.clone(),
        },
        cache.clone(),
    );
    store.authentication_view("cc_any").await.unwrap();
    store.authentication_view("cc_any").await.unwrap();
    assert_eq!((cache.stats().hits, cache.stats().entries), (0, 0));
}
