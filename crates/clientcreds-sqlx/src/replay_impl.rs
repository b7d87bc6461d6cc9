//! The replay store (single-use `jti`s), written once and expanded for each
//! database: one statement per check.

/// Implements `ReplayStore` for `$store` (a struct with a `pool` field).
macro_rules! sql_replay_store {
    ($store:ident) => {
        #[async_trait]
        impl clientcreds_store::ReplayStore for $store {
            /// One round trip: insert the key, or take over an expired
            /// entry; a live entry makes the upsert's `WHERE` false, so no
            /// row comes back and the key is a replay. The primary key makes
            /// racing replicas serialize on the row: one of them wins.
            async fn check_and_record(
                &self,
                key: &str,
                expires_at: time::OffsetDateTime,
                now: time::OffsetDateTime,
            ) -> Result<clientcreds_store::ReplayCheck, StoreError> {
                clientcreds_store::validate_replay_key(key)?;
                let recorded = sqlx::query(
                    "INSERT INTO clientcreds_replay (key, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
                     WHERE clientcreds_replay.expires_at <= $3 \
                     RETURNING 1",
                )
                .bind(key)
                .bind(crate::codec::micros(expires_at))
                .bind(crate::codec::micros(now))
                .fetch_optional(&self.pool)
                .await
                .map_err(crate::codec::db)?;
                Ok(if recorded.is_some() {
                    clientcreds_store::ReplayCheck::First
                } else {
                    clientcreds_store::ReplayCheck::Replayed
                })
            }

            async fn prune_replays(&self, now: time::OffsetDateTime) -> Result<u64, StoreError> {
                let deleted = sqlx::query("DELETE FROM clientcreds_replay WHERE expires_at <= $1")
                    .bind(crate::codec::micros(now))
                    .execute(&self.pool)
                    .await
                    .map_err(crate::codec::db)?;
                Ok(deleted.rows_affected())
            }
        }
    };
}

pub(crate) use sql_replay_store;
