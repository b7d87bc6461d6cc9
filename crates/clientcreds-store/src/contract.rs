//! The storage traits.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use clientcreds_secret::SecretHash;
use time::OffsetDateTime;

use crate::{
    ActivityCount, ActivityCountQuery, ActivityEvent, ActivityQuery, ActivityRecord, AuditEvent,
    AuditQuery, AuditRecord, AuthView, ClientRecord, StatusFilter, StoreError, TenantId,
};

/// One write inside a [`Commit`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Write {
    /// Insert a new client; its `version` is stored as 1.
    Insert(ClientRecord),
    /// Replace a client if its stored version is `expected_version`; the
    /// stored version becomes `expected_version + 1`.
    Update {
        /// The version the writer read.
        expected_version: u64,
        /// The new content.
        record: ClientRecord,
    },
    /// Delete a client if its stored version is `expected_version`.
    Delete {
        /// The client.
        client_id: String,
        /// The version the writer read.
        expected_version: u64,
    },
}

/// A change and its audit record, committed together or not at all.
///
/// The only way to change a client is [`ClientStore::commit`], and the only
/// way to build a `Commit` is with its audit event: a change without its
/// record cannot be expressed.
#[derive(Debug, Clone)]
pub struct Commit {
    tenant: TenantId,
    audit: AuditEvent,
    writes: Vec<Write>,
}

impl Commit {
    /// A commit in the audit event's tenant.
    #[must_use]
    pub fn new(audit: AuditEvent) -> Self {
        Self {
            tenant: audit.tenant.clone(),
            audit,
            writes: Vec::new(),
        }
    }

    /// Adds a write.
    #[must_use]
    pub fn with(mut self, write: Write) -> Self {
        self.writes.push(write);
        self
    }

    /// The tenant every write must belong to.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The audit event committed with the writes.
    #[must_use]
    pub fn audit(&self) -> &AuditEvent {
        &self.audit
    }

    /// The writes, in order.
    #[must_use]
    pub fn writes(&self) -> &[Write] {
        &self.writes
    }

    /// Takes the parts apart (for store implementations).
    #[must_use]
    pub fn into_parts(self) -> (TenantId, Vec<Write>, AuditEvent) {
        (self.tenant, self.writes, self.audit)
    }
}

/// An opaque position in a client listing, handed out by a store.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps the text a store (or a client of the HTTP API) hands back.
    #[must_use]
    pub fn from_text(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The cursor's text, to hand to a caller.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client listing request. Results are ordered by creation time, then
/// client id; the cursor is a keyset position, so a page never repeats or
/// skips a client that existed when the first page was read, however many
/// are inserted meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientQuery {
    /// The tenant.
    pub tenant: TenantId,
    /// The instant effective statuses are computed at.
    pub now: OffsetDateTime,
    /// Only clients with this effective status.
    pub status: Option<StatusFilter>,
    /// Case-insensitive substring of the name or client id (any case here).
    pub search: Option<String>,
    /// Only clients of this owner.
    pub owner: Option<String>,
    /// Page size (at least 1).
    pub limit: usize,
    /// Continue after this position.
    pub after: Option<Cursor>,
}

impl ClientQuery {
    /// Whether `record` passes this query's owner, status and search
    /// filters (`lowercase_search` is [`ClientQuery::search`] lowercased
    /// once by the caller). The one definition every store applies.
    #[must_use]
    pub fn matches(&self, record: &ClientRecord, lowercase_search: Option<&str>) -> bool {
        self.owner
            .as_ref()
            .is_none_or(|o| record.owner.as_ref() == Some(o))
            && self
                .status
                .is_none_or(|s| s.matches(record.effective_status(self.now)))
            && lowercase_search.is_none_or(|s| record.matches_search(s))
    }
}

