//! The storage error type.

/// What a store can fail with. A caller can always tell a contract outcome
/// (conflict, not found, duplicate) from an infrastructure failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A replay key that is empty or longer than
    /// [`MAX_REPLAY_KEY_LEN`](crate::MAX_REPLAY_KEY_LEN).
    #[error("invalid replay key: pass a digest of 1 to 128 bytes")]
    InvalidReplayKey,
    /// A bounded replay store holds only unexpired keys: the request is
    /// refused rather than a live key forgotten. Raise the capacity or
    /// shorten the lifetimes it records.
    #[error("the replay store is full of unexpired keys")]
    ReplayStoreFull,
    /// An update or delete named a version the record no longer has:
    /// someone else changed it first. Re-read and retry.
    #[error("the client was changed concurrently (version conflict)")]
    Conflict,
    /// The client does not exist in this tenant.
    #[error("no such client in this tenant")]
    NotFound,
    /// An insert used a client id that already exists.
    #[error("a client with this id already exists")]
    Duplicate,
    /// A cursor was not issued by this store for this query.
    #[error("the page cursor is invalid")]
    InvalidCursor,
    /// A signing key given to a [`KeyStore`](crate::KeyStore) is not
    /// storable (empty kid, missing parts, instants out of order).
    #[error("invalid signing key: {reason}")]
    InvalidKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// The store does not implement this optional operation (a store
    /// written before it existed: retention's `prune_activity` and
    /// `prune_audit`).
    #[error("this store does not support {operation}")]
    Unsupported {
        /// The operation.
        operation: &'static str,
    },
    /// The backend failed (connection lost, disk full, a constraint the
    /// contract does not name). Nothing was written.
    /// (The cause is the error's `source`, not part of its message.)
    #[error("storage backend failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A database URL of another kind than the store's (a `postgres:` URL
    /// given to the SQLite store, ...). Only the scheme is kept, never the
    /// URL (it may hold a password).
    #[error("{store} needs a `{expected}:` URL, not `{found}:`{hint}")]
    WrongUrlScheme {
        /// The store (`SqliteStore`, `PgStore`).
        store: &'static str,
        /// The scheme it takes.
        expected: &'static str,
        /// The scheme given (empty when the URL has none).
        found: String,
        /// Which store takes that scheme, when one does.
        hint: &'static str,
    },
}

impl StoreError {
    /// Wraps a backend's own error.
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(error))
    }
}
