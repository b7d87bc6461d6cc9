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
    ActivityCount, ActivityCountQuery, ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord,
    AuditEvent, AuditLog, AuditQuery, AuditRecord, AuthView, ClientPage, ClientQuery, ClientRecord,
    ClientStore, Commit, KeyChange, KeyRing, KeyStore, SecretUse, StoreError, TenantId, Write,
};

/// How long an entry is trusted without hearing of a change: 5 seconds.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);
/// How many bytes of memory an [`AuthCache`] spends by default: 64 MiB
/// (about 100,000 typical clients, or 2,000 of the largest the registry
/// accepts), a quarter of it at most on unknown ids.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Longest client id (in bytes) the cache keeps an entry for. Longer ids
/// read the store every time (the registry refuses malformed ids before any
/// lookup, so real traffic never reaches this bound).
pub const MAX_CACHED_ID_LEN: usize = 128;
/// What an entry costs beyond its id and its view: the map slot, the
/// entry, the reference counts.
const ENTRY_OVERHEAD: usize = 96;

/// The shared cache behind one or more [`CachedStore`]s. Cheap to share as
/// `Arc<AuthCache>`; every method takes `&self`.
///
/// The token endpoint reads a client by id on every request
/// ([`ClientStore::authentication_view`]). On a database that read is
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
/// **What it holds.** An entry is a client's [`AuthView`] (what
/// authentication reads, without names, descriptions or labels) behind an
/// `Arc`: a hit costs one reference-count increment whatever the client's
/// size. Memory is bounded in bytes ([`DEFAULT_MAX_BYTES`]; each entry is
/// charged its id, [`AuthView::memory_bytes`] and a fixed overhead), not in
/// entries, so a tenant's large clients cannot multiply the footprint. An
/// entry found expired is removed by the lookup that finds it; when full,
/// expired entries are swept first, then others make room.
///
/// Unknown client ids are cached too, as "no such client", in the same map
/// and through the same code path as known ones, so a cached unknown id
/// costs what a cached known id costs and timing does not tell them apart.
/// They may use at most a quarter of the bytes, so a flood of made-up ids
/// cannot push real clients out, and ids longer than
/// [`MAX_CACHED_ID_LEN`] bytes are never cached.
///
/// **What timing tells.** A hit answers in well under a microsecond; a
/// miss costs the wrapped store's read (a round trip on a database). So
/// an observer who can time token requests to one replica can tell
/// whether a client id was presented to that replica within the last TTL
/// (docs/SECURITY.md, "the cache as a timing oracle", gives the measured
/// figures). It never tells whether an id exists.
///
/// Advisory last-used writes ([`ClientStore::record_use`]) through the
/// wrapper also update the cached view, so the registry still writes
/// last-used times once per interval rather than on every request.
pub struct AuthCache {
    ttl: Duration,
    max_bytes: usize,
    unknown_max_bytes: usize,
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
    /// Bytes charged for every entry.
    bytes: usize,
    /// Bytes charged for entries of unknown ids.
    unknown_bytes: usize,
    last_sweep: Option<Instant>,
    flushes: u64,
    stripes: [u64; STRIPES],
}

impl Default for State {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            bytes: 0,
            unknown_bytes: 0,
            last_sweep: None,
            flushes: 0,
            stripes: [0; STRIPES],
        }
    }
}

impl State {
    /// Removes `client_id`'s entry and its charge.
    fn remove(&mut self, client_id: &str) {
        if let Some(old) = self.entries.remove(client_id) {
            self.uncharge(&old);
        }
    }