/// One page of clients.
#[derive(Debug, Clone)]
pub struct ClientPage {
    /// The clients.
    pub clients: Vec<ClientRecord>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

/// An advisory write after a successful authentication: last-used times,
/// and a fresh hash when the stored one is outdated. It does not change the
/// client's version, and a store may drop it if the client or secret is gone.
#[derive(Debug, Clone)]
pub struct SecretUse {
    /// The tenant.
    pub tenant: TenantId,
    /// The client.
    pub client_id: String,
    /// The secret used.
    pub secret_id: String,
    /// When.
    pub at: OffsetDateTime,
    /// A replacement hash in the current scheme.
    pub rehash: Option<SecretHash>,
}

/// Clients: read, list, change (with audit), and record use.
#[async_trait]
pub trait ClientStore: Send + Sync + Debug {
    /// The client with this id in this tenant; `None` when it does not
    /// exist or belongs to another tenant.
    async fn client(
        &self,
        tenant: &TenantId,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError>;

    /// The clients with these (tenant, id) pairs: one answer per pair, in
    /// order, each as [`ClientStore::client`] would give it. A database
    /// store reads them in a few statements (the expiry-warning runner
    /// reads a batch of due clients this way); the default reads them one
    /// by one.
    async fn clients_by_id(
        &self,
        ids: &[(TenantId, String)],
    ) -> Result<Vec<Option<ClientRecord>>, StoreError> {
        let mut records = Vec::with_capacity(ids.len());
        for (tenant, client_id) in ids {
            records.push(self.client(tenant, client_id).await?);
        }
        Ok(records)
    }

    /// The client with this id in any tenant. Only for authenticating a
    /// presented client id, which arrives without its tenant.
    async fn client_for_authentication(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, StoreError>;

    /// What authenticating `client_id` needs of its client (any tenant),
    /// shared: the token endpoint's read. `None` when no client has this
    /// exact id.
    ///
    /// The default trims [`ClientStore::client_for_authentication`]'s
    /// record. [`MemoryStore`](crate::MemoryStore) keeps the view beside
    /// each record and hands out a reference to it, and
    /// [`CachedStore`](crate::CachedStore) answers it from memory; a
    /// wrapper around another store should forward it (as it forwards
    /// every other method), or it bypasses the wrapped store's own answer.
    async fn authentication_view(
        &self,
        client_id: &str,
    ) -> Result<Option<Arc<AuthView>>, StoreError> {
        Ok(self
            .client_for_authentication(client_id)
            .await?
            .map(|record| Arc::new(AuthView::from(record))))
    }

    /// One page of a tenant's clients.
    async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError>;

    /// How many clients `tenant` has (every status). The registry checks
    /// it against its per-tenant quota before a client is added.
    ///
    /// The default pages through [`ClientStore::list`] (correct, but reads
    /// every client); the stores of this crate and of `clientcreds-sqlx`
    /// count without reading records.
    async fn count_clients(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let mut query = ClientQuery {
            tenant: tenant.clone(),
            now: OffsetDateTime::UNIX_EPOCH,
            status: None,
            search: None,
            owner: None,
            limit: 500,
            after: None,
        };
        let mut count = 0_u64;
        loop {
            let page = self.list(&query).await?;
            count += u64::try_from(page.clients.len()).unwrap_or(u64::MAX);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(count),
            }
        }
    }

    /// Applies every write and appends the audit event, atomically.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when an expected version does not match,
    /// [`StoreError::NotFound`] when an updated or deleted client is absent,
    /// [`StoreError::Duplicate`] when an inserted id exists; in each case
    /// nothing is written.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;

    /// Records an advisory [`SecretUse`].
    async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError>;
}

/// The audit trail.
#[async_trait]
pub trait AuditLog: Send + Sync + Debug {
    /// Appends a record that comes with no change (a refused action).
    async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError>;

    /// Reads records in sequence order.
    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Removes every record whose `at` is strictly before `before`, in all
    /// tenants, and returns how many went. Audit retention is off unless a
    /// host calls this: the trail is kept for good by default.
    ///
    /// Every store of this crate and of `clientcreds-sqlx` implements it
    /// (the conformance kit checks it); the default, for stores written
    /// before it existed, is [`StoreError::Unsupported`].
    async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let _ = before;
        Err(StoreError::Unsupported {
            operation: "prune_audit",
        })
    }
}

/// The token activity log.
#[async_trait]
pub trait ActivityLog: Send + Sync + Debug {
    /// Appends an entry.
    async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError>;

    /// Appends entries in order (sequence numbers follow their order). A
    /// database store writes them with multi-row inserts; the default
    /// appends them one by one.
    async fn record_activities(&self, events: Vec<ActivityEvent>) -> Result<(), StoreError> {
        for event in events {
            self.record_activity(event).await?;
        }
        Ok(())
    }

    /// Reads entries in sequence order.
    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError>;

