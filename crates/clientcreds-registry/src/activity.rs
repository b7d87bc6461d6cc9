//! The token activity log off the token's path: a bounded queue drained by
//! a background writer ([`BatchedActivity`]), and counters for requests
//! that authenticated no client ([`RefusalCounts`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use clientcreds_store::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog, AuditQuery,
    AuditRecord, AuthView, ClientPage, ClientQuery, ClientRecord, ClientStore, Commit, SecretUse,
    Store, StoreError, TenantId,
};
use time::OffsetDateTime;
use tokio::sync::{Notify, oneshot};

/// Entries the queue holds before entries are dropped: 10,000.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// Most entries written by one call to
/// [`ActivityLog::record_activities`]: 500.
pub const DEFAULT_MAX_BATCH: usize = 500;

/// How a [`BatchedActivity`] queues and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActivityWriterOptions {
    /// Entries held before entries are dropped (at least 1).
    pub queue_capacity: usize,
    /// Most entries per write (at least 1).
    pub max_batch: usize,
}

impl Default for ActivityWriterOptions {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_batch: DEFAULT_MAX_BATCH,
        }
    }
}

impl ActivityWriterOptions {
    /// Sets the queue's capacity.
    #[must_use]
    pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Sets the largest batch.
    #[must_use]
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }
}

/// What a [`BatchedActivity`] has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ActivityStats {
    /// Entries dropped because the queue was full (new ones refused, and
    /// queued ones given up to make room for a tenant with fewer), or
    /// because the writer was closed.
    pub dropped: u64,
    /// Entries written to the store.
    pub written: u64,
    /// Entries lost because the store refused their batch.
    pub failed: u64,
    /// Batches written.
    pub batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
}

/// The queue: entries by arrival number (so batches keep the arrival
/// order), and each tenant's arrival numbers (so a full queue can give up
/// the newest entry of the tenant holding the most).
#[derive(Default)]
struct Queue {
    entries: BTreeMap<u64, ActivityEvent>,
    by_tenant: HashMap<Option<TenantId>, VecDeque<u64>>,
    next: u64,
    /// Flush waiters: every entry numbered below the first is written.
    flushes: Vec<(u64, oneshot::Sender<()>)>,
    closes: Vec<oneshot::Sender<()>>,
    /// No entry is accepted any more.
    closed: bool,
    /// The writer has finished.
    done: bool,
}

impl Queue {
    /// Queues `event`, or says it was dropped. When full, the newest entry
    /// of the tenant holding the most entries makes room, if that tenant
    /// holds more than the event's: each tenant keeps a fair share.
    fn push(&mut self, event: ActivityEvent, capacity: usize) -> Result<(), ()> {
        if self.closed {
            return Err(());
        }
        if self.entries.len() >= capacity {
            let mine = self.by_tenant.get(&event.tenant).map_or(0, VecDeque::len);
            let victim = self
                .by_tenant
                .iter_mut()
                .max_by_key(|(_, queued)| queued.len())
                .filter(|(_, queued)| queued.len() > mine + 1)
                .and_then(|(_, queued)| queued.pop_back());
            let Some(victim) = victim else {
                return Err(());
            };
            self.entries.remove(&victim);
            // Dropped, in the victim's stead; the new entry takes its place.
            self.enqueue(event);
            return Err(());
        }
        self.enqueue(event);
        Ok(())
    }

    fn enqueue(&mut self, event: ActivityEvent) {
        let n = self.next;
        self.next += 1;
        self.by_tenant
            .entry(event.tenant.clone())
            .or_default()
            .push_back(n);
        self.entries.insert(n, event);
    }

    /// The oldest entries, at most `max`, taken out of the queue.
    fn take(&mut self, max: usize) -> Vec<ActivityEvent> {
        let mut batch = Vec::with_capacity(max.min(self.entries.len()));
        while batch.len() < max {
            let Some((_, event)) = self.entries.pop_first() else {
                break;
            };
            if let Some(queued) = self.by_tenant.get_mut(&event.tenant) {
                queued.pop_front();
                if queued.is_empty() {
                    self.by_tenant.remove(&event.tenant);
                }
            }
            batch.push(event);
        }
        batch
    }

    /// Answers the flushes whose entries are all written.
    fn answer_flushes(&mut self) {
        let first_queued = self.entries.first_key_value().map_or(u64::MAX, |(n, _)| *n);
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flushes)
            .into_iter()
            .partition(|(upto, _)| *upto <= first_queued);
        self.flushes = waiting;
        for (_, ack) in done {
            let _ = ack.send(());
        }
    }
}

