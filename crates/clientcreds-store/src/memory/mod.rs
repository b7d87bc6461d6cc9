//! The in-memory store: the embedded default, and the reference for the
//! conformance kit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{
    ActivityCount, ActivityCountQuery, ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord,
    AuditEvent, AuditLog, AuditQuery, AuditRecord, AuthView, ClientPage, ClientQuery, ClientRecord,
    ClientStore, Commit, Cursor, KeyChange, KeyRing, KeyStore, SecretUse, StoreError, TenantId,
    Write, sort_keys, validate_stored_key,
};
use crate::{
    Claim, DueWarning, WarningKey, WarningLedger, WarningOutcome, WarningRecord, WarningState,
    sort_warnings,
};

mod counts;

use self::counts::CountKey;

/// Position of a client in its tenant's listing: creation time, then id.
type OrderKey = (TenantId, i128, String);

/// A store in process memory, safe to share across tasks (`Arc<MemoryStore>`).
///
/// Lookup by client id is one hash-map probe whatever the number of
/// clients; listings walk a per-tenant ordered index from the cursor.
/// Everything is lost when the process exits: use it for tests, examples,
/// and hosts whose clients are configured at start-up.
///
/// The audit trail and the activity log are bounded: each keeps at most
/// [`DEFAULT_LOG_CAPACITY`] records (100,000; set another bound with
/// [`MemoryStore::with_log_capacity`]), dropping the oldest first, so an
/// embedded issuer's memory does not grow with its traffic. Sequence
/// numbers keep increasing across dropped records.
///
/// ```
/// use std::sync::Arc;
/// use clientcreds_store::{MemoryStore, Store};
///
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: RwLock<Inner>,
}

/// How many records [`MemoryStore`] keeps in each of its two logs (audit
/// and activity) unless told otherwise.
pub const DEFAULT_LOG_CAPACITY: usize = 100_000;

#[derive(Debug)]
struct Inner {
    clients: HashMap<String, ClientRecord>,
    /// Each client's authentication view, rebuilt when it changes: the
    /// token endpoint's read is a reference-count increment.
    views: HashMap<String, Arc<AuthView>>,
    /// Clients per tenant.
    counts: HashMap<TenantId, u64>,
    order: BTreeSet<OrderKey>,
    audit: BoundedLog<AuditRecord>,
    activity: BoundedLog<ActivityRecord>,
    /// The activity counts, oldest minute first; at most `count_capacity`.
    activity_counts: BTreeMap<CountKey, u64>,
    count_capacity: usize,
    keys: KeyRing,
    /// Secrets with a warning due: (due, client id, secret id).
    warning_index: BTreeSet<(OffsetDateTime, String, String)>,
    /// The warning ledger, by its whole key.
    warnings: BTreeMap<LedgerKey, WarningRecord>,
}

/// A warning's place in the ledger: (tenant, client id, secret id, stage,
/// recipient).
type LedgerKey = (TenantId, String, String, u32, String);

fn ledger_key(key: &WarningKey) -> LedgerKey {
    (
        key.tenant.clone(),
        key.client_id.clone(),
        key.secret_id.clone(),
        key.stage_days,
        key.recipient.clone(),
    )
}

impl Default for Inner {
    fn default() -> Self {
        Self {
            clients: HashMap::new(),
            views: HashMap::new(),
            counts: HashMap::new(),
            order: BTreeSet::new(),
            audit: BoundedLog::new(DEFAULT_LOG_CAPACITY),
            activity: BoundedLog::new(DEFAULT_LOG_CAPACITY),
            activity_counts: BTreeMap::new(),
            count_capacity: DEFAULT_LOG_CAPACITY,
            keys: KeyRing::default(),
            warning_index: BTreeSet::new(),
            warnings: BTreeMap::new(),
        }
    }
}

/// A log of sequence-numbered records, oldest first, holding at most
/// `capacity` of them.
#[derive(Debug)]
struct BoundedLog<R> {
    records: VecDeque<R>,
    capacity: usize,
    last_seq: u64,
}

impl<R: Sequenced + Clone> BoundedLog<R> {
    fn new(capacity: usize) -> Self {
        Self {
            records: VecDeque::new(),
            capacity: capacity.max(1),
            last_seq: 0,
        }
    }

