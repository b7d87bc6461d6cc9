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
    instant, micros, status_text, to_json,
};
use crate::keys_impl::sql_key_store;
use crate::store_impl::sql_store;
use crate::warnings_impl::sql_warning_ledger;

/// Clients, audit trail and activity log in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects a pool of up to 16 connections to `url` (`postgres://…`).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await
            .map_err(db)?;
        Ok(Self { pool })
    }

    /// A store on a pool the host configured (TLS, sizes, timeouts,
    /// `search_path`).
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Applies the embedded migrations (idempotent; call at start-up).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await
            .map_err(StoreError::backend)
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
