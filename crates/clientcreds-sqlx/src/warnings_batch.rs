//! The expiry-warning runner's batches: many due clients read, many
//! warnings claimed, finished and moved on in a few statements, for both
//! databases (multi-row `INSERT … ON CONFLICT … RETURNING`, `UPDATE … FROM
//! (VALUES …)`, which PostgreSQL and SQLite 3.35+ both accept; `VALUES`
//! columns are named `column1`, `column2`, … in both).

use std::fmt::Write as _;

/// Rows per statement: at most 10 parameters each, so 5,000 parameters,
/// under the limits of PostgreSQL (65,535) and of the SQLite sqlx bundles
/// (32,766 since SQLite 3.32).
pub(crate) const BATCH_ROWS: usize = 500;

/// `(`$a, $b, …`)` groups of `width` parameters for `rows` rows, numbered
/// from `$first`, comma-separated.
pub(crate) fn tuples(rows: usize, width: usize, first: usize, fixed: &[(usize, &str)]) -> String {
    let mut sql = String::new();
    let mut n = first;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        let mut column = 0;
        let mut written = 0;
        while written < width + fixed.len() {
            if written > 0 {
                sql.push_str(", ");
            }
            if let Some((_, literal)) = fixed.iter().find(|(at, _)| *at == written) {
                sql.push_str(literal);
            } else {
                let _ = write!(sql, "${n}");
                n += 1;
                column += 1;
            }
            written += 1;
        }
        debug_assert_eq!(column, width);
        sql.push(')');
    }
    sql
}