    /// Numbers and appends a record, dropping the oldest when full.
    fn push(&mut self, make: impl FnOnce(u64) -> R) {
        self.last_seq += 1;
        if self.records.len() >= self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(make(self.last_seq));
    }

    /// Records after `after` (sequence order) that pass `keep`, at most `limit`.
    fn page(&self, after: u64, limit: usize, keep: impl Fn(&R) -> bool) -> Vec<R> {
        let from = self.records.partition_point(|r| r.seq() <= after);
        self.records
            .range(from..)
            .filter(|r| keep(r))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Drops the records `old` says are old; returns how many.
    fn prune(&mut self, old: impl Fn(&R) -> bool) -> u64 {
        let before = self.records.len();
        self.records.retain(|r| !old(r));
        u64::try_from(before - self.records.len()).unwrap_or(u64::MAX)
    }
}

trait Sequenced {
    fn seq(&self) -> u64;
}

impl Sequenced for AuditRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
}

impl Sequenced for ActivityRecord {
    fn seq(&self) -> u64 {
        self.seq
    }
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose audit trail and activity log each keep at most
    /// `capacity` records (at least 1), dropping the oldest first.
    ///
    /// ```
    /// use clientcreds_store::MemoryStore;
    /// let store = MemoryStore::with_log_capacity(10_000);
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn with_log_capacity(capacity: usize) -> Self {
        let store = Self::default();
        store.write(|inner| {
            inner.audit = BoundedLog::new(capacity);
            inner.activity = BoundedLog::new(capacity);
            inner.count_capacity = capacity.max(1);
        });
        store
    }

    /// The number of clients stored, in all tenants.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read(|inner| inner.clients.len())
    }

    /// Whether no client is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        // A panic while holding the lock cannot leave `Inner` half-written:
        // every mutation is validated first and applied without fallible steps.
        f(&self.inner.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.write().unwrap_or_else(PoisonError::into_inner))
    }
}

fn order_key(record: &ClientRecord) -> OrderKey {
    (
        record.tenant.clone(),
        record.created_at.unix_timestamp_nanos(),
        record.client_id.clone(),
    )
}

fn encode_cursor(key: &OrderKey) -> Cursor {
    Cursor::from_text(format!("{}.{}", key.1, key.2))
}

fn decode_cursor(tenant: &TenantId, cursor: &Cursor) -> Result<OrderKey, StoreError> {
    let (nanos, client_id) = cursor
        .as_str()
        .split_once('.')
        .ok_or(StoreError::InvalidCursor)?;
    let nanos = nanos
        .parse::<i128>()
        .map_err(|_| StoreError::InvalidCursor)?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|_| StoreError::InvalidCursor)?;
    if client_id.is_empty() {
        return Err(StoreError::InvalidCursor);
    }
    Ok((tenant.clone(), nanos, client_id.to_owned()))
}

