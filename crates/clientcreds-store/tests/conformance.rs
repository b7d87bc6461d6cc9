//! Runs the conformance kit against `MemoryStore`, and against stores broken
//! on purpose, to show that the kit notices each breakage and names the
//! check that caught it.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use clientcreds_store::{
    ActivityCount, ActivityCountQuery, ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord,
    AuditEvent, AuditLog, AuditQuery, AuditRecord, ClientPage, ClientQuery, ClientRecord,
    ClientStore, Commit, Cursor, MemoryStore, SecretUse, Store, StoreError, TenantId, Write,
    conformance,
};
use time::OffsetDateTime;

#[tokio::test]
async fn memory_store_conforms() {
    conformance::run(|| async { MemoryStore::new() }).await;
}

#[tokio::test]
async fn memory_warning_ledger_conforms() {
    conformance::run_warning_ledger(|| async { MemoryStore::new() }).await;
}

#[tokio::test]
async fn memory_key_store_conforms() {
    conformance::run_key_store(|| async { MemoryStore::new() }).await;
    conformance::run_key_store(|| async {
        Arc::new(MemoryStore::new()) as Arc<dyn clientcreds_store::KeyStore>
    })
    .await;
}

#[tokio::test]
async fn cached_memory_store_conforms() {
    conformance::run(|| async {
        let cache = Arc::new(clientcreds_store::AuthCache::default());
        clientcreds_store::CachedStore::new(MemoryStore::new(), cache)
    })
    .await;
}

