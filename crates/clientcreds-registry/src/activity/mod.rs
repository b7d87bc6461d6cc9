//! The token activity log off the token's path ([`BatchedActivity`]):
//! issuance and refusals summed in memory per client, secret, source and
//! minute and added to the store's counts every flush interval; individual
//! entries (bounded refusal rows) in a bounded queue drained by the same
//! background writer; and counters for requests that authenticated no
//! client ([`RefusalCounts`]).

mod queue;
mod refusals;
mod tally;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use clientcreds_store::{
    ActivityCount, ActivityCountQuery, ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord,
    AuditEvent, AuditLog, AuditQuery, AuditRecord, AuthView, ClientPage, ClientQuery, ClientRecord,
    ClientStore, Commit, SecretUse, Store, StoreError, TenantId,
};
use time::OffsetDateTime;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use self::queue::{Flush, Queue};
pub use self::refusals::RefusalCounts;
use self::tally::Tally;

/// Individual entries the queue holds before entries are dropped: 10,000.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// Most entries written by one call to
/// [`ActivityLog::record_activities`]: 500.
pub const DEFAULT_MAX_BATCH: usize = 500;
/// How often summed counts are added to the store: every second. A crash
/// loses at most the counts of this interval (plus the write in flight).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Distinct (client, secret, source, minute, outcome) keys summed between
/// two flushes before new sources are left out of the key: 100,000.
pub const DEFAULT_MAX_COUNT_KEYS: usize = 100_000;

/// How a [`BatchedActivity`] queues and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActivityWriterOptions {
    /// Individual entries held before entries are dropped (at least 1).
    pub queue_capacity: usize,
    /// Most entries per write (at least 1).
    pub max_batch: usize,
    /// How often summed counts are written (at least 1 ms).
    pub flush_interval: Duration,
    /// Distinct count keys held between flushes before a new key loses its
    /// source (at least 1).
    pub max_count_keys: usize,
}

impl Default for ActivityWriterOptions {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_batch: DEFAULT_MAX_BATCH,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            max_count_keys: DEFAULT_MAX_COUNT_KEYS,
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

    /// Sets how often counts are written: what a crash can lose.
    #[must_use]
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Sets how many distinct count keys are held between flushes.
    #[must_use]
    pub fn with_max_count_keys(mut self, keys: usize) -> Self {
        self.max_count_keys = keys.max(1);
        self
    }
}

/// What a [`BatchedActivity`] has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ActivityStats {
    /// Individual entries dropped because the queue was full (new ones
    /// refused, and queued ones given up to make room for a tenant with
    /// fewer), or because the writer was closed. Counts are never dropped.
    pub dropped: u64,
    /// Individual entries written to the store.
    pub written: u64,
    /// Individual entries lost because the store refused their batch.
    pub failed: u64,
    /// Batches of individual entries written.
    pub batches: u64,
    /// The sum of the counts written to the store (tokens issued plus
    /// refusals counted).
    pub counted: u64,
    /// Writes of counts the store refused; their counts were kept and
    /// written with the next flush.
    pub count_retries: u64,
    /// Counts lost: those of a final write at [`BatchedActivity::close`]
    /// that the store refused, and every count offered to a store that
    /// answers [`StoreError::Unsupported`] (one written before counts
    /// existed).
    pub counts_lost: u64,
    /// Counts whose source was left out because the tally held
    /// [`ActivityWriterOptions::max_count_keys`] keys.
    pub unattributed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
    counted: AtomicU64,
    count_retries: AtomicU64,
    counts_lost: AtomicU64,
}

