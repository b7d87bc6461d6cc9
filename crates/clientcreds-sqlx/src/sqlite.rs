//! The SQLite store.

use async_trait::async_trait;
use clientcreds_store::{
    ActivityEvent, ActivityLog, ActivityQuery, ActivityRecord, AuditEvent, AuditLog, AuditQuery,
    AuditRecord, ClientPage, ClientQuery, ClientRecord, ClientStore, Commit, SecretUse, StoreError,
    TenantId, Write,
};
use sqlx::Row as _;
use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

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

/// Clients, audit trail and activity log in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path`,
    /// or `sqlite::memory:` for a private in-memory database), with WAL
    /// journaling, foreign keys on, and a 5 s busy timeout.
    ///
    /// # Errors
    /// [`StoreError::WrongUrlScheme`] for a URL of another database
    /// (`postgres://…`); [`StoreError::Backend`] when the database cannot
    /// be opened.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        crate::codec::require_scheme(url, "SqliteStore", &["sqlite"])?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options: SqliteConnectOptions = url.parse().map_err(db)?;
        let options = options
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5))
            .journal_mode(if in_memory {
                sqlx::sqlite::SqliteJournalMode::Memory
            } else {
                sqlx::sqlite::SqliteJournalMode::Wal
            });
        // An in-memory database lives in one connection: share that one,
        // and never let the pool close it (idle timeout, maximum lifetime):
        // that would drop the database and every client in it.
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        };
        // No ping before each use (see `PgStore`'s pool notes).
        let pool = pool.test_before_acquire(false);
        let pool = pool.connect_with(options).await.map_err(db)?;
        Ok(Self { pool })
    }

    /// A store on a pool the host configured.
    #[must_use]
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// Applies the embedded migrations (idempotent; call at start-up).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(StoreError::backend)?;
        self.backfill_search().await
    }

    /// SQLite has no cross-process announcements: a commit announces
    /// nothing (a cache in front of SQLite relies on its time-to-live for
    /// changes made by other processes).
    #[allow(clippy::unused_async)]
    async fn announce(
        &self,
        _tx: &mut sqlx::Transaction<'_, Sqlite>,
        _client_ids: &[&str],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// SQLite has one writer at a time, from its first write to its
    /// commit, so a log's sequence is commit-ordered already.
    #[allow(clippy::unused_async)]
    async fn lock_log(
        _tx: &mut sqlx::Transaction<'_, Sqlite>,
        _log: crate::store_impl::LogTable,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

sql_store!(SqliteStore, Sqlite, SqlitePool);
sql_key_store!(SqliteStore, Sqlite);
sql_warning_ledger!(SqliteStore);
sql_replay_store!(SqliteStore);
sql_activity_counts!(SqliteStore, Sqlite);
sql_warning_batches!(SqliteStore, Sqlite);
