//! The token activity log off the token's path: a bounded queue drained by
//! a background writer ([`BatchedActivity`]), and counters for requests
//! that authenticated no client ([`RefusalCounts`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use clientcreds_store::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog, AuditQuery,
    AuditRecord, ClientPage, ClientQuery, ClientRecord, ClientStore, Commit, SecretUse, Store,
    StoreError, TenantId,
};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Entries the queue holds before new ones are dropped: 10,000.
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;
/// Most entries written by one call to
/// [`ActivityLog::record_activities`]: 500.
pub const DEFAULT_MAX_BATCH: usize = 500;

/// How a [`BatchedActivity`] queues and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActivityWriterOptions {
    /// Entries held before new ones are dropped (at least 1).
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
    /// Entries written to the store.
    pub written: u64,
    /// Entries dropped because the queue was full (or the writer closed).
    pub dropped: u64,
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

enum Message {
    Event(ActivityEvent),
    Flush(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

/// A store whose activity entries are queued and written in batches by a
/// background task; everything else goes straight to the wrapped store.
///
/// [`ActivityLog::record_activity`] never waits: it puts the entry in a
/// bounded queue and returns. When the queue is full the entry is dropped,
/// counted ([`ActivityStats::dropped`]) and reported with a `tracing`
/// warning (the first, then every power of two), and the token is issued
/// as usual. One task takes whatever is queued (up to
/// [`ActivityWriterOptions::max_batch`]) and writes it with
/// [`ActivityLog::record_activities`], a multi-row insert on the SQL
/// stores, so entries keep their order (within a client and overall).
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
    sender: mpsc::Sender<Message>,
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
        let (sender, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(write_batches(
            inner.clone(),
            receiver,
            options.max_batch.max(1),
            counters.clone(),
        ));
        Arc::new(Self {
            inner,
            sender,
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
    /// failed). Returns at once once the writer is closed.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.sender.send(Message::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Writes everything queued and stops the writer; entries recorded
    /// afterwards are dropped (and counted). Call it on graceful shutdown.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.sender.send(Message::Close(ack)).await.is_ok() {
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
    mut receiver: mpsc::Receiver<Message>,
    max_batch: usize,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut acks = Vec::new();
    let mut closed = Vec::new();
    while let Some(first) = receiver.recv().await {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Event(event) => batch.push(event),
                Message::Flush(ack) => acks.push(ack),
                // No more sends; what is queued is still received and written.
                Message::Close(ack) => {
                    receiver.close();
                    closed.push(ack);
                }
            }
            if batch.len() < max_batch {
                next = receiver.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let events = std::mem::replace(&mut batch, Vec::with_capacity(max_batch));
            let n = u64::try_from(events.len()).unwrap_or(u64::MAX);
            match store.record_activities(events).await {
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
        }
        for ack in acks.drain(..) {
            let _ = ack.send(());
        }
    }
    for ack in closed {
        let _ = ack.send(());
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
        if self.sender.try_send(Message::Event(event)).is_err() {
            self.dropped();
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
