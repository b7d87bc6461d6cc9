//! An authentication cache in front of any store: [`AuthCache`] and the
//! store wrapper [`CachedStore`].
//!
//! See [`AuthCache`] for how it stays right.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog, AuditQuery,
    AuditRecord, ClientPage, ClientQuery, ClientRecord, ClientStore, Commit, KeyChange, KeyRing,
    KeyStore, SecretUse, StoreError, TenantId, Write,
};

/// How long an entry is trusted without hearing of a change: 5 seconds.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);
/// How many client ids an [`AuthCache`] holds by default (known and
/// unknown together).
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Longest client id (in bytes) the cache keeps an entry for. Longer ids
/// read the store every time (the registry refuses malformed ids before any
/// lookup, so real traffic never reaches this bound).
pub const MAX_CACHED_ID_LEN: usize = 128;

/// The shared cache behind one or more [`CachedStore`]s. Cheap to share as
/// `Arc<AuthCache>`; every method takes `&self`.
///
/// The token endpoint reads a client by id on every request
/// ([`ClientStore::client_for_authentication`]). On a database that read is
/// most of a token's cost, so [`CachedStore`] answers it from memory for a
/// short time-to-live, and keeps the cache right three ways:
///
/// 1. **Local commits.** [`ClientStore::commit`] through the wrapper removes
///    every touched client's entry before it returns, whatever the outcome.
///    A read that raced with the commit cannot put the old record back: a
///    lookup fills the cache only if no invalidation happened since it
///    started.
/// 2. **Other replicas.** A store that announces its commits (PostgreSQL's
///    `NOTIFY`, see `clientcreds_sqlx::PgStore::spawn_invalidation_listener`)
///    calls [`AuthCache::invalidate`] for each announced client. While that
///    channel is down, the listener calls [`AuthCache::set_available`]
///    with `false`: the cache is flushed and bypassed (every lookup reads the
///    store) until the channel is back.
/// 3. **The time-to-live** ([`DEFAULT_TTL`], 5 seconds) bounds staleness if
///    everything else fails (a notification lost while the channel looked
///    healthy).
///
/// Unknown client ids are cached too, as "no such client", in the same map
/// and through the same code path as known ones, so a cached unknown id
/// costs what a cached known id costs and timing does not tell them apart.
/// Entries are bounded ([`DEFAULT_CAPACITY`] in all, at most a quarter of
/// them unknown ids, so a flood of made-up ids cannot push real clients
/// out), and ids longer than [`MAX_CACHED_ID_LEN`] bytes are never cached.
///
/// Advisory last-used writes ([`ClientStore::record_use`]) through the
/// wrapper also update the cached record, so the registry still writes
/// last-used times once per interval rather than on every request.
pub struct AuthCache {
    ttl: Duration,
    capacity: usize,
    unknown_capacity: usize,
    state: Mutex<State>,
    /// Picks an id's invalidation stripe.
    stripe_hasher: std::collections::hash_map::RandomState,
    available: AtomicBool,
    counters: Counters,
}

/// Invalidation stripes: an id's stripe is bumped when it is invalidated,
/// every stripe (through `flushes`) when the cache is flushed. A lookup
/// fills only if its stripe is unchanged since the lookup began, so a read
/// that raced with a change cannot put the old record back, while changes
/// to other clients rarely cost a fill.
const STRIPES: usize = 64;

struct State {
    entries: HashMap<String, Entry>,
    unknown: usize,
    last_sweep: Option<Instant>,
    flushes: u64,
    stripes: [u64; STRIPES],
}

impl Default for State {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            unknown: 0,
            last_sweep: None,
            flushes: 0,
            stripes: [0; STRIPES],
        }
    }
}

/// What a lookup that missed saw; a fill must see the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    flushes: u64,
    stripe: u64,
}

struct Entry {
    filled: Instant,
    record: Option<Arc<ClientRecord>>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    flushes: AtomicU64,
}

/// A snapshot of an [`AuthCache`]'s counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered from memory.
    pub hits: u64,
    /// Lookups that read the store (absent, expired, bypassed).
    pub misses: u64,
    /// Invalidations received (a commit through a [`CachedStore`], or a
    /// change announced by another replica), whether or not the client
    /// was cached.
    pub invalidations: u64,
    /// Times the whole cache was emptied.
    pub flushes: u64,
    /// Entries held now.
    pub entries: usize,
    /// Whether the cache is in use (`false` while the invalidation channel
    /// is down).
    pub available: bool,
}

impl fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new(DEFAULT_TTL, DEFAULT_CAPACITY)
    }
}

/// A cached answer: `Some(record)` for a known client, `None` for an id
/// that does not exist.
pub(crate) type Cached = Option<Arc<ClientRecord>>;

