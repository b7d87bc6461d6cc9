//! Single use of DPoP proofs: the [`ProofReplay`] contract and the
//! in-memory [`ReplayCache`] every layer has by default.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::BoxFuture;

/// The replay record could not be consulted (a shared store's outage, or
/// a bounded cache full of live entries). The request is refused with 503
/// (fail closed): a proof is never accepted unrecorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the DPoP replay record is unavailable")]
pub struct ReplayUnavailable;

/// Records proofs as used: "is this the first use of `key` before
/// `expires_at`?", answered in one atomic step.
///
/// Every layer has a [`ReplayCache`] of its own by default (one process).
/// Replicas behind one load balancer share a record instead, so that a
/// proof replayed on another replica is refused too. Keys are at most
/// [`MAX_REPLAY_KEY_LEN`] bytes (`dpop-rs:` and a base64url SHA-256 of
/// the proof key's thumbprint and the proof's `jti`), so any store of
/// single-use identifiers fits. Object safe: the layer holds an
/// `Arc<dyn ProofReplay>`.
///
/// An issuer's store adapts in a few lines; with `clientcreds-store`'s
/// `ReplayStore` (memory, PostgreSQL and SQLite), in the host, which
/// depends on both crates (this one never depends on the store):
///
/// ```
/// # mod clientcreds_store {
/// #     // The store's trait as `async_trait` expands it (this crate does
/// #     // not depend on the store: a stand-in of the same shape).
/// #     use std::{future::Future, pin::Pin};
/// #     pub enum ReplayCheck { First, Replayed }
/// #     #[derive(Debug)] pub struct StoreError;
/// #     pub trait ReplayStore: Send + Sync + std::fmt::Debug {
/// #         fn check_and_record<'a>(&'a self, key: &'a str, expires_at: time::OffsetDateTime, now: time::OffsetDateTime)
/// #             -> Pin<Box<dyn Future<Output = Result<ReplayCheck, StoreError>> + Send + 'a>>;
/// #     }
/// # }
/// use std::sync::Arc;
/// use clientcreds_resource::{BoxFuture, ProofReplay, ReplayUnavailable};
/// use clientcreds_store::{ReplayCheck, ReplayStore};
/// use time::OffsetDateTime;
///
/// #[derive(Debug)]
/// struct SharedReplay(Arc<dyn ReplayStore>);
///
/// impl ProofReplay for SharedReplay {
///     fn first_use<'a>(&'a self, key: &'a str, expires_at: OffsetDateTime, now: OffsetDateTime)
///         -> BoxFuture<'a, Result<bool, ReplayUnavailable>> {
///         Box::pin(async move {
///             match self.0.check_and_record(key, expires_at, now).await {
///                 Ok(ReplayCheck::First) => Ok(true),
///                 Ok(_) => Ok(false),
///                 Err(_) => Err(ReplayUnavailable), // fail closed
///             }
///         })
///     }
/// }
/// ```
pub trait ProofReplay: Send + Sync + Debug + 'static {
    /// Records `key` until `expires_at` if it is absent or its earlier
    /// entry expired by `now`, and says whether it was: `true` for a first
    /// use, `false` for a replay.
    ///
    /// # Errors
    /// [`ReplayUnavailable`] when the record cannot be consulted; the
    /// request is then refused.
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, ReplayUnavailable>>;
}

/// The longest key a [`ProofReplay`] is given, in bytes.
pub const MAX_REPLAY_KEY_LEN: usize = 64;

/// The default bound of a [`ReplayCache`]: 100,000 live proofs (a few
/// MB at its fullest; a proof lives for the proof window only).
pub const DEFAULT_REPLAY_CACHE_CAPACITY: usize = 100_000;

const SHARDS: usize = 32;

type Shard = Mutex<HashMap<Box<str>, OffsetDateTime>>;

/// A bounded in-memory [`ProofReplay`] for one process, the default.
///
/// Keys are spread over 32 independently locked shards by a keyed hash,
/// so the check takes no global lock: two requests contend only when
/// their keys fall into the same shard. A full shard first drops its
/// expired entries and, when all are live, refuses with
/// [`ReplayUnavailable`] rather than forget a live proof. Entries are
/// only made for proofs that passed every other check (a valid token
/// bound to the proof's key), so filling it takes valid tokens.
pub struct ReplayCache {
    shards: Box<[Shard]>,
    shard_capacity: usize,
    hasher: RandomState,
}

impl Debug for ReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayCache")
            .field("capacity", &(self.shard_capacity * SHARDS))
            .finish_non_exhaustive()
    }
}

impl Default for ReplayCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CACHE_CAPACITY)
    }
}

impl ReplayCache {
    /// A cache that holds at most about `capacity` live proofs (at least 32).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    /// How many proofs it holds, expired or not.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether it holds no proof.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`ProofReplay::first_use`] without the future: the check itself.
    ///
    /// # Errors
    /// [`ReplayUnavailable`] when the key's shard is full of live entries.
    pub fn record(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, ReplayUnavailable> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let shard = self.shards.get(index).ok_or(ReplayUnavailable)?;
        // A poisoned shard still holds valid entries: keep using it.
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(until) = shard.get_mut(key) {
            if *until > now {
                return Ok(false);
            }
            *until = expires_at;
            return Ok(true);
        }
        if shard.len() >= self.shard_capacity {
            shard.retain(|_, until| *until > now);
            if shard.len() >= self.shard_capacity {
                return Err(ReplayUnavailable);
            }
        }
        shard.insert(key.into(), expires_at);
        Ok(true)
    }
}

impl ProofReplay for ReplayCache {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, ReplayUnavailable>> {
        Box::pin(std::future::ready(self.record(key, expires_at, now)))
    }
}

impl<T: ProofReplay + ?Sized> ProofReplay for std::sync::Arc<T> {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, ReplayUnavailable>> {
        (**self).first_use(key, expires_at, now)
    }
}