    /// Removes every entry whose `at` is strictly before `before`, in all
    /// tenants, and returns how many went (activity retention).
    ///
    /// Every store of this crate and of `clientcreds-sqlx` implements it
    /// (the conformance kit checks it); the default, for stores written
    /// before it existed, is [`StoreError::Unsupported`].
    async fn prune_activity(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let _ = before;
        Err(StoreError::Unsupported {
            operation: "prune_activity",
        })
    }

    /// Adds `counts` to the stored [`ActivityCount`]s: a count whose key
    /// (every field but `count`) is stored already adds to it, any other is
    /// stored. Several writers (replicas) may add to the same key at once;
    /// no addition is lost. The registry's token endpoint records issuance
    /// (and refusals of known clients) only this way.
    ///
    /// Every store of this crate and of `clientcreds-sqlx` implements it
    /// (the conformance kit checks it); the default is
    /// [`StoreError::Unsupported`].
    async fn add_activity_counts(&self, counts: Vec<ActivityCount>) -> Result<(), StoreError> {
        let _ = counts;
        Err(StoreError::Unsupported {
            operation: "add_activity_counts",
        })
    }

    /// Reads the counts `query` selects, in its documented order.
    ///
    /// The default is [`StoreError::Unsupported`].
    async fn activity_counts(
        &self,
        query: &ActivityCountQuery,
    ) -> Result<Vec<ActivityCount>, StoreError> {
        let _ = query;
        Err(StoreError::Unsupported {
            operation: "activity_counts",
        })
    }

    /// Removes every count whose minute starts strictly before `before`,
    /// in all tenants, and returns how many went (retention of the
    /// aggregate, separate from [`ActivityLog::prune_activity`] so the
    /// aggregate can be kept longer than individual rows).
    ///
    /// The default is [`StoreError::Unsupported`].
    async fn prune_activity_counts(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let _ = before;
        Err(StoreError::Unsupported {
            operation: "prune_activity_counts",
        })
    }
}

/// Everything a registry needs from storage. Implemented for every type
/// that implements the three traits; use it as `Arc<dyn Store>`.
pub trait Store: ClientStore + AuditLog + ActivityLog {}

impl<T: ClientStore + AuditLog + ActivityLog + ?Sized> Store for T {}

macro_rules! forward {
    ($($wrapper:ty),*) => {$(
        #[async_trait]
        impl<T: ClientStore + ?Sized> ClientStore for $wrapper {
            async fn client(&self, tenant: &TenantId, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                (**self).client(tenant, client_id).await
            }
            async fn client_for_authentication(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                (**self).client_for_authentication(client_id).await
            }
            async fn clients_by_id(&self, ids: &[(TenantId, String)]) -> Result<Vec<Option<ClientRecord>>, StoreError> {
                (**self).clients_by_id(ids).await
            }
            async fn authentication_view(&self, client_id: &str) -> Result<Option<Arc<AuthView>>, StoreError> {
                (**self).authentication_view(client_id).await
            }
            async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
                (**self).list(query).await
            }
            async fn count_clients(&self, tenant: &TenantId) -> Result<u64, StoreError> {
                (**self).count_clients(tenant).await
            }
            async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
                (**self).commit(commit).await
            }
            async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
                (**self).record_use(usage).await
            }
        }

        #[async_trait]
        impl<T: AuditLog + ?Sized> AuditLog for $wrapper {
            async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
                (**self).append_audit(event).await
            }
            async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
                (**self).audit(query).await
            }
            async fn prune_audit(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
                (**self).prune_audit(before).await
            }
        }

        #[async_trait]
        impl<T: ActivityLog + ?Sized> ActivityLog for $wrapper {
            async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
                (**self).record_activity(event).await
            }
            async fn record_activities(&self, events: Vec<ActivityEvent>) -> Result<(), StoreError> {
                (**self).record_activities(events).await
            }
            async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
                (**self).activity(query).await
            }
            async fn prune_activity(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
                (**self).prune_activity(before).await
            }
            async fn add_activity_counts(&self, counts: Vec<ActivityCount>) -> Result<(), StoreError> {
                (**self).add_activity_counts(counts).await
            }
            async fn activity_counts(&self, query: &ActivityCountQuery) -> Result<Vec<ActivityCount>, StoreError> {
                (**self).activity_counts(query).await
            }
            async fn prune_activity_counts(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
                (**self).prune_activity_counts(before).await
            }
        }
    )*};
}

forward!(&T, Box<T>, Arc<T>);