impl Inner {
    /// Checks every write against the state before the commit. A client may
    /// appear in at most one write of a commit.
    fn validate(&self, tenant: &TenantId, writes: &[Write]) -> Result<(), StoreError> {
        let mut inserted: HashSet<&str> = HashSet::new();
        let mut touched: HashSet<&str> = HashSet::new();
        for write in writes {
            match write {
                Write::Insert(record) => {
                    if &record.tenant != tenant {
                        return Err(StoreError::NotFound);
                    }
                    if self.clients.contains_key(&record.client_id)
                        || !inserted.insert(&record.client_id)
                    {
                        return Err(StoreError::Duplicate);
                    }
                }
                Write::Update {
                    expected_version,
                    record,
                } => {
                    let id = record.client_id.as_str();
                    let current = self
                        .clients
                        .get(id)
                        .filter(|c| &c.tenant == tenant && &record.tenant == tenant);
                    let current = current.ok_or(StoreError::NotFound)?;
                    if current.version != *expected_version
                        || !touched.insert(id)
                        || inserted.contains(id)
                    {
                        return Err(StoreError::Conflict);
                    }
                }
                Write::Delete {
                    client_id,
                    expected_version,
                } => {
                    let current = self.clients.get(client_id).filter(|c| &c.tenant == tenant);
                    let current = current.ok_or(StoreError::NotFound)?;
                    if current.version != *expected_version || !touched.insert(client_id) {
                        return Err(StoreError::Conflict);
                    }
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, write: Write) {
        match write {
            Write::Insert(mut record) => {
                record.version = 1;
                self.index(&record);
                self.clients.insert(record.client_id.clone(), record);
            }
            Write::Update {
                expected_version,
                mut record,
            } => {
                record.version = expected_version + 1;
                if let Some(old) = self.clients.remove(&record.client_id) {
                    self.unindex(&old);
                }
                self.index(&record);
                self.clients.insert(record.client_id.clone(), record);
            }
            Write::Delete { client_id, .. } => {
                if let Some(old) = self.clients.remove(&client_id) {
                    self.unindex(&old);
                }
            }
        }
    }

    fn index(&mut self, record: &ClientRecord) {
        self.order.insert(order_key(record));
        self.views
            .insert(record.client_id.clone(), Arc::new(AuthView::of(record)));
        *self.counts.entry(record.tenant.clone()).or_default() += 1;
        for secret in &record.secrets {
            if let Some(due) = secret.warning_due {
                self.warning_index.insert((
                    due,
                    record.client_id.clone(),
                    secret.secret_id.clone(),
                ));
            }
        }
    }

    fn unindex(&mut self, record: &ClientRecord) {
        self.order.remove(&order_key(record));
        self.views.remove(&record.client_id);
        if let Some(count) = self.counts.get_mut(&record.tenant) {
            *count = count.saturating_sub(1);
        }
        for secret in &record.secrets {
            if let Some(due) = secret.warning_due {
                self.warning_index.remove(&(
                    due,
                    record.client_id.clone(),
                    secret.secret_id.clone(),
                ));
            }
        }
    }

    fn push_audit(&mut self, event: AuditEvent) {
        self.audit.push(|seq| AuditRecord { seq, event });
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.read(|inner| {
            inner
                .clients
                .get(client_id)
                .filter(|c| &c.tenant == tenant)
                .cloned()
        }))
    }

    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.read(|inner| inner.clients.get(client_id).cloned()))
    }

    async fn authentication_view(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<AuthView>>, StoreError> {
        Ok(self.read(|inner| inner.views.get(client_id).cloned()))
    }

    async fn count_clients(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        Ok(self.read(|inner| inner.counts.get(tenant).copied().unwrap_or(0)))
    }

    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        let start = match &query.after {
            Some(cursor) => std::ops::Bound::Excluded(decode_cursor(&query.tenant, cursor)?),
            None => std::ops::Bound::Included((query.tenant.clone(), i128::MIN, String::new())),
        };
        let search = query.search.as_ref().map(|s| s.to_lowercase());
        let limit = query.limit.max(1);
        Ok(self.read(|inner| {
            let mut clients = Vec::with_capacity(limit.min(256));
            let mut last = None;
            let mut more = false;
            for key in inner.order.range((start, std::ops::Bound::Unbounded)) {
                if key.0 != query.tenant {
                    break;
                }
                let Some(record) = inner.clients.get(&key.2) else {
                    continue;
                };
                let wanted = query.matches(record, search.as_deref());
                if !wanted {
                    continue;
                }
                if clients.len() == limit {
                    more = true;
                    break;
                }
                clients.push(record.clone());
                last = Some(key);
            }
            let next = if more { last.map(encode_cursor) } else { None };
            ClientPage { clients, next }
        }))
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let (tenant, writes, audit) = commit.into_parts();
        self.write(|inner| {
            inner.validate(&tenant, &writes)?;
            for write in writes {
                inner.apply(write);
            }
            inner.push_audit(audit);
            Ok(())
        })
    }

    async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
        self.write(|inner| {
            let Some(client) = inner
                .clients
                .get_mut(&usage.client_id)
                .filter(|c| c.tenant == usage.tenant)
            else {
                return Ok(());
            };
            client.last_used_at = client.last_used_at.max(Some(usage.at));
            if let Some(secret) = client
                .secrets
                .iter_mut()
                .find(|s| s.secret_id == usage.secret_id)
            {
                secret.last_used_at = secret.last_used_at.max(Some(usage.at));
                if let Some(hash) = &usage.rehash {
                    secret.hash = hash.clone();
                }
            }
            let view = Arc::new(AuthView::of(client));
            inner.views.insert(usage.client_id.clone(), view);
            Ok(())
        })
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.write(|inner| inner.push_audit(event));
        Ok(())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let after = query.after_seq.unwrap_or(0);
        Ok(self.read(|inner| {
            inner.audit.page(after, query.limit, |r| {
                r.event.tenant == query.tenant
                    && (query.client_id.is_none() || r.event.client_id == query.client_id)
            })
        }))
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(self.write(|inner| inner.audit.prune(|r| r.event.at < before)))
    }
}