impl AuthCache {
    /// A cache trusting entries for `ttl`, holding at most `capacity` ids
    /// (at least 4; a quarter of them may be unknown ids).
    ///
    /// ```
    /// use std::time::Duration;
    /// use clientcreds_store::AuthCache;
    /// let cache = AuthCache::new(Duration::from_secs(2), 10_000);
    /// assert!(cache.stats().available);
    /// ```
    #[must_use]
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        let capacity = capacity.max(4);
        Self {
            ttl,
            capacity,
            unknown_capacity: capacity / 4,
            state: Mutex::new(State::default()),
            stripe_hasher: std::collections::hash_map::RandomState::new(),
            available: AtomicBool::new(true),
            counters: Counters::default(),
        }
    }

    /// The time-to-live.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Forgets `client_id` (its client changed somewhere).
    pub fn invalidate(&self, client_id: &str) {
        let stripe = self.stripe(client_id);
        let mut state = self.lock();
        if let Some(slot) = state.stripes.get_mut(stripe) {
            *slot += 1;
        }
        if let Some(entry) = state.entries.remove(client_id)
            && entry.record.is_none()
        {
            state.unknown -= 1;
        }
        drop(state);
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets everything.
    pub fn flush(&self) {
        let mut state = self.lock();
        state.flushes += 1;
        state.entries.clear();
        state.unknown = 0;
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
    }

    /// Turns the cache on or off. Off (`false`, while the channel that
    /// announces other replicas' changes is down) flushes it and makes every
    /// lookup read the store; on again flushes it once more, since changes
    /// announced meanwhile were missed.
    pub fn set_available(&self, available: bool) {
        let was = self.available.swap(available, Ordering::AcqRel);
        if was != available || !available {
            self.flush();
        }
    }

    /// Whether lookups use the cache.
    #[must_use]
    pub fn is_available(&self) -> bool {
        self.available.load(Ordering::Acquire)
    }

    /// The counters and size now.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            invalidations: self.counters.invalidations.load(Ordering::Relaxed),
            flushes: self.counters.flushes.load(Ordering::Relaxed),
            entries: self.lock().entries.len(),
            available: self.is_available(),
        }
    }

    fn stripe(&self, client_id: &str) -> usize {
        use std::hash::BuildHasher;
        usize::try_from(self.stripe_hasher.hash_one(client_id) % STRIPES as u64).unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every mutation below completes without a fallible step.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh cached answer for `client_id`; `Err(ticket)` when the store
    /// must be read, with what a later [`AuthCache::fill`] must match
    /// (`None`: do not fill).
    /// Known and unknown ids take the same path.
    pub(crate) fn lookup(&self, client_id: &str) -> Result<Cached, Option<Ticket>> {
        if client_id.len() > MAX_CACHED_ID_LEN || !self.is_available() {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return Err(None);
        }
        let stripe = self.stripe(client_id);
        let state = self.lock();
        let ticket = Ticket {
            flushes: state.flushes,
            stripe: state.stripes.get(stripe).copied().unwrap_or(0),
        };
        match state.entries.get(client_id) {
            Some(entry) if entry.filled.elapsed() < self.ttl => {
                let record = entry.record.clone();
                drop(state);
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                Ok(record)
            }
            _ => {
                drop(state);
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
                Err(Some(ticket))
            }
        }
    }

    /// Keeps `record` for `client_id`, unless something was invalidated
    /// since `ticket` was taken or the cache is off.
    pub(crate) fn fill(&self, client_id: &str, record: Cached, ticket: Ticket) {
        let stripe = self.stripe(client_id);
        let mut state = self.lock();
        let now_ticket = Ticket {
            flushes: state.flushes,
            stripe: state.stripes.get(stripe).copied().unwrap_or(0),
        };
        if now_ticket != ticket || !self.is_available() {
            return;
        }
        let now = Instant::now();
        let unknown = record.is_none();
        if let Some(old) = state.entries.remove(client_id)
            && old.record.is_none()
        {
            state.unknown -= 1;
        }
        let full = if unknown {
            state.unknown >= self.unknown_capacity
        } else {
            state.entries.len() >= self.capacity
        };
        if full {
            self.make_room(&mut state, unknown, now);
        }
        if unknown {
            state.unknown += 1;
        }
        state.entries.insert(
            client_id.to_owned(),
            Entry {
                filled: now,
                record,
            },
        );
    }

    /// Drops expired entries (at most once per quarter TTL), then, if still
    /// full, one entry of the kind being added.
    fn make_room(&self, state: &mut State, unknown: bool, now: Instant) {
        let sweep_due = state
            .last_sweep
            .is_none_or(|at| now.duration_since(at) >= self.ttl / 4);
        if sweep_due {
            state.last_sweep = Some(now);
            let ttl = self.ttl;
            state
                .entries
                .retain(|_, e| now.duration_since(e.filled) < ttl);
            state.unknown = state
                .entries
                .values()
                .filter(|e| e.record.is_none())
                .count();
        }
        let still_full = if unknown {
            state.unknown >= self.unknown_capacity
        } else {
            state.entries.len() >= self.capacity
        };
        if !still_full {
            return;
        }
        let victim = state
            .entries
            .iter()
            .find(|(_, e)| !unknown || e.record.is_none())
            .map(|(k, _)| k.clone());
        if let Some(victim) = victim
            && let Some(old) = state.entries.remove(&victim)
            && old.record.is_none()
        {
            state.unknown -= 1;
        }
    }

    /// Applies an advisory use to the cached record, so that the registry
    /// sees the last-used time it just wrote.
    pub(crate) fn note_use(&self, usage: &SecretUse) {
        let mut state = self.lock();
        let Some(Entry {
            record: Some(record),
            ..
        }) = state.entries.get_mut(&usage.client_id)
        else {
            return;
        };
        if record.tenant != usage.tenant {
            return;
        }
        let record = Arc::make_mut(record);
        record.last_used_at = record.last_used_at.max(Some(usage.at));
        if let Some(secret) = record
            .secrets
            .iter_mut()
            .find(|s| s.secret_id == usage.secret_id)
        {
            secret.last_used_at = secret.last_used_at.max(Some(usage.at));
            if let Some(hash) = &usage.rehash {
                secret.hash = hash.clone();
            }
        }
    }
}