/// What the writers and the background task share.
struct Shared {
    queue: Mutex<Queue>,
    /// Locked on its own: the token path takes only this lock.
    tally: Mutex<Tally>,
    wake: Notify,
    capacity: usize,
    /// The writer has finished: counts go straight to the store.
    finished: AtomicBool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Every change to the queue completes without a fallible step.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A store whose activity is summed and queued in memory and written by a
/// background task; everything else goes straight to the wrapped store.
///
/// **Counts lose nothing.** [`ActivityLog::add_activity_counts`] (how the
/// token endpoint records every issued token, and every refusal of a known
/// client) never waits and never drops: it adds to an in-memory sum per
/// (tenant, client, secret, source, minute, outcome), and the task adds the
/// sums to the store every [`ActivityWriterOptions::flush_interval`] (1 s by
/// default) in one transaction. Memory grows with the distinct keys of one
/// interval, not with the traffic; past
/// [`ActivityWriterOptions::max_count_keys`] a new key loses its source
/// instead of its count. A write the store refuses is kept and retried with
/// the next flush. Two replicas sharing a database add to the same rows.
///
/// **Individual entries are bounded.** [`ActivityLog::record_activity`]
/// (the refusal rows, at most one per client and reason per
/// [`DENIAL_ROW_INTERVAL`](crate::DENIAL_ROW_INTERVAL)) puts the entry in a
/// bounded queue and returns; the task writes whatever is queued (up to
/// [`ActivityWriterOptions::max_batch`]) with
/// [`ActivityLog::record_activities`], a multi-row insert on the SQL
/// stores, so entries keep their order. When the queue is full, a new entry
/// takes the place of the newest entry of the tenant holding the most
/// queued entries, if that tenant holds at least two more than the new
/// entry's tenant; otherwise the new entry is dropped: each tenant keeps a
/// fair share. Dropped entries are counted ([`ActivityStats::dropped`]) and
/// reported with a `tracing` warning (the first, then every power of two).
///
/// **What a crash can lose:** the counts of the current flush interval
/// (1 s by default) and of the write in flight, and the individual entries
/// still queued (under normal load, those of a few milliseconds).
/// [`BatchedActivity::close`] writes everything, for a graceful shutdown.
///
/// Reading through this store ([`ActivityLog::activity`],
/// [`ActivityLog::activity_counts`]) first waits for what was recorded
/// before the read to be written, so a process reads its own writes.
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
            tally: Mutex::new(Tally::new(options.max_count_keys)),
            wake: Notify::new(),
            capacity: options.queue_capacity.max(1),
            finished: AtomicBool::new(false),
        });
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            store: inner.clone(),
            shared: shared.clone(),
            max_batch: options.max_batch.max(1),
            interval: options.flush_interval.max(Duration::from_millis(1)),
            counters: counters.clone(),
        };
        let task = tokio::spawn(writer.run());
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
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ActivityStats {
            written: load(&self.counters.written),
            dropped: load(&self.counters.dropped),
            failed: load(&self.counters.failed),
            batches: load(&self.counters.batches),
            counted: load(&self.counters.counted),
            count_retries: load(&self.counters.count_retries),
            counts_lost: load(&self.counters.counts_lost),
            unattributed: self.shared.tally().unattributed,
        }
    }

    /// Waits until every entry queued and every count added before this
    /// call is written (or failed, or dropped). Returns at once once the
    /// writer is closed.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if queue.done {
                return;
            }
            let flush = Flush {
                upto: queue.next,
                round: queue.counts_started + 1,
                ack,
            };
            queue.flushes.push(flush);
        }
        self.shared.wake.notify_one();
        let _ = done.await;
    }

    /// Writes everything queued and summed and stops the writer; entries
    /// recorded afterwards are dropped (and counted), counts added
    /// afterwards are written straight to the store. Call it on graceful
    /// shutdown.
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

/// The background task.
struct Writer {
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    max_batch: usize,
    interval: Duration,
    counters: Arc<Counters>,
}

