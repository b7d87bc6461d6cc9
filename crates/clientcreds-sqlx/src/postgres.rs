//! The PostgreSQL store.

use async_trait::async_trait;
use clientcreds_store::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog, AuditQuery,
    AuditRecord, ClientPage, ClientQuery, ClientRecord, ClientStore, Commit, SecretUse, StoreError,
    TenantId, Write,
};
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions, Postgres};

use crate::codec::{
    AuditRow, SELECT_COLUMNS, activity_kind, corrupt, db, decode_cursor, encode_cursor, fold,
    instant, micros, to_json,
};
use crate::counts_impl::sql_activity_counts;
use crate::keys_impl::sql_key_store;
use crate::replay_impl::sql_replay_store;
use crate::store_impl::sql_store;
use crate::warnings_batch::sql_warning_batches;
use crate::warnings_impl::sql_warning_ledger;

/// The channel [`PgStore`] announces changed clients on, unless told
/// otherwise ([`PgStore::with_notify_channel`]).
pub const DEFAULT_NOTIFY_CHANNEL: &str = "clientcreds_clients";

/// Clients, audit trail and activity log in PostgreSQL.
///
/// Every commit announces the ids of the clients it changed with
/// `pg_notify`, inside its own transaction, so the announcement is sent if
/// and only if the change is committed. A replica's
/// [`PgStore::spawn_invalidation_listener`] hears them and drops those
/// clients from its `clientcreds_store::AuthCache`.
///
/// # Pool
///
/// [`PgStore::connect`] opens up to 16 connections and does not ping a
/// connection each time it is taken from the pool
/// (`test_before_acquire(false)`): the ping is one more round trip on every
/// query, and a connection the server has closed fails its next query
/// instead, which the pool then drops. Hosts that want the ping (through a
/// proxy that cuts idle connections silently, say) build their own pool
/// and hand it to [`PgStore::from_pool`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    channel: String,
    heartbeat: std::time::Duration,
}

impl PgStore {
    /// Connects a pool of up to 16 connections to `url` (`postgres://…`).
    ///
    /// # Errors
    /// [`StoreError::WrongUrlScheme`] for a URL of another database
    /// (`sqlite://…`); [`StoreError::Backend`] when the database cannot be
    /// reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        crate::codec::require_scheme(url, "PgStore", &["postgres", "postgresql"])?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .connect(url)
            .await
            .map_err(db)?;
        Ok(Self::from_pool(pool))
    }

    /// A store on a pool the host configured (TLS, sizes, timeouts,
    /// `search_path`).
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            channel: DEFAULT_NOTIFY_CHANNEL.to_owned(),
            heartbeat: crate::pg_listen::DEFAULT_LISTENER_HEARTBEAT,
        }
    }

    /// How long the invalidation listener waits on a silent connection
    /// before it proves the connection alive with a query, and how long
    /// that query may take (default 15 s): a connection that died without
    /// a word (a dropped route, a proxy that cut it) is noticed within
    /// twice this, and the cache is off until the listener is back. At
    /// least 100 ms.
    #[must_use]
    pub fn with_listener_heartbeat(mut self, heartbeat: std::time::Duration) -> Self {
        self.heartbeat = heartbeat.max(std::time::Duration::from_millis(100));
        self
    }

    /// The listener's heartbeat ([`PgStore::with_listener_heartbeat`]).
    #[must_use]
    pub fn listener_heartbeat(&self) -> std::time::Duration {
        self.heartbeat
    }

    /// Announces changes on `channel` instead of
    /// [`DEFAULT_NOTIFY_CHANNEL`] (deployments sharing one database in
    /// separate schemas each use their own). Listeners must use the same.
    #[must_use]
    pub fn with_notify_channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// The channel changes are announced on.
    #[must_use]
    pub fn notify_channel(&self) -> &str {
        &self.channel
    }

    /// Announces the changed clients inside the commit's transaction.
    async fn announce(
        &self,
        tx: &mut sqlx::Transaction<'_, Postgres>,
        client_ids: &[&str],
    ) -> Result<(), StoreError> {
        for client_id in client_ids {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(*client_id)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    /// Makes a log's sequence commit-ordered: every transaction that
    /// appends to `log` takes this transaction-scoped advisory lock before
    /// its first row, so the next appender takes its sequence numbers only
    /// once this one has committed (PostgreSQL releases a transaction's
    /// locks after its commit is visible). A reader paging by sequence
    /// then never passes a number whose row becomes visible later: without
    /// it, a slow transaction's row could commit behind a cursor and be
    /// skipped for good.
    async fn lock_log(
        tx: &mut sqlx::Transaction<'_, Postgres>,
        log: crate::store_impl::LogTable,
    ) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(log.lock_key())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Applies the embedded migrations (idempotent; call at start-up).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(StoreError::backend)?;
        self.backfill_search().await
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

sql_store!(PgStore, Postgres, PgPool);
sql_key_store!(PgStore, Postgres);
sql_warning_ledger!(PgStore);
sql_replay_store!(PgStore);
sql_activity_counts!(PgStore, Postgres);
sql_warning_batches!(PgStore, Postgres);