/// A store whose [`ClientStore::client_for_authentication`] is answered by
/// an [`AuthCache`]; everything else goes to the wrapped store. Implements
/// every trait the wrapped store implements among [`ClientStore`],
/// [`AuditLog`], [`ActivityLog`] and [`KeyStore`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use clientcreds_store::{AuthCache, CachedStore, ClientStore, MemoryStore, Store};
///
/// let cache = Arc::new(AuthCache::default());
/// let store: Arc<dyn Store> = Arc::new(CachedStore::new(MemoryStore::new(), cache.clone()));
/// assert!(store.client_for_authentication("cc_unknown").await?.is_none());
/// assert!(store.client_for_authentication("cc_unknown").await?.is_none());
/// assert_eq!(cache.stats().hits, 1);
/// # Ok::<(), clientcreds_store::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct CachedStore<S> {
    inner: S,
    cache: Arc<AuthCache>,
}

impl<S> CachedStore<S> {
    /// `inner`, with authentication lookups cached in `cache`.
    #[must_use]
    pub fn new(inner: S, cache: Arc<AuthCache>) -> Self {
        Self { inner, cache }
    }

    /// The cache.
    #[must_use]
    pub fn cache(&self) -> &Arc<AuthCache> {
        &self.cache
    }

    /// The wrapped store.
    #[must_use]
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: ClientStore> ClientStore for CachedStore<S> {
    async fn client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        // Administrative reads plan changes: always fresh.
        self.inner.client(tenant, client_id).await
    }

    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        match self.cache.lookup(client_id) {
            Ok(cached) => Ok(cached.map(|record| ClientRecord::clone(&record))),
            Err(ticket) => {
                let found = self.inner.client_for_authentication(client_id).await?;
                if let Some(ticket) = ticket {
                    self.cache
                        .fill(client_id, found.clone().map(Arc::new), ticket);
                }
                Ok(found)
            }
        }
    }

    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        self.inner.list(query).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let touched: Vec<String> = commit
            .writes()
            .iter()
            .map(|write| match write {
                Write::Insert(record) | Write::Update { record, .. } => record.client_id.clone(),
                Write::Delete { client_id, .. } => client_id.clone(),
            })
            .collect();
        let result = self.inner.commit(commit).await;
        // Whatever the outcome (a failed commit may still have landed if
        // the connection broke after the database committed).
        for client_id in &touched {
            self.cache.invalidate(client_id);
        }
        result
    }

    async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
        self.inner.record_use(usage).await?;
        self.cache.note_use(usage);
        Ok(())
    }
}

#[async_trait]
impl<S: AuditLog> AuditLog for CachedStore<S> {
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.inner.append_audit(event).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.inner.audit(query).await
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.prune_audit(before).await
    }
}

#[async_trait]
impl<S: ActivityLog> ActivityLog for CachedStore<S> {
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
        self.inner.record_activity(event).await
    }

    async fn record_activities(&self, events: Vec<ActivityEvent>) -> Result<(), StoreError> {
        self.inner.record_activities(events).await
    }

    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
        self.inner.activity(query).await
    }

    async fn prune_activity(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.prune_activity(before).await
    }
}

#[async_trait]
impl<S: KeyStore> KeyStore for CachedStore<S> {
    async fn signing_keys(&self) -> Result<KeyRing, StoreError> {
        self.inner.signing_keys().await
    }

    async fn change_signing_keys(
        &self,
        expected_revision: u64,
        changes: &[KeyChange],
    ) -> Result<u64, StoreError> {
        self.inner
            .change_signing_keys(expected_revision, changes)
            .await
    }
}