    fn uncharge(&mut self, entry: &Entry) {
        self.bytes = self.bytes.saturating_sub(entry.bytes);
        if entry.view.is_none() {
            self.unknown_bytes = self.unknown_bytes.saturating_sub(entry.bytes);
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.unknown_bytes = 0;
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
    /// What the entry is charged.
    bytes: usize,
    view: Cached,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    flushes: AtomicU64,
    evictions: AtomicU64,
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
    /// Entries removed to make room or because they had expired.
    pub evictions: u64,
    /// Entries held now.
    pub entries: usize,
    /// Bytes charged for the entries held now (at most the cache's
    /// budget).
    pub bytes: usize,
    /// Whether the cache is in use (`false` while the invalidation channel
    /// is down).
    pub available: bool,
}

impl fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthCache")
            .field("ttl", &self.ttl)
            .field("max_bytes", &self.max_bytes)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Default for AuthCache {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

/// A cached answer: `Some(view)` for a known client, `None` for an id
/// that does not exist.
pub(crate) type Cached = Option<Arc<AuthView>>;

impl AuthCache {
    /// A cache trusting entries for `ttl`, spending at most
    /// [`DEFAULT_MAX_BYTES`] (see [`AuthCache::with_max_bytes`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use clientcreds_store::AuthCache;
    /// let cache = AuthCache::new(Duration::from_secs(2)).with_max_bytes(16 << 20);
    /// assert!(cache.stats().available);
    /// assert_eq!(cache.max_bytes(), 16 << 20);
    /// ```
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            max_bytes: DEFAULT_MAX_BYTES,
            unknown_max_bytes: DEFAULT_MAX_BYTES / 4,
            state: Mutex::new(State::default()),
            stripe_hasher: std::collections::hash_map::RandomState::new(),
            available: AtomicBool::new(true),
            counters: Counters::default(),
        }
    }

    /// Spends at most `max_bytes` (at least 4 KiB; a quarter of it at most
    /// on unknown ids). A client whose entry alone exceeds the budget is
    /// never cached.
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes.max(4096);
        self.unknown_max_bytes = self.max_bytes / 4;
        self
    }

