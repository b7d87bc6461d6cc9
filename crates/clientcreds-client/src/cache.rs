//! The shared token cache: a trait for hosts whose replicas share tokens
//! (Redis, a database), and the in-memory default.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::{AccessToken, CacheKey, Error};

/// Where tokens are kept beyond one [`TokenClient`](crate::TokenClient).
///
/// Consulted only on the refresh path: before asking the token endpoint (a
/// replica may already hold a fresh token for the same key), after a new
/// token arrives (to share it), and when an API rejects a token (to drop
/// it). The per-call hit path reads the client's own copy and never calls
/// the cache. An implementation must only ever return a token stored under
/// the same key; a shared store keys by [`CacheKey::as_str`] and encrypts
/// what it stores if others can read it. It stores the token's
/// [`token_type`](AccessToken::token_type) too and gives it back through
/// [`AccessToken::with_type`]: a DPoP-bound token sent as `Bearer` is
/// refused.
///
/// Object safe: pass `Arc<dyn TokenCache>` to
/// [`TokenClientBuilder::cache`](crate::TokenClientBuilder::cache).
#[async_trait::async_trait]
pub trait TokenCache: Send + Sync + fmt::Debug {
    /// The token stored under `key`, expired or not.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`] when the store fails; the client then asks the token
    /// endpoint as if the cache were empty.
    async fn get(&self, key: &CacheKey) -> Result<Option<AccessToken>, Error>;

    /// Stores `token` under `key`, replacing what was there.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`]; the client still uses the token it got.
    async fn put(&self, key: &CacheKey, token: &AccessToken) -> Result<(), Error>;

    /// Removes the entry under `key` if it is still `rejected` (an API
    /// refused that token); a newer token stays.
    ///
    /// # Errors
    ///
    /// [`Error::Cache`].
    async fn remove(&self, key: &CacheKey, rejected: &AccessToken) -> Result<(), Error>;
}

#[async_trait::async_trait]
impl<T: TokenCache + ?Sized> TokenCache for Arc<T> {
    async fn get(&self, key: &CacheKey) -> Result<Option<AccessToken>, Error> {
        (**self).get(key).await
    }
    async fn put(&self, key: &CacheKey, token: &AccessToken) -> Result<(), Error> {
        (**self).put(key, token).await
    }
    async fn remove(&self, key: &CacheKey, rejected: &AccessToken) -> Result<(), Error> {
        (**self).remove(key, rejected).await
    }
}

/// The in-memory cache (the default): a map behind a mutex, touched only
/// when a token is refreshed or rejected. Share one `Arc<MemoryCache>`
/// between several [`TokenClient`](crate::TokenClient)s of a process to
/// share their tokens.
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<CacheKey, AccessToken>>,
}

impl MemoryCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys hold a token.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |entries| entries.len())
    }

    /// Whether no key holds a token.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<CacheKey, AccessToken>>, Error> {
        self.entries
            .lock()
            .map_err(|_| Error::Cache("memory cache mutex poisoned".into()))
    }
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.len())
            .finish()
    }
}

#[async_trait::async_trait]
impl TokenCache for MemoryCache {
    async fn get(&self, key: &CacheKey) -> Result<Option<AccessToken>, Error> {
        Ok(self.lock()?.get(key).cloned())
    }

    async fn put(&self, key: &CacheKey, token: &AccessToken) -> Result<(), Error> {
        self.lock()?.insert(key.clone(), token.clone());
        Ok(())
    }

    async fn remove(&self, key: &CacheKey, rejected: &AccessToken) -> Result<(), Error> {
        let mut entries = self.lock()?;
        if entries.get(key).is_some_and(|t| t.same_token(rejected)) {
            entries.remove(key);
        }
        Ok(())
    }
}