#[tokio::test]
async fn shared_memory_store_conforms() {
    conformance::run(|| async { Arc::new(MemoryStore::new()) as Arc<dyn Store> }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_runs_on_a_spawned_task() {
    tokio::spawn(conformance::run(|| async { MemoryStore::new() }))
        .await
        .unwrap();
}

#[tokio::test]
#[should_panic(expected = "conformance check `update_with_version` failed")]
async fn run_names_the_failed_check() {
    conformance::run(|| async { Broken::new(Fault::IgnoresVersion) }).await;
}

/// One store broken on purpose, and the check that must catch it.
macro_rules! caught {
    ($test:ident, $fault:ident, $check:ident, $expected:literal) => {
        #[tokio::test]
        #[should_panic(expected = $expected)]
        async fn $test() {
            conformance::$check(&Broken::new(Fault::$fault)).await;
        }
    };
}

caught!(
    pruning_at_the_cutoff,
    PrunesAtCutoff,
    activity_retention,
    "conformance check `activity_retention` failed: entries pruned"
);
caught!(
    batch_written_reversed,
    BatchReversed,
    activity_batch,
    "conformance check `activity_batch` failed: the entries, in recording order"
);
caught!(
    counts_overwriting_each_other,
    CountsOverwrite,
    activity_counts,
    "conformance check `activity_counts` failed: tenant A's counts, added up, in order"
);
caught!(
    client_ignoring_the_tenant,
    ClientIgnoresTenant,
    insert_and_read,
    "conformance check `insert_and_read` failed: `client` from another tenant"
);
caught!(
    commit_ignoring_versions,
    IgnoresVersion,
    update_with_version,
    "conformance check `update_with_version` failed: updating with a stale version"
);
caught!(
    delete_ignoring_versions,
    IgnoresVersion,
    delete_with_version,
    "conformance check `delete_with_version` failed: deleting with a stale version"
);
caught!(
    commit_applying_writes_one_by_one,
    NotAtomic,
    atomic_commit,
    "conformance check `atomic_commit` failed: a valid insert followed by an update with a stale \
     version: the store after the refused commit"
);
caught!(
    record_use_ignored,
    UseIgnored,
    record_use,
    "conformance check `record_use` failed"
);
caught!(
    audit_ignoring_after_seq,
    AuditIgnoresAfter,
    audit_trail,
    "conformance check `audit_trail` failed: tenant A's records after the second"
);
caught!(
    activity_newest_first,
    ActivityNewestFirst,
    activity_log,
    "conformance check `activity_log` failed: tenant A's entries, in order"
);
caught!(
    status_from_the_wall_clock,
    WallClockStatus,
    list_status,
    "conformance check `list_status` failed: clients with status Active"
);
caught!(
    case_sensitive_search,
    CaseSensitiveSearch,
    list_search,
    "conformance check `list_search` failed: clients matching search \"billing\""
);
caught!(
    offset_cursor_with_inserts,
    OffsetCursor,
    list_stable_pages,
    "conformance check `list_stable_pages` failed"
);
caught!(
    offset_cursor_with_deletes,
    OffsetCursor,
    list_cursor_after_delete,
    "conformance check `list_cursor_after_delete` failed: the clients after the cursor"
);
caught!(
    times_truncated_to_milliseconds,
    MillisecondReads,
    time_round_trip,
    "conformance check `time_round_trip` failed: a client with microsecond times, read back"
);
caught!(
    version_checked_then_written,
    CheckThenWrite,
    concurrent_writers,
    "conformance check `concurrent_writers` failed: 16 concurrent updates from one version: \
     expected exactly one success, got 16"
);

/// How a [`Broken`] store departs from the contract.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// `client` finds clients of every tenant.
    ClientIgnoresTenant,
    /// Updates and deletes overwrite whatever version is stored.
    IgnoresVersion,
    /// Each write is committed on its own, with the audit event.
    NotAtomic,
    /// `record_use` does nothing.
    UseIgnored,
    /// `audit` ignores `after_seq`.
    AuditIgnoresAfter,
    /// `activity` returns the newest entry first.
    ActivityNewestFirst,
    /// `list` computes status at the wall clock, not at `query.now`.
    WallClockStatus,
    /// `list` compares the search text case-sensitively.
    CaseSensitiveSearch,
    /// `list` pages by offset instead of by keyset.
    OffsetCursor,
    /// Reads truncate times to milliseconds, as some databases do.
    MillisecondReads,
    /// Versions are checked, then written in a second step.
    CheckThenWrite,
    /// Pruning also removes entries exactly at the cut-off.
    PrunesAtCutoff,
    /// A batch of activity is written newest first.
    BatchReversed,
    /// Counts with the same key in one batch overwrite each other, as an
    /// upsert that sets instead of adding would.
    CountsOverwrite,
}

#[derive(Debug)]
struct Broken {
    inner: MemoryStore,
    fault: Fault,
}

impl Broken {
    fn new(fault: Fault) -> Self {
        Self {
            inner: MemoryStore::new(),
            fault,
        }
    }

    /// The commit with every expected version replaced by the stored one.
    async fn overwrite_versions(&self, commit: Commit) -> Commit {
        let (_, writes, audit) = commit.into_parts();
        let mut rebuilt = Commit::new(audit);
        for write in writes {
            let write = match write {
                Write::Update {
                    expected_version,
                    record,
                } => {
                    let stored = self.stored_version(&record.client_id).await;
                    Write::Update {
                        expected_version: stored.unwrap_or(expected_version),
                        record,
                    }
                }
                Write::Delete {
                    client_id,
                    expected_version,
                } => {
                    let stored = self.stored_version(&client_id).await;
                    Write::Delete {
                        expected_version: stored.unwrap_or(expected_version),
                        client_id,
                    }
                }
                other => other,
            };
            rebuilt = rebuilt.with(write);
        }
        rebuilt
    }

    async fn stored_version(&self, client_id: &str) -> Option<u64> {
        self.inner
            .client_for_authentication(client_id)
            .await
            .unwrap()
            .map(|c| c.version)
    }

    fn read_back(&self, record: Option<ClientRecord>) -> Option<ClientRecord> {
        match self.fault {
            Fault::MillisecondReads => record.map(truncated),
            _ => record,
        }
    }
}

fn truncated(mut record: ClientRecord) -> ClientRecord {
    let millis = |t: OffsetDateTime| {
        t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap()
    };
    record.created_at = millis(record.created_at);
    record.updated_at = millis(record.updated_at);
    record.last_used_at = record.last_used_at.map(millis);
    record
}

#[async_trait]
impl ClientStore for Broken {
    async fn client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        let found = match self.fault {
            Fault::ClientIgnoresTenant => self.inner.client_for_authentication(client_id).await?,
            _ => self.inner.client(tenant, client_id).await?,
        };
        Ok(self.read_back(found))
    }

    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError> {
        Ok(self.read_back(self.inner.client_for_authentication(client_id).await?))
    }

    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
        match self.fault {
            Fault::WallClockStatus => {
                let query = ClientQuery {
                    now: OffsetDateTime::now_utc(),
                    ..query.clone()
                };
                self.inner.list(&query).await
            }
            Fault::CaseSensitiveSearch => {
                let mut page = self.inner.list(query).await?;
                if let Some(search) = &query.search {
                    page.clients
                        .retain(|c| c.name.contains(search) || c.client_id.contains(search));
                }
                Ok(page)
            }
            Fault::OffsetCursor => {
                let offset = match &query.after {
                    Some(cursor) => cursor
                        .as_str()
                        .parse::<usize>()
                        .map_err(|_| StoreError::InvalidCursor)?,
                    None => 0,
                };
                let everything = ClientQuery {
                    limit: 10_000,
                    after: None,
                    ..query.clone()
                };
                let all = self.inner.list(&everything).await?.clients;
                let clients: Vec<ClientRecord> =
                    all.iter().skip(offset).take(query.limit).cloned().collect();
                let end = offset + clients.len();
                let next = (end < all.len()).then(|| Cursor::from_text(end.to_string()));
                Ok(ClientPage { clients, next })
            }
            Fault::MillisecondReads => {
                let mut page = self.inner.list(query).await?;
                page.clients = page.clients.into_iter().map(truncated).collect();
                Ok(page)
            }
            _ => self.inner.list(query).await,
        }
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        match self.fault {
            Fault::IgnoresVersion => {
                self.inner
                    .commit(self.overwrite_versions(commit).await)
                    .await
            }
            Fault::NotAtomic => {
                let (_, writes, audit) = commit.into_parts();
                for write in writes {
                    self.inner
                        .commit(Commit::new(audit.clone()).with(write))
                        .await?;
                }
                Ok(())
            }
            Fault::CheckThenWrite => {
                for write in commit.writes() {
                    let (client_id, expected) = match write {
                        Write::Update {
                            expected_version,
                            record,
                        } => (record.client_id.as_str(), *expected_version),
                        Write::Delete {
                            client_id,
                            expected_version,
                        } => (client_id.as_str(), *expected_version),
                        _ => continue,
                    };
                    let stored = self.stored_version(client_id).await;
                    if stored.is_some_and(|v| v != expected) {
                        return Err(StoreError::Conflict);
                    }
                }
                tokio::task::yield_now().await;
                self.inner
                    .commit(self.overwrite_versions(commit).await)
                    .await
            }
            _ => self.inner.commit(commit).await,
        }
    }

    async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
        match self.fault {
            Fault::UseIgnored => Ok(()),
            _ => self.inner.record_use(usage).await,
        }
    }
}

