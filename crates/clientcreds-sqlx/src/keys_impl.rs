//! The signing-key store, written once and expanded for each database.

/// Implements `KeyStore` for `$store` (a struct with a `pool` field) over
/// database `$db`.
macro_rules! sql_key_store {
    ($store:ident, $db:ty) => {
        #[async_trait]
        impl clientcreds_store::KeyStore for $store {
            async fn signing_keys(&self) -> Result<clientcreds_store::KeyRing, StoreError> {
                // One statement, so the revision and the keys come from one snapshot.
                let rows = sqlx::query(
                    "SELECT r.revision, k.kid, k.algorithm, k.public_jwk, k.sealed_private_key, \
                     k.created_at, k.publish_from, k.sign_from, k.sign_until, k.unpublish_after \
                     FROM clientcreds_key_ring r LEFT JOIN clientcreds_signing_keys k ON 1 = 1 \
                     WHERE r.id = 1 ORDER BY k.sign_from, k.kid",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut ring = clientcreds_store::KeyRing::default();
                for row in &rows {
                    let revision: i64 = row.try_get("revision").map_err(db)?;
                    ring.revision = u64::try_from(revision).map_err(|_| corrupt("negative key ring revision"))?;
                    let Some(kid) = row.try_get::<Option<String>, _>("kid").map_err(db)? else {
                        continue;
                    };
                    let required = |column: &str| -> Result<String, StoreError> {
                        row.try_get::<Option<String>, _>(column)
                            .map_err(db)?
                            .ok_or_else(|| corrupt("signing key column is NULL"))
                    };
                    let when = |column: &str| -> Result<Option<time::OffsetDateTime>, StoreError> {
                        row.try_get::<Option<i64>, _>(column).map_err(db)?.map(instant).transpose()
                    };
                    let must = |value: Option<time::OffsetDateTime>| value.ok_or_else(|| corrupt("signing key instant is NULL"));
                    ring.keys.push(clientcreds_store::StoredKey {
                        kid,
                        algorithm: required("algorithm")?,
                        public_jwk: required("public_jwk")?,
                        sealed_private_key: required("sealed_private_key")?,
                        created_at: must(when("created_at")?)?,
                        publish_from: must(when("publish_from")?)?,
                        sign_from: must(when("sign_from")?)?,
                        sign_until: when("sign_until")?,
                        unpublish_after: when("unpublish_after")?,
                    });
                }
                if rows.is_empty() {
                    return Err(corrupt("the key ring row is missing: run the migrations"));
                }
                // Read after the keys: the set only grows, so every kid
                // withdrawn before the keys were read is here.
                ring.withdrawn = sqlx::query_scalar::<_, String>(
                    "SELECT kid FROM clientcreds_withdrawn_keys ORDER BY kid",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                ring.withdrawn.sort();
                Ok(ring)
            }

            async fn change_signing_keys(
                &self,
                expected_revision: u64,
                changes: &[clientcreds_store::KeyChange],
            ) -> Result<u64, StoreError> {
                use clientcreds_store::KeyChange;
                for change in changes {
                    if let KeyChange::Insert(key) | KeyChange::Update(key) = change {
                        clientcreds_store::validate_stored_key(key)?;
                    }
                }
                let expected = i64::try_from(expected_revision).map_err(|_| StoreError::Conflict)?;
                let mut tx = self.pool.begin().await.map_err(db)?;
                let bumped = sqlx::query(
                    "UPDATE clientcreds_key_ring SET revision = revision + 1 WHERE id = 1 AND revision = $1",
                )
                .bind(expected)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                if bumped.rows_affected() == 0 {
                    return Err(StoreError::Conflict);
                }
                for change in changes {
                    match change {
                        KeyChange::Insert(key) => {
                            let withdrawn = sqlx::query("SELECT 1 FROM clientcreds_withdrawn_keys WHERE kid = $1")
                                .bind(&key.kid)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db)?;
                            if withdrawn.is_some() {
                                return Err(StoreError::InvalidKey { reason: "this kid was withdrawn" });
                            }
                            let inserted = sqlx::query(
                                "INSERT INTO clientcreds_signing_keys (kid, algorithm, public_jwk, sealed_private_key, \
                                 created_at, publish_from, sign_from, sign_until, unpublish_after) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                            )
                            .bind(&key.kid)
                            .bind(&key.algorithm)
                            .bind(&key.public_jwk)
                            .bind(&key.sealed_private_key)
                            .bind(micros(key.created_at))
                            .bind(micros(key.publish_from))
                            .bind(micros(key.sign_from))
                            .bind(key.sign_until.map(micros))
                            .bind(key.unpublish_after.map(micros))
                            .execute(&mut *tx)
                            .await;
                            match inserted {
                                Ok(_) => {}
                                Err(sqlx::Error::Database(d)) if d.is_unique_violation() => return Err(StoreError::Duplicate),
                                Err(e) => return Err(db(e)),
                            }
                        }
                        KeyChange::Update(key) => {
                            let updated = sqlx::query(
                                "UPDATE clientcreds_signing_keys SET algorithm = $1, public_jwk = $2, \
                                 sealed_private_key = $3, created_at = $4, publish_from = $5, sign_from = $6, \
                                 sign_until = $7, unpublish_after = $8 WHERE kid = $9",
                            )
                            .bind(&key.algorithm)
                            .bind(&key.public_jwk)
                            .bind(&key.sealed_private_key)
                            .bind(micros(key.created_at))
                            .bind(micros(key.publish_from))
                            .bind(micros(key.sign_from))
                            .bind(key.sign_until.map(micros))
                            .bind(key.unpublish_after.map(micros))
                            .bind(&key.kid)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                            if updated.rows_affected() == 0 {
                                return Err(StoreError::NotFound);
                            }
                        }
                        KeyChange::Remove { kid } => {
                            let removed = sqlx::query("DELETE FROM clientcreds_signing_keys WHERE kid = $1")
                                .bind(kid)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                            if removed.rows_affected() == 0 {
                                return Err(StoreError::NotFound);
                            }
                        }
                        KeyChange::Withdraw { kid } => {
                            if kid.is_empty() || kid.len() > clientcreds_store::MAX_KID_LEN {
                                return Err(StoreError::InvalidKey { reason: "kid must be 1 to 128 bytes" });
                            }
                            sqlx::query("DELETE FROM clientcreds_signing_keys WHERE kid = $1")
                                .bind(kid)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                            sqlx::query(
                                "INSERT INTO clientcreds_withdrawn_keys (kid) VALUES ($1) ON CONFLICT (kid) DO NOTHING",
                            )
                            .bind(kid)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                        KeyChange::Audit(event) => Self::insert_audit(&mut tx, event).await?,
                        _ => return Err(StoreError::InvalidKey { reason: "unsupported change" }),
                    }
                }
                tx.commit().await.map_err(db)?;
                Ok(expected_revision + 1)
            }
        }
    };
}

pub(crate) use sql_key_store;
