//! The activity log's aggregate (`clientcreds_activity_counts`, migration
//! 0008), written once for both databases.

use clientcreds_store::{ActivityCount, CountedOutcome};

/// Rows per multi-row upsert: 7 parameters each, under SQLite's oldest
/// limit of 999 parameters per statement.
pub(crate) const COUNT_ROWS: usize = 140;

/// A count's key columns as stored: '' for "none" and for "issued".
pub(crate) type StoredKey = (String, i64, String, String, String, String);

/// `counts` with the same key added up, in key order: the order every
/// writer locks rows in, so two replicas flushing at once never deadlock,
/// and an upsert never meets its own key twice (PostgreSQL refuses that).
pub(crate) fn merged(counts: Vec<ActivityCount>) -> Vec<(StoredKey, i64)> {
    let mut keyed: Vec<(StoredKey, i64)> = counts
        .into_iter()
        .map(|c| {
            let reason = match c.outcome {
                CountedOutcome::Issued => String::new(),
                CountedOutcome::Denied { reason } => reason,
            };
            let key = (
                c.tenant.as_str().to_owned(),
                crate::codec::micros(ActivityCount::minute_of(c.minute)),
                c.client_id,
                c.secret_id.unwrap_or_default(),
                c.source.unwrap_or_default(),
                reason,
            );
            (key, i64::try_from(c.count).unwrap_or(i64::MAX))
        })
        .collect();
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(StoredKey, i64)> = Vec::with_capacity(keyed.len());
    for (key, n) in keyed {
        match out.last_mut() {
            Some((last, total)) if *last == key => *total = total.saturating_add(n),
            _ => out.push((key, n)),
        }
    }
    out
}

/// The upsert statement for `rows` rows.
pub(crate) fn upsert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO clientcreds_activity_counts \
         (tenant, minute, client_id, secret_id, source, reason, count) VALUES ",
    );
    for i in 0..rows {
        let n = i * 7;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6,
            n + 7
        ));
    }
    sql.push_str(
        " ON CONFLICT (tenant, minute, client_id, secret_id, source, reason) \
         DO UPDATE SET count = clientcreds_activity_counts.count + excluded.count",
    );
    sql
}

/// Implements the aggregate's three methods as inherent helpers of
/// `$store` (a struct with a `pool` field) over database `$db`; the
/// `ActivityLog` impl of `sql_store!` calls them.
macro_rules! sql_activity_counts {
    ($store:ident, $db:ty) => {
        impl $store {
            async fn add_counts(
                &self,
                counts: Vec<clientcreds_store::ActivityCount>,
            ) -> Result<(), StoreError> {
                let rows = crate::counts_impl::merged(counts);
                if rows.is_empty() {
                    return Ok(());
                }
                // One transaction: a flush lands whole or not at all (and
                // the writer then retries it whole).
                let mut tx = self.pool.begin().await.map_err(db)?;
                for chunk in rows.chunks(crate::counts_impl::COUNT_ROWS) {
                    let sql = crate::counts_impl::upsert_sql(chunk.len());
                    let mut statement = sqlx::query(&sql);
                    for ((tenant, minute, client_id, secret_id, source, reason), n) in chunk {
                        statement = statement
                            .bind(tenant.clone())
                            .bind(*minute)
                            .bind(client_id.clone())
                            .bind(secret_id.clone())
                            .bind(source.clone())
                            .bind(reason.clone())
                            .bind(*n);
                    }
                    statement.execute(&mut *tx).await.map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn read_counts(
                &self,
                query: &clientcreds_store::ActivityCountQuery,
            ) -> Result<Vec<clientcreds_store::ActivityCount>, StoreError> {
                if query.client_id.as_ref().is_some_and(|id| id.contains('\0')) {
                    return Ok(Vec::new());
                }
                let client_clause = if query.client_id.is_some() {
                    "AND client_id = $4"
                } else {
                    "AND $4 = $4"
                };
                let sql = format!(
                    "SELECT tenant, minute, client_id, secret_id, source, reason, count \
                     FROM clientcreds_activity_counts \
                     WHERE tenant = $1 AND minute >= $2 AND minute < $3 {client_clause} \
                     ORDER BY minute, client_id, secret_id, source, reason LIMIT $5"
                );
                let rows = sqlx::query(&sql)
                    .bind(query.tenant.as_str())
                    .bind(query.since.map_or(i64::MIN, micros))
                    .bind(query.until.map_or(i64::MAX, micros))
                    .bind(query.client_id.clone().unwrap_or_default())
                    .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                rows.iter()
                    .map(|row| {
                        let tenant: String = row.try_get("tenant").map_err(db)?;
                        let secret_id: String = row.try_get("secret_id").map_err(db)?;
                        let source: String = row.try_get("source").map_err(db)?;
                        let reason: String = row.try_get("reason").map_err(db)?;
                        let count: i64 = row.try_get("count").map_err(db)?;
                        Ok(clientcreds_store::ActivityCount {
                            tenant: TenantId::new(tenant)
                                .map_err(|_| corrupt("invalid tenant id"))?,
                            client_id: row.try_get("client_id").map_err(db)?,
                            secret_id: Some(secret_id).filter(|s| !s.is_empty()),
                            source: Some(source).filter(|s| !s.is_empty()),
                            minute: instant(row.try_get("minute").map_err(db)?)?,
                            outcome: if reason.is_empty() {
                                clientcreds_store::CountedOutcome::Issued
                            } else {
                                clientcreds_store::CountedOutcome::Denied { reason }
                            },
                            count: u64::try_from(count).map_err(|_| corrupt("negative count"))?,
                        })
                    })
                    .collect()
            }

            async fn prune_counts(&self, before: time::OffsetDateTime) -> Result<u64, StoreError> {
                let pruned =
                    sqlx::query("DELETE FROM clientcreds_activity_counts WHERE minute < $1")
                        .bind(micros(before))
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                Ok(pruned.rows_affected())
            }
        }
    };
}

pub(crate) use sql_activity_counts;