#[async_trait]
impl AuditLog for Broken {
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
        self.inner.append_audit(event).await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        match self.fault {
            Fault::AuditIgnoresAfter => {
                self.inner
                    .audit(&AuditQuery {
                        after_seq: None,
                        ..query.clone()
                    })
                    .await
            }
            _ => self.inner.audit(query).await,
        }
    }

    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.prune_audit(before).await
    }
}

#[async_trait]
impl ActivityLog for Broken {
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
        self.inner.record_activity(event).await
    }

    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
        let mut entries = self.inner.activity(query).await?;
        if matches!(self.fault, Fault::ActivityNewestFirst) {
            entries.reverse();
        }
        Ok(entries)
    }

    async fn record_activities(&self, mut events: Vec<ActivityEvent>) -> Result<(), StoreError> {
        if matches!(self.fault, Fault::BatchReversed) {
            events.reverse();
        }
        self.inner.record_activities(events).await
    }

    async fn prune_activity(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        match self.fault {
            Fault::PrunesAtCutoff => {
                let later = before + time::Duration::microseconds(1);
                self.inner.prune_activity(later).await
            }
            _ => self.inner.prune_activity(before).await,
        }
    }

    async fn add_activity_counts(&self, counts: Vec<ActivityCount>) -> Result<(), StoreError> {
        if !matches!(self.fault, Fault::CountsOverwrite) {
            return self.inner.add_activity_counts(counts).await;
        }
        let mut last: Vec<ActivityCount> = Vec::new();
        for count in counts {
            match last.iter_mut().find(|c| c.same_key(&count)) {
                Some(kept) => *kept = count,
                None => last.push(count),
            }
        }
        self.inner.add_activity_counts(last).await
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

#[tokio::test]
async fn memory_replay_store_conforms() {
    use clientcreds_store::MemoryReplayStore;
    conformance::run_replay_store(|| async { MemoryReplayStore::default() }).await;
    conformance::run_replay_store(|| async { MemoryReplayStore::with_capacity(64) }).await;
}

/// A replay store that forgets: every key is new.
#[derive(Debug)]
struct Forgetful;

#[async_trait]
impl clientcreds_store::ReplayStore for Forgetful {
    async fn check_and_record(
        &self,
        key: &str,
        _expires_at: OffsetDateTime,
        _now: OffsetDateTime,
    ) -> Result<clientcreds_store::ReplayCheck, StoreError> {
        clientcreds_store::validate_replay_key(key)?;
        Ok(clientcreds_store::ReplayCheck::First)
    }
    async fn prune_replays(&self, _now: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[tokio::test]
#[should_panic(expected = "conformance check `replay_single_use` failed")]
async fn the_kit_catches_a_forgetful_replay_store() {
    conformance::replay_single_use(&Forgetful).await;
}

#[tokio::test]
async fn a_full_memory_replay_store_refuses_rather_than_forgets() {
    use clientcreds_store::{MemoryReplayStore, ReplayCheck, ReplayStore};
    let store = MemoryReplayStore::with_capacity(16);
    let now = OffsetDateTime::UNIX_EPOCH;
    let until = now + time::Duration::minutes(1);
    let mut refused = 0;
    for n in 0..200 {
        match store.check_and_record(&format!("k{n}"), until, now).await {
            Ok(ReplayCheck::First) => {}
            Err(StoreError::ReplayStoreFull) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert!(
        refused > 0 && store.len() <= 16 * 2,
        "{refused} {}",
        store.len()
    );
    // Live keys were never forgotten (checked while they are live: once
    // expired, the step below may drop them, whichever shard they share).
    assert_eq!(
        store.check_and_record("k0", until, now).await.unwrap(),
        ReplayCheck::Replayed
    );
    // Once the keys expire, room comes back.
    assert_eq!(
        store
            .check_and_record("late", until + time::Duration::minutes(1), until)
            .await
            .unwrap(),
        ReplayCheck::First
    );
}