/// What the writers and the background task share.
struct Shared {
    queue: Mutex<Queue>,
    wake: Notify,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Every change to the queue completes without a fallible step.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A store whose activity entries are queued and written in batches by a
/// background task; everything else goes straight to the wrapped store.
///
/// [`ActivityLog::record_activity`] never waits: it puts the entry in a
/// bounded queue and returns. One task takes whatever is queued (up to
/// [`ActivityWriterOptions::max_batch`]) and writes it with
/// [`ActivityLog::record_activities`], a multi-row insert on the SQL
/// stores, so entries keep their order (within a client and overall).
///
/// **A full queue is shared fairly between tenants.** When it is full, a
/// new entry takes the place of the newest entry of the tenant holding the
/// most queued entries, if that tenant holds at least two more than the
/// new entry's tenant; otherwise the new entry is dropped. So one tenant's
/// flood fills the queue only while nobody else needs it: every other
/// tenant's entries still get in, and under contention each tenant keeps
/// about an equal share. Dropped entries are counted
/// ([`ActivityStats::dropped`]) and reported with a `tracing` warning
/// (the first, then every power of two); the token is issued as usual.
///
/// **What a crash can lose:** the entries still queued plus the batch being
/// written, at most `queue_capacity + max_batch` entries (10,500 by
/// default); under normal load the queue holds what arrived during one
/// insert, a few milliseconds of traffic. [`BatchedActivity::close`]
/// writes everything queued, for a graceful shutdown.
///
/// Reading the activity log through this store ([`ActivityLog::activity`])
/// first waits for the entries queued before the read, so a process reads
/// its own writes.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use clientcreds_registry::{ActivityWriterOptions, BatchedActivity};
/// use clientcreds_store::{MemoryStore, Store};
///
/// let writer = BatchedActivity::spawn(Arc::new(MemoryStore::new()), ActivityWriterOptions::default());
/// let store: Arc<dyn Store> = writer.clone();
/// // ... hand `store` to the registry; at shutdown:
/// writer.close().await;
/// # let _ = store;
/// # });
/// ```
pub struct BatchedActivity {
    inner: Arc<dyn Store>,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl fmt::Debug for BatchedActivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchedActivity")
            .field("inner", &self.inner)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl BatchedActivity {
    /// Wraps `inner` and spawns its writer on the current tokio runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `tokio::spawn` does).
    #[must_use]
    pub fn spawn(inner: Arc<dyn Store>, options: ActivityWriterOptions) -> Arc<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            capacity: options.queue_capacity.max(1),
        });
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(write_batches(
            inner.clone(),
            shared.clone(),
            options.max_batch.max(1),
            counters.clone(),
        ));
        Arc::new(Self {
            inner,
            shared,
            counters,
            task: Mutex::new(Some(task)),
        })
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> ActivityStats {
        ActivityStats {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            batches: self.counters.batches.load(Ordering::Relaxed),
        }
    }

    /// Waits until every entry queued before this call is written (or
    /// failed, or dropped). Returns at once once the writer is closed.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if queue.done {
                return;
            }
            let upto = queue.next;
            queue.flushes.push((upto, ack));
        }
        self.shared.wake.notify_one();
        let _ = done.await;
    }

    /// Writes everything queued and stops the writer; entries recorded
    /// afterwards are dropped (and counted). Call it on graceful shutdown.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        let waiting = {
            let mut queue = self.shared.lock();
            queue.closed = true;
            if queue.done {
                false
            } else {
                queue.closes.push(ack);
                true
            }
        };
        if waiting {
            self.shared.wake.notify_one();
            let _ = done.await;
        }
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn dropped(&self) {
        let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            tracing::warn!(
                dropped = n,
                "clientcreds: activity queue full; entries dropped (tokens unaffected)"
            );
        }
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    max_batch: usize,
    counters: Arc<Counters>,
) {
    loop {
        let batch = {
            let mut queue = shared.lock();
            let batch = queue.take(max_batch);
            if batch.is_empty() {
                queue.answer_flushes();
                if queue.closed {
                    queue.done = true;
                    for ack in queue.closes.drain(..) {
                        let _ = ack.send(());
                    }
                    return;
                }
            }
            batch
        };
        if batch.is_empty() {
            shared.wake.notified().await;
            continue;
        }
        let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        match store.record_activities(batch).await {
            Ok(()) => {
                counters.written.fetch_add(n, Ordering::Relaxed);
                counters.batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                counters.failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    entries = n,
                    "clientcreds: an activity batch was not written"
                );
            }
        }
        shared.lock().answer_flushes();
    }
}

#[async_trait]
impl ClientStore for BatchedActivity {
    async fn client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.client(tenant, client_id).await
    }

    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        self.inner.client_for_authentication(client_id).await
    }

    async fn authentication_view(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<AuthView>>, StoreError> {
        self.inner.authentication_view(client_id).await
    }

    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        self.inner.list(query).await
    }

    async fn count_clients(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.inner.count_clients(tenant).await
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        self.inner.commit(commit).await
    }

    async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
        self.inner.record_use(usage).await
    }
}

#[async_trait]
impl AuditLog for BatchedActivity {
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
impl ActivityLog for BatchedActivity {
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
        let queued = self.shared.lock().push(event, self.shared.capacity);
        match queued {
            Ok(()) => self.shared.wake.notify_one(),
            Err(()) => self.dropped(),
        }
        Ok(())
    }

    async fn record_activities(&self, events: Vec<ActivityEvent>) -> Result<(), StoreError> {
        for event in events {
            self.record_activity(event).await?;
        }
        Ok(())
    }

    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
        self.flush().await;
        self.inner.activity(query).await
    }

    async fn prune_activity(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.prune_activity(before).await
    }
}

/// Token requests refused before any client was authenticated (no or
/// malformed credentials, unknown client, wrong secret, bad grant type),
/// counted by reason code instead of stored one row each: they name no
/// tenant, so no activity query could return them, and a flood of them
/// would otherwise be a flood of inserts.
#[derive(Debug, Default)]
pub struct RefusalCounts {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl RefusalCounts {
    /// Counts one refusal for `reason`.
    pub(crate) fn count(&self, reason: &'static str) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(reason)
            .or_default() += 1;
    }

    /// The counts so far, by reason code (`unknown_client`, `bad_secret`,
    /// `no_credentials`, `unsupported_grant_type`, ...).
    #[must_use]
    pub fn by_reason(&self) -> BTreeMap<&'static str, u64> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// All refusals counted so far.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.by_reason().values().sum()
    }
}
