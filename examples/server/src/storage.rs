//! The storage stack: the store `DATABASE_URL` names, and on a database an
//! authentication cache (kept in step across replicas by PostgreSQL's
//! notifications), the batched activity writer, and retention.

use std::sync::{Arc, Weak};

use clientcreds_registry::{ActivityWriterOptions, BatchedActivity, Registry};
use clientcreds_store::{
    AuthCache, CachedStore, KeyStore, MemoryReplayStore, MemoryStore, ReplayStore, Store,
    WarningLedger,
};

use crate::Config;

/// What [`open`] built: the registry's store, the key store, the warning
/// ledger, and what must live (and be shut down) with the server.
pub(crate) struct Storage {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) key_store: Arc<dyn KeyStore>,
    pub(crate) ledger: Arc<dyn WarningLedger>,
    /// Single-use assertion `jti`s, shared by replicas on a database.
    pub(crate) replay: Arc<dyn ReplayStore>,
    pub(crate) tasks: StorageTasks,
}

/// The background parts of the storage stack.
#[derive(Default)]
pub(crate) struct StorageTasks {
    /// The batched activity writer (databases only), closed on shutdown.
    pub(crate) activity: Option<Arc<BatchedActivity>>,
    /// The authentication cache (databases only).
    pub(crate) cache: Option<Arc<AuthCache>>,
    /// PostgreSQL's invalidation listener, alive as long as the server.
    pub(crate) listener: Option<clientcreds_sqlx::InvalidationListener>,
}

/// The store a `DATABASE_URL` names, migrated, behind the cache and the
/// batched writer; the in-memory store (bounded logs) without one.
pub(crate) async fn open(config: &Config) -> Result<Storage, Box<dyn std::error::Error>> {
    let url = config.database_url.as_deref();
    let ttl = std::time::Duration::try_from(config.auth_cache_ttl).unwrap_or_default();
    let cache = (!ttl.is_zero())
        .then(|| Arc::new(AuthCache::new(ttl).with_max_bytes(config.auth_cache_bytes)));
    let mut tasks = StorageTasks::default();
    #[allow(clippy::type_complexity)]
    let (store, key_store, ledger, replay): (
        Arc<dyn Store>,
        Arc<dyn KeyStore>,
        Arc<dyn WarningLedger>,
        Arc<dyn ReplayStore>,
    ) = match url {
        None => {
            let store = Arc::new(MemoryStore::new());
            return Ok(Storage {
                store: store.clone(),
                key_store: store.clone(),
                ledger: store,
                replay: Arc::new(MemoryReplayStore::default()),
                tasks,
            });
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = clientcreds_sqlx::PgStore::connect(url).await?;
            store.migrate().await?;
            let clients: Arc<dyn Store> = match &cache {
                Some(cache) => {
                    tasks.listener = Some(store.spawn_invalidation_listener(cache.clone()));
                    Arc::new(CachedStore::new(store.clone(), cache.clone()))
                }
                None => Arc::new(store.clone()),
            };
            let store = Arc::new(store);
            (clients, store.clone(), store.clone(), store)
        }
        Some(url) if url.starts_with("sqlite:") => {
            let store = clientcreds_sqlx::SqliteStore::connect(url).await?;
            store.migrate().await?;
            // SQLite announces nothing: the TTL alone bounds what
            // another process's change takes to bite.
            let clients: Arc<dyn Store> = match &cache {
                Some(cache) => Arc::new(CachedStore::new(store.clone(), cache.clone())),
                None => Arc::new(store.clone()),
            };
            let store = Arc::new(store);
            (clients, store.clone(), store.clone(), store)
        }
        Some(_) => {
            return Err(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
            );
        }
    };
    tasks.cache = cache;
    let writer = BatchedActivity::spawn(store, ActivityWriterOptions::default());
    tasks.activity = Some(writer.clone());
    Ok(Storage {
        store: writer,
        key_store,
        ledger,
        replay,
        tasks,
    })
}

/// Prunes activity older than `CLIENTCREDS_ACTIVITY_RETENTION`, activity
/// counts older than `CLIENTCREDS_ACTIVITY_COUNT_RETENTION` (and audit
/// records older than `CLIENTCREDS_AUDIT_RETENTION`, when set) every
/// `CLIENTCREDS_RETENTION_INTERVAL`, first at start-up.
pub(crate) fn spawn_retention(
    registry: Weak<Registry>,
    replay: Arc<dyn ReplayStore>,
    config: &Config,
) {
    let (activity, counts, audit) = (
        config.activity_retention,
        config.count_retention,
        config.audit_retention,
    );
    crate::spawn_every(
        registry,
        config.retention_interval,
        false,
        move |registry| {
            let replay = replay.clone();
            async move {
                match replay.prune_replays(time::OffsetDateTime::now_utc()).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::debug!(pruned, "pruned used assertion and proof ids"),
                    Err(error) => tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "replay store pruning failed"
                    ),
                }
                match registry.prune_activity(activity).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned old activity"),
                    Err(error) => tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "activity retention failed"
                    ),
                }
                match registry.prune_activity_counts(counts).await {
                    Ok(0) => {}
                    Ok(pruned) => tracing::info!(pruned, "pruned old activity counts"),
                    Err(error) => tracing::error!(
                        error = &error as &dyn std::error::Error,
                        "activity count retention failed"
                    ),
                }
                if let Some(audit) = audit {
                    match registry.prune_audit(audit).await {
                        Ok(0) => {}
                        Ok(pruned) => tracing::info!(pruned, "pruned old audit records"),
                        Err(error) => tracing::error!(
                            error = &error as &dyn std::error::Error,
                            "audit retention failed"
                        ),
                    }
                }
            }
        },
    );
}
