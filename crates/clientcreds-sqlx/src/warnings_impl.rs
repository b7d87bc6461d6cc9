//! The expiry-warning ledger, written once and expanded for each database.

/// Implements `WarningLedger` for `$store` (a struct with a `pool` field).
macro_rules! sql_warning_ledger {
    ($store:ident) => {
        #[async_trait]
        impl clientcreds_store::WarningLedger for $store {
            async fn due_warnings(
                &self,
                now: time::OffsetDateTime,
                limit: usize,
            ) -> Result<Vec<clientcreds_store::DueWarning>, StoreError> {
                let rows = sqlx::query(
                    "SELECT c.tenant, s.client_id, s.secret_id, s.warning_due \
                     FROM clientcreds_secrets s JOIN clientcreds_clients c ON c.client_id = s.client_id \
                     WHERE s.warning_due IS NOT NULL AND s.warning_due <= $1 \
                     ORDER BY s.warning_due, s.client_id, s.secret_id LIMIT $2",
                )
                .bind(micros(now))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                rows.iter()
                    .map(|row| {
                        Ok(clientcreds_store::DueWarning {
                            tenant: TenantId::new(row.try_get::<String, _>("tenant").map_err(db)?)
                                .map_err(|_| corrupt("invalid tenant id"))?,
                            client_id: row.try_get("client_id").map_err(db)?,
                            secret_id: row.try_get("secret_id").map_err(db)?,
                            due_at: instant(row.try_get("warning_due").map_err(db)?)?,
                        })
                    })
                    .collect()
            }

            async fn set_warning_due(
                &self,
                tenant: &TenantId,
                client_id: &str,
                secret_id: &str,
                expected: time::OffsetDateTime,
                next: Option<time::OffsetDateTime>,
            ) -> Result<bool, StoreError> {
                let moved = sqlx::query(
                    "UPDATE clientcreds_secrets SET warning_due = $1 \
                     WHERE client_id = $2 AND secret_id = $3 AND warning_due = $4 \
                     AND client_id IN (SELECT client_id FROM clientcreds_clients WHERE tenant = $5)",
                )
                .bind(next.map(micros))
                .bind(client_id)
                .bind(secret_id)
                .bind(micros(expected))
                .bind(tenant.as_str())
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(moved.rows_affected() == 1)
            }

            async fn claim_warning(
                &self,
                key: &clientcreds_store::WarningKey,
                now: time::OffsetDateTime,
                lease_until: time::OffsetDateTime,
            ) -> Result<clientcreds_store::Claim, StoreError> {
                // One statement: insert the first claim, or take a pending
                // warning whose lease or backoff is over. Concurrent
                // claimers serialize on the row; only one gets it back.
                let claimed = sqlx::query(
                    "INSERT INTO clientcreds_warnings (secret_id, stage_days, recipient, tenant, client_id, \
                     state, attempts, next_attempt_at, detail, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', 1, $6, '', $7) \
                     ON CONFLICT (tenant, client_id, secret_id, stage_days, recipient) DO UPDATE \
                     SET attempts = clientcreds_warnings.attempts + 1, next_attempt_at = $6, updated_at = $7 \
                     WHERE clientcreds_warnings.state = 'pending' AND clientcreds_warnings.next_attempt_at <= $7 \
                     RETURNING attempts",
                )
                .bind(&key.secret_id)
                .bind(i32::try_from(key.stage_days).unwrap_or(i32::MAX))
                .bind(&key.recipient)
                .bind(key.tenant.as_str())
                .bind(&key.client_id)
                .bind(micros(lease_until))
                .bind(micros(now))
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
                if let Some(row) = claimed {
                    let attempt: i32 = row.try_get("attempts").map_err(db)?;
                    return Ok(clientcreds_store::Claim::Claimed {
                        attempt: u32::try_from(attempt).map_err(|_| corrupt("negative attempts"))?,
                    });
                }
                let row = sqlx::query(
                    "SELECT state, next_attempt_at FROM clientcreds_warnings \
                     WHERE tenant = $1 AND client_id = $2 AND secret_id = $3 AND stage_days = $4 AND recipient = $5",
                )
                .bind(key.tenant.as_str())
                .bind(&key.client_id)
                .bind(&key.secret_id)
                .bind(i32::try_from(key.stage_days).unwrap_or(i32::MAX))
                .bind(&key.recipient)
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                let state: String = row.try_get("state").map_err(db)?;
                Ok(if state == "pending" {
                    clientcreds_store::Claim::Busy {
                        until: instant(row.try_get("next_attempt_at").map_err(db)?)?,
                    }
                } else {
                    clientcreds_store::Claim::Finished
                })
            }

            async fn finish_warning(
                &self,
                key: &clientcreds_store::WarningKey,
                attempt: u32,
                outcome: &clientcreds_store::WarningOutcome,
                now: time::OffsetDateTime,
            ) -> Result<bool, StoreError> {
                use clientcreds_store::WarningOutcome;
                let (state, next, detail) = match outcome {
                    WarningOutcome::Sent => ("sent", now, ""),
                    WarningOutcome::Undeliverable { reason } => ("undeliverable", now, reason.as_str()),
                    WarningOutcome::Failed { reason, retry_at } => ("pending", *retry_at, reason.as_str()),
                    _ => return Err(corrupt("unsupported warning outcome")),
                };
                let done = sqlx::query(
                    "UPDATE clientcreds_warnings SET state = $1, next_attempt_at = $2, detail = $3, updated_at = $4 \
                     WHERE tenant = $5 AND client_id = $6 AND secret_id = $7 AND stage_days = $8 \
                     AND recipient = $9 AND state = 'pending' AND attempts = $10",
                )
                .bind(state)
                .bind(micros(next))
                .bind(detail)
                .bind(micros(now))
                .bind(key.tenant.as_str())
                .bind(&key.client_id)
                .bind(&key.secret_id)
                .bind(i32::try_from(key.stage_days).unwrap_or(i32::MAX))
                .bind(&key.recipient)
                .bind(i32::try_from(attempt).unwrap_or(i32::MAX))
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            }

            async fn warnings(
                &self,
                tenant: &TenantId,
                client_id: &str,
            ) -> Result<Vec<clientcreds_store::WarningRecord>, StoreError> {
                let rows = sqlx::query(
                    "SELECT secret_id, stage_days, recipient, state, attempts, next_attempt_at, detail, updated_at \
                     FROM clientcreds_warnings WHERE tenant = $1 AND client_id = $2",
                )
                .bind(tenant.as_str())
                .bind(client_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
                let mut records = rows
                    .iter()
                    .map(|row| {
                        let stage: i32 = row.try_get("stage_days").map_err(db)?;
                        let attempts: i32 = row.try_get("attempts").map_err(db)?;
                        let state: String = row.try_get("state").map_err(db)?;
                        Ok(clientcreds_store::WarningRecord {
                            key: clientcreds_store::WarningKey {
                                tenant: tenant.clone(),
                                client_id: client_id.to_owned(),
                                secret_id: row.try_get("secret_id").map_err(db)?,
                                stage_days: u32::try_from(stage).map_err(|_| corrupt("negative stage"))?,
                                recipient: row.try_get("recipient").map_err(db)?,
                            },
                            state: clientcreds_store::WarningState::from_name(&state)
                                .ok_or_else(|| corrupt("unknown warning state"))?,
                            attempts: u32::try_from(attempts).map_err(|_| corrupt("negative attempts"))?,
                            next_attempt_at: instant(row.try_get("next_attempt_at").map_err(db)?)?,
                            detail: row.try_get("detail").map_err(db)?,
                            updated_at: instant(row.try_get("updated_at").map_err(db)?)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                clientcreds_store::sort_warnings(&mut records);
                Ok(records)
            }

            async fn sent_warnings(
                &self,
                tenant: &TenantId,
                recipient: &str,
                since: time::OffsetDateTime,
            ) -> Result<u64, StoreError> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS sent FROM clientcreds_warnings \
                     WHERE tenant = $1 AND recipient = $2 AND state = 'sent' AND updated_at >= $3",
                )
                .bind(tenant.as_str())
                .bind(recipient)
                .bind(micros(since))
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
                let sent: i64 = row.try_get("sent").map_err(db)?;
                u64::try_from(sent).map_err(|_| corrupt("negative count"))
            }

            async fn claim_warnings(
                &self,
                keys: &[clientcreds_store::WarningKey],
                now: time::OffsetDateTime,
                lease_until: time::OffsetDateTime,
            ) -> Result<Vec<clientcreds_store::Claim>, StoreError> {
                self.claim_many(keys, now, lease_until).await
            }

            async fn finish_warnings(
                &self,
                finishes: &[clientcreds_store::WarningFinish],
                now: time::OffsetDateTime,
            ) -> Result<Vec<bool>, StoreError> {
                self.finish_many(finishes, now).await
            }

            async fn set_warnings_due(&self, moves: &[clientcreds_store::DueMove]) -> Result<Vec<bool>, StoreError> {
                self.move_many(moves).await
            }

            async fn sent_warnings_to(
                &self,
                recipients: &[(TenantId, String)],
                since: time::OffsetDateTime,
            ) -> Result<Vec<u64>, StoreError> {
                self.sent_many(recipients, since).await
            }
        }
    };
}

pub(crate) use sql_warning_ledger;