    /// The time-to-live.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The byte budget.
    #[must_use]
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Forgets `client_id` (its client changed somewhere).
    pub fn invalidate(&self, client_id: &str) {
        let stripe = self.stripe(client_id);
        let mut state = self.lock();
        if let Some(slot) = state.stripes.get_mut(stripe) {
            *slot += 1;
        }
        state.remove(client_id);
        drop(state);
        self.counters.invalidations.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets everything.
    pub fn flush(&self) {
        let mut state = self.lock();
        state.flushes += 1;
        state.clear();
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
        let (entries, bytes) = {
            let state = self.lock();
            (state.entries.len(), state.bytes)
        };
        CacheStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            invalidations: self.counters.invalidations.load(Ordering::Relaxed),
            flushes: self.counters.flushes.load(Ordering::Relaxed),
            evictions: self.counters.evictions.load(Ordering::Relaxed),
            entries,
            bytes,
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
    /// (`None`: do not fill). An expired entry is removed here.
    /// Known and unknown ids take the same path.
    pub(crate) fn lookup(&self, client_id: &str) -> Result<Cached, Option<Ticket>> {
        if client_id.len() > MAX_CACHED_ID_LEN || !self.is_available() {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            return Err(None);
        }
        let stripe = self.stripe(client_id);
        let mut state = self.lock();
        let ticket = Ticket {
            flushes: state.flushes,
            stripe: state.stripes.get(stripe).copied().unwrap_or(0),
        };
        let fresh = match state.entries.get(client_id) {
            Some(entry) if entry.filled.elapsed() < self.ttl => Some(entry.view.clone()),
            Some(_) => {
                state.remove(client_id);
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                None
            }
            None => None,
        };
        drop(state);
        if let Some(view) = fresh {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            Ok(view)
        } else {
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            Err(Some(ticket))
        }
    }

    /// What an entry for `client_id` holding `view` is charged.
    fn cost(client_id: &str, view: Option<&AuthView>) -> usize {
        ENTRY_OVERHEAD + client_id.len() + view.map_or(0, AuthView::memory_bytes)
    }

    /// Keeps `view` for `client_id`, unless something was invalidated
    /// since `ticket` was taken, the cache is off, or the entry alone
    /// exceeds the budget.
    pub(crate) fn fill(&self, client_id: &str, view: Cached, ticket: Ticket) {
        let bytes = Self::cost(client_id, view.as_deref());
        let unknown = view.is_none();
        let budget = if unknown {
            self.unknown_max_bytes
        } else {
            self.max_bytes
        };
        if bytes > budget {
            return;
        }
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
        state.remove(client_id);
        if !self.fits(&state, unknown, bytes) {
            self.make_room(&mut state, unknown, bytes, now);
        }
        state.bytes += bytes;
        if unknown {
            state.unknown_bytes += bytes;
        }
        state.entries.insert(
            client_id.to_owned(),
            Entry {
                filled: now,
                bytes,
                view,
            },
        );
    }

    /// Whether `bytes` more of this kind fit in the budget.
    fn fits(&self, state: &State, unknown: bool, bytes: usize) -> bool {
        state.bytes + bytes <= self.max_bytes
            && (!unknown || state.unknown_bytes + bytes <= self.unknown_max_bytes)
    }

    /// Drops expired entries (at most once per quarter TTL), then, if
    /// `bytes` of this kind still do not fit, other entries (only unknown
    /// ones to make room for an unknown id) until they fit with an eighth
    /// of the budget to spare, so the next fills do not each pay a pass.
    fn make_room(&self, state: &mut State, unknown: bool, bytes: usize, now: Instant) {
        let sweep_due = state
            .last_sweep
            .is_none_or(|at| now.duration_since(at) >= self.ttl / 4);
        let before = state.entries.len();
        if sweep_due {
            state.last_sweep = Some(now);
            let ttl = self.ttl;
            let (mut freed, mut freed_unknown) = (0, 0);
            state.entries.retain(|_, e| {
                let keep = now.duration_since(e.filled) < ttl;
                if !keep {
                    freed += e.bytes;
                    if e.view.is_none() {
                        freed_unknown += e.bytes;
                    }
                }
                keep
            });
            state.bytes = state.bytes.saturating_sub(freed);
            state.unknown_bytes = state.unknown_bytes.saturating_sub(freed_unknown);
        }
        if !self.fits(state, unknown, bytes) {
            let (limit, used) = if unknown {
                (self.unknown_max_bytes, state.unknown_bytes)
            } else {
                (self.max_bytes, state.bytes)
            };
            let target = limit - limit / 8;
            let mut excess = (used + bytes).saturating_sub(target);
            let (mut freed, mut freed_unknown) = (0, 0);
            state.entries.retain(|_, e| {
                if excess == 0 || (unknown && e.view.is_some()) {
                    return true;
                }
                excess = excess.saturating_sub(e.bytes);
                freed += e.bytes;
                if e.view.is_none() {
                    freed_unknown += e.bytes;
                }
                false
            });
            state.bytes = state.bytes.saturating_sub(freed);
            state.unknown_bytes = state.unknown_bytes.saturating_sub(freed_unknown);
        }
        let evicted = u64::try_from(before - state.entries.len()).unwrap_or(u64::MAX);
        self.counters
            .evictions
            .fetch_add(evicted, Ordering::Relaxed);
    }

    /// Applies an advisory use to the cached view, so that the registry
    /// sees the last-used time it just wrote.
    pub(crate) fn note_use(&self, usage: &SecretUse) {
        let mut state = self.lock();
        let State {
            entries,
            bytes: total,
            ..
        } = &mut *state;
        let Some(Entry {
            view: Some(view),
            bytes,
            ..
        }) = entries.get_mut(&usage.client_id)
        else {
            return;
        };
        if view.tenant != usage.tenant {
            return;
        }
        let Some(position) = view
            .secrets
            .iter()
            .position(|s| s.secret_id == usage.secret_id)
        else {
            return;
        };
        let view = Arc::make_mut(view);
        if let Some(secret) = view.secrets.get_mut(position) {
            secret.last_used_at = secret.last_used_at.max(Some(usage.at));
            if let Some(hash) = &usage.rehash {
                secret.hash = hash.clone();
            }
        }
        let charged = Self::cost(&usage.client_id, Some(view));
        *total = (*total + charged).saturating_sub(*bytes);
        *bytes = charged;
    }
}

/// A store whose [`ClientStore::authentication_view`] is answered by an
/// [`AuthCache`]; everything else (the whole record of
/// [`ClientStore::client_for_authentication`] too) goes to the wrapped
/// store. Implements
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
/// assert!(store.authentication_view("cc_unknown").await?.is_none());
/// assert!(store.authentication_view("cc_unknown").await?.is_none());
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

    async fn clients_by_id(
        &self,
        ids: &[(TenantId, String)],
    ) -> Result<Vec<Option<ClientRecord>>, StoreError> {
        self.inner.clients_by_id(ids).await
    }

    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        // The whole record is not what the cache keeps: always fresh.
        self.inner.client_for_authentication(client_id).await
    }

    async fn authentication_view(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<AuthView>>, StoreError> {
        match self.cache.lookup(client_id) {
            Ok(cached) => Ok(cached),
            Err(ticket) => {
                let found = self.inner.authentication_view(client_id).await?;
                if let Some(ticket) = ticket {
                    self.cache.fill(client_id, found.clone(), ticket);
                }
                Ok(found)
            }
        }
    }

    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        self.inner.list(query).await
    }

    async fn count_clients(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.inner.count_clients(tenant).await
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

    async fn add_activity_counts(&self, counts: Vec<ActivityCount>) -> Result<(), StoreError> {
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
