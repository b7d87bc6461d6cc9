//! Cross-replica cache invalidation over PostgreSQL `LISTEN`/`NOTIFY`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clientcreds_store::AuthCache;
use sqlx::postgres::{PgListener, PgPool};

use crate::PgStore;

/// First pause before listening again after the connection was lost; it
/// doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The listener's default heartbeat ([`PgStore::with_listener_heartbeat`]).
pub const DEFAULT_LISTENER_HEARTBEAT: Duration = Duration::from_secs(15);

/// A running listener that invalidates an [`AuthCache`] with every client
/// another replica changes. Dropping it stops the listener and turns the
/// cache off (every lookup then reads the store): keep it as long as the
/// cache is in use.
#[derive(Debug)]
pub struct InvalidationListener {
    task: tokio::task::JoinHandle<()>,
    cache: Arc<AuthCache>,
    connections: Arc<AtomicU64>,
}

impl InvalidationListener {
    /// How many times the listener has (re)connected and started listening.
    #[must_use]
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Acquire)
    }
}

impl Drop for InvalidationListener {
    fn drop(&mut self) {
        self.task.abort();
        self.cache.set_available(false);
    }
}

impl PgStore {
    /// Spawns (on the current tokio runtime) a task that listens on this
    /// store's notify channel on a connection of its own and removes every
    /// announced client from `cache`.
    ///
    /// The cache is off (flushed and bypassed) until the listener is
    /// listening, and again whenever its connection drops; the listener
    /// reconnects with a backoff from 100 ms to 5 s, and turns the cache on
    /// again, flushed, once it listens. A connection that stays silent for
    /// a heartbeat ([`PgStore::with_listener_heartbeat`], default 15 s) is
    /// proved alive with a query on it, bounded by the same time, so one
    /// that died without a word is noticed within two heartbeats. So a
    /// replica either hears every change or reads the store; the cache's
    /// time-to-live bounds what a notification lost on a connection that
    /// looked healthy can cost.
    ///
    /// ```no_run
    /// # async fn run(store: clientcreds_sqlx::PgStore) {
    /// use std::sync::Arc;
    /// use clientcreds_store::{AuthCache, CachedStore, Store};
    ///
    /// let cache = Arc::new(AuthCache::default());
    /// let listener = store.spawn_invalidation_listener(cache.clone());
    /// let store: Arc<dyn Store> = Arc::new(CachedStore::new(store, cache));
    /// // ... hand `store` to the registry; keep `listener` alive.
    /// # drop(listener); let _ = store; }
    /// ```
    #[must_use]
    pub fn spawn_invalidation_listener(&self, cache: Arc<AuthCache>) -> InvalidationListener {
        cache.set_available(false);
        let connections = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(listen(
            self.pool().clone(),
            self.notify_channel().to_owned(),
            self.listener_heartbeat(),
            cache.clone(),
            connections.clone(),
        ));
        InvalidationListener {
            task,
            cache,
            connections,
        }
    }
}

async fn listen(
    pool: PgPool,
    channel: String,
    heartbeat: Duration,
    cache: Arc<AuthCache>,
    connections: Arc<AtomicU64>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        // Bounded: a pooled connection that died silently must not hold
        // the listener for ever either.
        let subscribed = tokio::time::timeout(heartbeat, subscribe(&pool, &channel))
            .await
            .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut));
        match subscribed {
            Ok(mut listener) => {
                cache.set_available(true);
                connections.fetch_add(1, Ordering::AcqRel);
                backoff = FIRST_BACKOFF;
                hear(&mut listener, heartbeat, &cache).await;
            }
            Err(error) => {
                tracing::warn!(%error, "clientcreds: cannot listen for cache invalidations; cache off");
            }
        }
        cache.set_available(false);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Invalidates what `listener` announces until its connection is lost,
/// proving it alive after every `heartbeat` of silence. (Receiving is
/// cancel-safe in sqlx: a wait cut short by the heartbeat loses nothing.)
async fn hear(listener: &mut PgListener, heartbeat: Duration, cache: &AuthCache) {
    loop {
        match tokio::time::timeout(heartbeat, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => cache.invalidate(notification.payload()),
            Ok(Ok(None)) => {
                tracing::warn!(
                    "clientcreds: cache invalidation connection lost; cache off until it is back"
                );
                return;
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "clientcreds: cache invalidation listener failed; cache off until it is back");
                return;
            }
            Err(_silent) => {
                let ping = sqlx::query("SELECT 1").execute(&mut *listener);
                match tokio::time::timeout(heartbeat, ping).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "clientcreds: cache invalidation connection failed its heartbeat; cache off until it is back");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(
                            "clientcreds: cache invalidation connection did not answer its heartbeat; cache off until it is back"
                        );
                        return;
                    }
                }
            }
        }
    }
}

async fn subscribe(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}
