//! Single-use identifiers: the replay store that client assertions
//! (RFC 7523 `jti`) and proofs of possession share.
//!
//! A [`ReplayStore`] answers one question in one step: "is this the first
//! use of this key before it expires?". The check and the record are one
//! atomic insert-if-absent, so two replicas racing with one identifier
//! cannot both win. Entries live until their expiry and are then pruned;
//! an expired key may be used again (by then the token it came from is
//! refused as expired anyway).

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;

/// The longest replay key a store accepts, in bytes. Callers pass a digest
/// of what they check (for example the base64url SHA-256 of issuer and
/// `jti`, 43 bytes), never the caller's raw text.
pub const MAX_REPLAY_KEY_LEN: usize = 128;

/// What the replay check answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayCheck {
    /// First use: the key is now recorded until its expiry.
    First,
    /// Seen before and not yet expired: refuse the request.
    Replayed,
}

/// The store of single-use identifiers. Memory, PostgreSQL and SQLite
/// implement it; replicas share one by sharing the database.
#[async_trait]
pub trait ReplayStore: Send + Sync + Debug {
    /// Records `key` until `expires_at` if it is absent (or its earlier
    /// entry expired by `now`), in one atomic step.
    ///
    /// # Errors
    /// [`StoreError::InvalidReplayKey`] for an empty key or one over
    /// [`MAX_REPLAY_KEY_LEN`]; [`StoreError::ReplayStoreFull`] when a
    /// bounded store holds only unexpired keys; [`StoreError::Backend`].
    /// A caller must refuse the request on any error (fail closed).
    async fn check_and_record(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ReplayCheck, StoreError>;

    /// Deletes the entries expired by `now`; returns how many.
    ///
    /// # Errors
    /// [`StoreError::Backend`].
    async fn prune_replays(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Checks a key's length (the shared rule of every implementation).
///
/// # Errors
/// [`StoreError::InvalidReplayKey`].
pub fn validate_replay_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_REPLAY_KEY_LEN {
        Err(StoreError::InvalidReplayKey)
    } else {
        Ok(())
    }
}

/// The default bound of a [`MemoryReplayStore`]: one million keys (about
/// 100 MB at its fullest).
pub const DEFAULT_REPLAY_CAPACITY: usize = 1_000_000;

const SHARDS: usize = 16;

/// A bounded in-memory [`ReplayStore`] for one process (tests, a single
/// replica). Keys are spread over 16 independently locked shards, so the
/// check takes no global lock; a full shard first drops its expired
/// entries and, when all are live, refuses with
/// [`StoreError::ReplayStoreFull`] rather than forget a live key.
pub struct MemoryReplayStore {
    shards: Vec<Mutex<HashMap<Box<str>, OffsetDateTime>>>,
    shard_capacity: usize,
    hasher: RandomState,
}

impl Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &(self.shard_capacity * SHARDS))
            .finish_non_exhaustive()
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }
}

impl MemoryReplayStore {
    /// A store that holds at most about `capacity` live keys (at least 16).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_capacity: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    /// How many keys it holds, expired or not.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether it holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> Result<&Mutex<HashMap<Box<str>, OffsetDateTime>>, StoreError> {
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        // Always present: `index` is below the shard count.
        self.shards.get(index).ok_or(StoreError::ReplayStoreFull)
    }
}

#[async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn check_and_record(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<ReplayCheck, StoreError> {
        validate_replay_key(key)?;
        // A poisoned shard still holds valid entries: keep using it.
        let mut shard = self
            .shard(key)?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(until) = shard.get_mut(key) {
            if *until > now {
                return Ok(ReplayCheck::Replayed);
            }
            *until = expires_at;
            return Ok(ReplayCheck::First);
        }
        if shard.len() >= self.shard_capacity {
            shard.retain(|_, until| *until > now);
            if shard.len() >= self.shard_capacity {
                return Err(StoreError::ReplayStoreFull);
            }
        }
        shard.insert(key.into(), expires_at);
        Ok(ReplayCheck::First)
    }

    async fn prune_replays(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut pruned = 0u64;
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let before = shard.len();
            shard.retain(|_, until| *until > now);
            pruned += (before - shard.len()) as u64;
        }
        Ok(pruned)
    }
}