#[async_trait]
impl ActivityLog for MemoryStore {
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
        self.write(|inner| inner.activity.push(|seq| ActivityRecord { seq, event }));
        Ok(())
    }

    async fn record_activities(&self, events: Vec<ActivityEvent>) -> Result<(), StoreError> {
        self.write(|inner| {
            for event in events {
                inner.activity.push(|seq| ActivityRecord { seq, event });
            }
        });
        Ok(())
    }

    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
        let after = query.after_seq.unwrap_or(0);
        Ok(self.read(|inner| {
            inner.activity.page(after, query.limit, |r| {
                r.event.tenant.as_ref() == Some(&query.tenant)
                    && query
                        .client_id
                        .as_ref()
                        .is_none_or(|c| &r.event.client_id == c)
            })
        }))
    }

    async fn prune_activity(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(self.write(|inner| inner.activity.prune(|r| r.event.at < before)))
    }

    async fn add_activity_counts(&self, counts: Vec<ActivityCount>) -> Result<(), StoreError> {
        self.write(|inner| inner.add_counts(counts));
        Ok(())
    }

    async fn activity_counts(
        &self,
        query: &ActivityCountQuery,
    ) -> Result<Vec<ActivityCount>, StoreError> {
        Ok(self.read(|inner| inner.read_counts(query)))
    }

    async fn prune_activity_counts(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(self.write(|inner| inner.prune_counts(before)))
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn signing_keys(&self) -> Result<KeyRing, StoreError> {
        Ok(self.read(|inner| inner.keys.clone()))
    }

    async fn change_signing_keys(
        &self,
        expected_revision: u64,
        changes: &[KeyChange],
    ) -> Result<u64, StoreError> {
        self.write(|inner| {
            if inner.keys.revision != expected_revision {
                return Err(StoreError::Conflict);
            }
            // Apply to a copy, then swap: a failing change writes nothing.
            let mut keys = inner.keys.keys.clone();
            let mut withdrawn = inner.keys.withdrawn.clone();
            let mut audit = Vec::new();
            for change in changes {
                match change {
                    KeyChange::Insert(key) => {
                        validate_stored_key(key)?;
                        if withdrawn.contains(&key.kid) {
                            return Err(StoreError::InvalidKey {
                                reason: "this kid was withdrawn",
                            });
                        }
                        if keys.iter().any(|k| k.kid == key.kid) {
                            return Err(StoreError::Duplicate);
                        }
                        keys.push(key.clone());
                    }
                    KeyChange::Update(key) => {
                        validate_stored_key(key)?;
                        let slot = keys
                            .iter_mut()
                            .find(|k| k.kid == key.kid)
                            .ok_or(StoreError::NotFound)?;
                        *slot = key.clone();
                    }
                    KeyChange::Remove { kid } => {
                        let before = keys.len();
                        keys.retain(|k| &k.kid != kid);
                        if keys.len() == before {
                            return Err(StoreError::NotFound);
                        }
                    }
                    KeyChange::Withdraw { kid } => {
                        if kid.is_empty() || kid.len() > crate::MAX_KID_LEN {
                            return Err(StoreError::InvalidKey {
                                reason: "kid must be 1 to 128 bytes",
                            });
                        }
                        keys.retain(|k| &k.kid != kid);
                        if !withdrawn.contains(kid) {
                            withdrawn.push(kid.clone());
                        }
                    }
                    KeyChange::Audit(event) => audit.push(event.clone()),
                }
            }
            sort_keys(&mut keys);
            withdrawn.sort();
            let revision = expected_revision
                .checked_add(1)
                .ok_or(StoreError::Conflict)?;
            inner.keys = KeyRing {
                revision,
                keys,
                withdrawn,
            };
            for event in audit {
                inner.push_audit(event);
            }
            Ok(revision)
        })
    }
}