/// Implements the batch helpers for `$store` (a struct with a `pool` field)
/// over database `$db`; `sql_store!` and `sql_warning_ledger!` call them.
macro_rules! sql_warning_batches {
    ($store:ident, $db:ty) => {
        impl $store {
            /// The clients of `ids`, one answer per pair, in order.
            async fn load_many(
                &self,
                ids: &[(TenantId, String)],
            ) -> Result<Vec<Option<ClientRecord>>, StoreError> {
                let mut found: std::collections::HashMap<String, ClientRecord> =
                    std::collections::HashMap::new();
                let wanted: Vec<&str> = {
                    let mut wanted: Vec<&str> = ids
                        .iter()
                        .map(|(_, id)| id.as_str())
                        .filter(|id| !id.contains('\0'))
                        .collect();
                    wanted.sort_unstable();
                    wanted.dedup();
                    wanted
                };
                for chunk in wanted.chunks(crate::warnings_batch::BATCH_ROWS) {
                    // The list twice, so each table is read through its index
                    // (numbers first used in increasing order, then reused).
                    let list = (1..=chunk.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
                    let sql = format!(
                        "SELECT {SELECT_COLUMNS} FROM clientcreds_clients c \
                         LEFT JOIN clientcreds_secrets s ON s.client_id = c.client_id AND s.client_id IN ({list}) \
                         WHERE c.client_id IN ({list}) ORDER BY c.client_id, s.position"
                    );
                    let mut statement = sqlx::query(&sql);
                    for id in chunk {
                        statement = statement.bind(*id);
                    }
                    let rows = statement.fetch_all(&self.pool).await.map_err(db)?;
                    let rows = rows.iter().map(raw_row).collect::<Result<Vec<_>, _>>()?;
                    for record in fold(rows) {
                        found.insert(record.client_id.clone(), record);
                    }
                }
                Ok(ids
                    .iter()
                    .map(|(tenant, id)| found.get(id).filter(|r| &r.tenant == tenant).cloned())
                    .collect())
            }

            async fn claim_many(
                &self,
                keys: &[clientcreds_store::WarningKey],
                now: time::OffsetDateTime,
                lease_until: time::OffsetDateTime,
            ) -> Result<Vec<clientcreds_store::Claim>, StoreError> {
                use clientcreds_store::Claim;
                type Key = (String, String, String, i32, String);
                let key_of = |k: &clientcreds_store::WarningKey| -> Key {
                    (
                        k.tenant.as_str().to_owned(),
                        k.client_id.clone(),
                        k.secret_id.clone(),
                        i32::try_from(k.stage_days).unwrap_or(i32::MAX),
                        k.recipient.clone(),
                    )
                };
                // Claimed in key order: concurrent runners lock rows in the
                // same order and never deadlock.
                let mut sorted: Vec<Key> = keys.iter().map(key_of).collect();
                sorted.sort_unstable();
                sorted.dedup();
                let mut claims: std::collections::HashMap<Key, Claim> = std::collections::HashMap::new();
                for chunk in sorted.chunks(crate::warnings_batch::BATCH_ROWS) {
                    let sql = format!(
                        "INSERT INTO clientcreds_warnings (tenant, client_id, secret_id, stage_days, recipient, \
                         next_attempt_at, updated_at, state, attempts, detail) VALUES {} \
                         ON CONFLICT (tenant, client_id, secret_id, stage_days, recipient) DO UPDATE \
                         SET attempts = clientcreds_warnings.attempts + 1, \
                         next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at \
                         WHERE clientcreds_warnings.state = 'pending' \
                         AND clientcreds_warnings.next_attempt_at <= excluded.updated_at \
                         RETURNING tenant, client_id, secret_id, stage_days, recipient, attempts",
                        crate::warnings_batch::tuples(chunk.len(), 7, 1, &[(7, "'pending'"), (8, "1"), (9, "''")])
                    );
                    let mut statement = sqlx::query(&sql);
                    for (tenant, client_id, secret_id, stage, recipient) in chunk {
                        statement = statement
                            .bind(tenant.clone())
                            .bind(client_id.clone())
                            .bind(secret_id.clone())
                            .bind(*stage)
                            .bind(recipient.clone())
                            .bind(micros(lease_until))
                            .bind(micros(now));
                    }
                    for row in statement.fetch_all(&self.pool).await.map_err(db)? {
                        let attempt: i32 = row.try_get("attempts").map_err(db)?;
                        let key: Key = (
                            row.try_get("tenant").map_err(db)?,
                            row.try_get("client_id").map_err(db)?,
                            row.try_get("secret_id").map_err(db)?,
                            row.try_get("stage_days").map_err(db)?,
                            row.try_get("recipient").map_err(db)?,
                        );
                        let attempt = u32::try_from(attempt).map_err(|_| corrupt("negative attempts"))?;
                        claims.insert(key, Claim::Claimed { attempt });
                    }
                }
                // The rest were held or finished already: read why.
                let rest: Vec<&Key> = sorted.iter().filter(|k| !claims.contains_key(*k)).collect();
                for chunk in rest.chunks(crate::warnings_batch::BATCH_ROWS) {
                    let sql = format!(
                        "SELECT w.tenant, w.client_id, w.secret_id, w.stage_days, w.recipient, w.state, \
                         w.next_attempt_at FROM (VALUES {}) AS v JOIN clientcreds_warnings w \
                         ON w.tenant = v.column1 AND w.client_id = v.column2 AND w.secret_id = v.column3 \
                         AND w.stage_days = v.column4 AND w.recipient = v.column5",
                        crate::warnings_batch::tuples(chunk.len(), 5, 1, &[])
                    );
                    let mut statement = sqlx::query(&sql);
                    for (tenant, client_id, secret_id, stage, recipient) in chunk {
                        statement = statement
                            .bind(tenant.clone())
                            .bind(client_id.clone())
                            .bind(secret_id.clone())
                            .bind(*stage)
                            .bind(recipient.clone());
                    }
                    for row in statement.fetch_all(&self.pool).await.map_err(db)? {
                        let key: Key = (
                            row.try_get("tenant").map_err(db)?,
                            row.try_get("client_id").map_err(db)?,
                            row.try_get("secret_id").map_err(db)?,
                            row.try_get("stage_days").map_err(db)?,
                            row.try_get("recipient").map_err(db)?,
                        );
                        let state: String = row.try_get("state").map_err(db)?;
                        let claim = if state == "pending" {
                            Claim::Busy { until: instant(row.try_get("next_attempt_at").map_err(db)?)? }
                        } else {
                            Claim::Finished
                        };
                        claims.insert(key, claim);
                    }
                }
                keys.iter()
                    .map(|k| {
                        claims
                            .get(&key_of(k))
                            .cloned()
                            .ok_or_else(|| corrupt("a claimed warning has no ledger row"))
                    })
                    .collect()
            }

            async fn finish_many(
                &self,
                finishes: &[clientcreds_store::WarningFinish],
                now: time::OffsetDateTime,
            ) -> Result<Vec<bool>, StoreError> {
                use clientcreds_store::WarningOutcome;
                type Key = (String, String, String, i32, String);
                let mut rows: Vec<(Key, &'static str, i64, String, i32)> = Vec::with_capacity(finishes.len());
                for f in finishes {
                    let (state, next, detail) = match &f.outcome {
                        WarningOutcome::Sent => ("sent", now, String::new()),
                        WarningOutcome::Undeliverable { reason } => ("undeliverable", now, reason.clone()),
                        WarningOutcome::Failed { reason, retry_at } => ("pending", *retry_at, reason.clone()),
                        _ => return Err(corrupt("unsupported warning outcome")),
                    };
                    let key = (
                        f.key.tenant.as_str().to_owned(),
                        f.key.client_id.clone(),
                        f.key.secret_id.clone(),
                        i32::try_from(f.key.stage_days).unwrap_or(i32::MAX),
                        f.key.recipient.clone(),
                    );
                    rows.push((key, state, micros(next), detail, i32::try_from(f.attempt).unwrap_or(i32::MAX)));
                }
                let mut sorted: Vec<&(Key, &'static str, i64, String, i32)> = rows.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let mut done: std::collections::HashSet<Key> = std::collections::HashSet::new();
                for chunk in sorted.chunks(crate::warnings_batch::BATCH_ROWS) {
                    let sql = format!(
                        "UPDATE clientcreds_warnings SET state = v.column6, next_attempt_at = v.column7, \
                         detail = v.column8, updated_at = v.column9 \
                         FROM (VALUES {}) AS v \
                         WHERE clientcreds_warnings.tenant = v.column1 AND clientcreds_warnings.client_id = v.column2 \
                         AND clientcreds_warnings.secret_id = v.column3 AND clientcreds_warnings.stage_days = v.column4 \
                         AND clientcreds_warnings.recipient = v.column5 AND clientcreds_warnings.state = 'pending' \
                         AND clientcreds_warnings.attempts = v.column10 \
                         RETURNING clientcreds_warnings.tenant, clientcreds_warnings.client_id, \
                         clientcreds_warnings.secret_id, clientcreds_warnings.stage_days, clientcreds_warnings.recipient",
                        crate::warnings_batch::tuples(chunk.len(), 10, 1, &[])
                    );
                    let mut statement = sqlx::query(&sql);
                    for row in chunk {
                        let ((tenant, client_id, secret_id, stage, recipient), state, next, detail, attempt) = *row;
                        statement = statement
                            .bind(tenant.clone())
                            .bind(client_id.clone())
                            .bind(secret_id.clone())
                            .bind(*stage)
                            .bind(recipient.clone())
                            .bind(*state)
                            .bind(*next)
                            .bind(detail.clone())
                            .bind(micros(now))
                            .bind(*attempt);
                    }
                    for row in statement.fetch_all(&self.pool).await.map_err(db)? {
                        done.insert((
                            row.try_get("tenant").map_err(db)?,
                            row.try_get("client_id").map_err(db)?,
                            row.try_get("secret_id").map_err(db)?,
                            row.try_get("stage_days").map_err(db)?,
                            row.try_get("recipient").map_err(db)?,
                        ));
                    }
                }
                Ok(rows.iter().map(|(key, ..)| done.contains(key)).collect())
            }

            async fn move_many(&self, moves: &[clientcreds_store::DueMove]) -> Result<Vec<bool>, StoreError> {
                let mut sorted: Vec<&clientcreds_store::DueMove> = moves.iter().collect();
                sorted.sort_by(|a, b| {
                    (&a.due.client_id, &a.due.secret_id).cmp(&(&b.due.client_id, &b.due.secret_id))
                });
                let mut moved: std::collections::HashSet<(String, String)> = std::collections::HashSet::new();
                for chunk in sorted.chunks(crate::warnings_batch::BATCH_ROWS) {
                    let sql = format!(
                        "UPDATE clientcreds_secrets SET warning_due = v.column5 FROM (VALUES {}) AS v \
                         WHERE clientcreds_secrets.client_id = v.column1 AND clientcreds_secrets.secret_id = v.column2 \
                         AND clientcreds_secrets.warning_due = v.column3 \
                         AND EXISTS (SELECT 1 FROM clientcreds_clients c WHERE c.client_id = v.column1 AND c.tenant = v.column4) \
                         AND clientcreds_secrets.client_id IN ({}) \
                         RETURNING clientcreds_secrets.client_id, clientcreds_secrets.secret_id",
                        crate::warnings_batch::tuples(chunk.len(), 5, 1, &[]),
                        // The client ids again, so the secrets are read
                        // through their index, not scanned.
                        (0..chunk.len()).map(|i| format!("${}", i * 5 + 1)).collect::<Vec<_>>().join(", ")
                    );
                    let mut statement = sqlx::query(&sql);
                    for m in chunk {
                        statement = statement
                            .bind(m.due.client_id.clone())
                            .bind(m.due.secret_id.clone())
                            .bind(micros(m.due.due_at))
                            .bind(m.due.tenant.as_str().to_owned())
                            .bind(m.next.map(micros));
                    }
                    for row in statement.fetch_all(&self.pool).await.map_err(db)? {
                        moved.insert((row.try_get("client_id").map_err(db)?, row.try_get("secret_id").map_err(db)?));
                    }
                }
                Ok(moves
                    .iter()
                    .map(|m| moved.contains(&(m.due.client_id.clone(), m.due.secret_id.clone())))
                    .collect())
            }

            async fn sent_many(
                &self,
                recipients: &[(TenantId, String)],
                since: time::OffsetDateTime,
            ) -> Result<Vec<u64>, StoreError> {
                let mut counts: std::collections::HashMap<(String, String), u64> = std::collections::HashMap::new();
                let mut distinct: Vec<(&str, &str)> =
                    recipients.iter().map(|(t, r)| (t.as_str(), r.as_str())).collect();
                distinct.sort_unstable();
                distinct.dedup();
                for chunk in distinct.chunks(crate::warnings_batch::BATCH_ROWS) {
                    let sql = format!(
                        "SELECT w.tenant, w.recipient, COUNT(*) AS sent FROM (VALUES {}) AS v \
                         JOIN clientcreds_warnings w ON w.tenant = v.column1 AND w.recipient = v.column2 \
                         WHERE w.state = 'sent' AND w.updated_at >= v.column3 GROUP BY w.tenant, w.recipient",
                        crate::warnings_batch::tuples(chunk.len(), 3, 1, &[])
                    );
                    let mut statement = sqlx::query(&sql);
                    for (tenant, recipient) in chunk {
                        statement = statement.bind(*tenant).bind(*recipient).bind(micros(since));
                    }
                    for row in statement.fetch_all(&self.pool).await.map_err(db)? {
                        let sent: i64 = row.try_get("sent").map_err(db)?;
                        counts.insert(
                            (row.try_get("tenant").map_err(db)?, row.try_get("recipient").map_err(db)?),
                            u64::try_from(sent).map_err(|_| corrupt("negative count"))?,
                        );
                    }
                }
                Ok(recipients
                    .iter()
                    .map(|(t, r)| counts.get(&(t.as_str().to_owned(), r.clone())).copied().unwrap_or(0))
                    .collect())
            }
        }
    };
}

pub(crate) use sql_warning_batches;