impl Writer {
    async fn run(self) {
        // When the summed counts are next written (`None`: nothing summed
        // since the last write).
        let mut due: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if due.is_none() && !self.shared.tally().is_empty() {
                due = Some(now + self.interval);
            }
            let (batch, counts) = {
                let mut queue = self.shared.lock();
                let batch = queue.take(self.max_batch);
                let write_counts =
                    queue.closed || queue.tally_wanted() || due.is_some_and(|at| at <= now);
                let counts = if write_counts {
                    queue.counts_started += 1;
                    let taken = self.shared.tally().take();
                    if taken.is_empty() {
                        queue.counts_finished = queue.counts_started;
                        None
                    } else {
                        Some(taken)
                    }
                } else {
                    None
                };
                if batch.is_empty() && counts.is_none() {
                    queue.answer_flushes();
                    if queue.closed {
                        queue.done = true;
                        self.shared.finished.store(true, Ordering::Release);
                        for ack in queue.closes.drain(..) {
                            let _ = ack.send(());
                        }
                        return;
                    }
                }
                (batch, counts)
            };
            if batch.is_empty() && counts.is_none() {
                match due {
                    Some(at) => {
                        let _ = tokio::time::timeout_at(at, self.shared.wake.notified()).await;
                    }
                    None => self.shared.wake.notified().await,
                }
                continue;
            }
            if !batch.is_empty() {
                self.write_entries(batch).await;
            }
            if let Some(counts) = counts {
                due = None;
                self.write_counts(counts).await;
            }
            let mut queue = self.shared.lock();
            queue.counts_finished = queue.counts_started;
            queue.answer_flushes();
        }
    }

    async fn write_entries(&self, batch: Vec<ActivityEvent>) {
        let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        match self.store.record_activities(batch).await {
            Ok(()) => {
                self.counters.written.fetch_add(n, Ordering::Relaxed);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.counters.failed.fetch_add(n, Ordering::Relaxed);
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    entries = n,
                    "clientcreds: an activity batch was not written"
                );
            }
        }
    }

    /// Adds `counts` to the store; on failure keeps them for the next
    /// flush, unless the writer is closing (then they are counted lost).
    async fn write_counts(&self, counts: Vec<ActivityCount>) {
        let n: u64 = counts.iter().map(|c| c.count).sum();
        let kept = counts.clone();
        match self.store.add_activity_counts(counts).await {
            Ok(()) => {
                self.counters.counted.fetch_add(n, Ordering::Relaxed);
            }
            Err(error) => {
                // A store without counts (written before them) can never
                // take them: give them up rather than hold them for ever.
                let closing =
                    self.shared.lock().closed || matches!(error, StoreError::Unsupported { .. });
                if closing {
                    self.counters.counts_lost.fetch_add(n, Ordering::Relaxed);
                } else {
                    self.counters.count_retries.fetch_add(1, Ordering::Relaxed);
                    let mut tally = self.shared.tally();
                    for count in kept {
                        tally.add(count);
                    }
                }
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    counts = n,
                    kept = !closing,
                    "clientcreds: activity counts were not written"
                );
            }
        }
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

    async fn clients_by_id(
        &self,
        ids: &[(TenantId, String)],
    ) -> Result<Vec<Option<ClientRecord>>, StoreError> {
        self.inner.clients_by_id(ids).await
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

    async fn add_activity_counts(&self, counts: Vec<ActivityCount>) -> Result<(), StoreError> {
        if self.shared.finished.load(Ordering::Acquire) {
            return self.inner.add_activity_counts(counts).await;
        }
        let was_empty = {
            let mut tally = self.shared.tally();
            let was_empty = tally.is_empty();
            for count in counts {
                tally.add(count);
            }
            was_empty
        };
        // The writer sleeps without a deadline while nothing is summed.
        if was_empty {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    async fn activity_counts(
        &self,
        query: &ActivityCountQuery,
    ) -> Result<Vec<ActivityCount>, StoreError> {
        self.flush().await;
        self.inner.activity_counts(query).await
    }

    async fn prune_activity_counts(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.prune_activity_counts(before).await
    }
}