#[async_trait]
impl WarningLedger for MemoryStore {
    async fn due_warnings(
        &self,
        now: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<DueWarning>, StoreError> {
        Ok(self.read(|inner| {
            inner
                .warning_index
                .iter()
                .take_while(|(due, _, _)| *due <= now)
                .filter_map(|(due, client_id, secret_id)| {
                    let client = inner.clients.get(client_id)?;
                    Some(DueWarning {
                        tenant: client.tenant.clone(),
                        client_id: client_id.clone(),
                        secret_id: secret_id.clone(),
                        due_at: *due,
                    })
                })
                .take(limit)
                .collect()
        }))
    }

    async fn set_warning_due(
        &self,
        tenant: &TenantId,
        client_id: &str,
        secret_id: &str,
        expected: OffsetDateTime,
        next: Option<OffsetDateTime>,
    ) -> Result<bool, StoreError> {
        Ok(self.write(|inner| {
            let Some(client) = inner
                .clients
                .get_mut(client_id)
                .filter(|c| &c.tenant == tenant)
            else {
                return false;
            };
            let Some(secret) = client
                .secrets
                .iter_mut()
                .find(|s| s.secret_id == secret_id && s.warning_due == Some(expected))
            else {
                return false;
            };
            secret.warning_due = next;
            inner
                .warning_index
                .remove(&(expected, client_id.to_owned(), secret_id.to_owned()));
            if let Some(next) = next {
                inner
                    .warning_index
                    .insert((next, client_id.to_owned(), secret_id.to_owned()));
            }
            true
        }))
    }

    async fn claim_warning(
        &self,
        key: &WarningKey,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Claim, StoreError> {
        Ok(self.write(|inner| {
            let record = inner
                .warnings
                .entry(ledger_key(key))
                .or_insert_with(|| WarningRecord {
                    key: key.clone(),
                    state: WarningState::Pending,
                    attempts: 0,
                    next_attempt_at: now,
                    detail: String::new(),
                    updated_at: now,
                });
            // While a lease is held, `next_attempt_at` is its end.
            match record.state {
                WarningState::Pending if record.next_attempt_at <= now => {
                    record.attempts += 1;
                    record.next_attempt_at = lease_until;
                    record.updated_at = now;
                    Claim::Claimed {
                        attempt: record.attempts,
                    }
                }
                WarningState::Pending => Claim::Busy {
                    until: record.next_attempt_at,
                },
                _ => Claim::Finished,
            }
        }))
    }

    async fn finish_warning(
        &self,
        key: &WarningKey,
        attempt: u32,
        outcome: &WarningOutcome,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(self.write(|inner| {
            let Some(record) = inner
                .warnings
                .get_mut(&ledger_key(key))
                .filter(|r| r.state == WarningState::Pending && r.attempts == attempt)
            else {
                return false;
            };
            record.updated_at = now;
            match outcome {
                WarningOutcome::Sent => {
                    record.state = WarningState::Sent;
                    record.next_attempt_at = now;
                    record.detail.clear();
                }
                WarningOutcome::Undeliverable { reason } => {
                    record.state = WarningState::Undeliverable;
                    record.next_attempt_at = now;
                    record.detail.clone_from(reason);
                }
                WarningOutcome::Failed { reason, retry_at } => {
                    record.next_attempt_at = *retry_at;
                    record.detail.clone_from(reason);
                }
            }
            true
        }))
    }

    async fn warnings(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Vec<WarningRecord>, StoreError> {
        let mut records: Vec<WarningRecord> = self.read(|inner| {
            inner
                .warnings
                .values()
                .filter(|r| &r.key.tenant == tenant && r.key.client_id == client_id)
                .cloned()
                .collect()
        });
        sort_warnings(&mut records);
        Ok(records)
    }

    async fn sent_warnings(
        &self,
        tenant: &TenantId,
        recipient: &str,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        Ok(u64::try_from(self.read(|inner| {
            inner
                .warnings
                .values()
                .filter(|r| {
                    r.state == WarningState::Sent
                        && &r.key.tenant == tenant
                        && r.key.recipient == recipient
                        && r.updated_at >= since
                })
                .count()
        }))
        .unwrap_or(u64::MAX))
    }
}
