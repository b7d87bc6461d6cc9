//! The store, written once and expanded for each database.
//!
//! Both databases accept the same SQL here: numbered `$n` parameters (used
//! in increasing order), row-value comparisons, a `CASE` instead of
//! `GREATEST`, and `RETURNING`-free statements.

/// The two logs paged by sequence number.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LogTable {
    /// `clientcreds_audit`.
    Audit,
    /// `clientcreds_activity`.
    Activity,
}

impl LogTable {
    /// The PostgreSQL advisory-lock key that orders the log's appenders
    /// (`clcaudit`, `clcactiv` as ASCII).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn lock_key(self) -> i64 {
        match self {
            Self::Audit => 0x636c_6361_7564_6974,
            Self::Activity => 0x636c_6361_6374_6976,
        }
    }
}

/// Implements the three store traits for `$store` (a struct with a
/// `pool: $pool` field) over database `$db`.
macro_rules! sql_store {
    ($store:ident, $db:ty, $pool:ty) => {
        impl $store {
            /// Fills the lowercased search columns of rows written before
            /// migration 0004 (in Rust, so they match what the store writes).
            async fn backfill_search(&self) -> Result<(), StoreError> {
                loop {
                    let rows = sqlx::query("SELECT client_id, name FROM clientcreds_clients WHERE search_id IS NULL LIMIT 500")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?;
                    if rows.is_empty() {
                        return Ok(());
                    }
                    for row in &rows {
                        let id: String = row.try_get("client_id").map_err(db)?;
                        let name: String = row.try_get("name").map_err(db)?;
                        // Conditional on the name read: a concurrent rename
                        // writes its own search columns.
                        sqlx::query("UPDATE clientcreds_clients SET search_id = $1, search_name = $2 WHERE client_id = $3 AND name = $4")
                            .bind(id.to_lowercase())
                            .bind(name.to_lowercase())
                            .bind(&id)
                            .bind(&name)
                            .execute(&self.pool)
                            .await
                            .map_err(db)?;
                    }
                }
            }

            async fn load(&self, tenant: Option<&TenantId>, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                // No stored id holds a NUL byte, which PostgreSQL refuses
                // in text: no such client, not a store failure.
                if client_id.contains('\0') {
                    return Ok(None);
                }
                let sql = format!(
                    "SELECT {SELECT_COLUMNS} FROM clientcreds_clients c \
                     LEFT JOIN clientcreds_secrets s ON s.client_id = c.client_id \
                     WHERE c.client_id = $1 ORDER BY s.position"
                );
                let rows = sqlx::query(&sql).bind(client_id).fetch_all(&self.pool).await.map_err(db)?;
                let rows = rows.iter().map(raw_row).collect::<Result<Vec<_>, _>>()?;
                let record = fold(rows).into_iter().next();
                Ok(record.filter(|r| tenant.is_none_or(|t| &r.tenant == t)))
            }

            /// A page of a log table: `tenant`'s rows after `after_seq`, of
            /// one client when given, in sequence order. The audit and
            /// activity queries differ only in their table and columns.
            async fn log_page(
                &self,
                columns: &str,
                table: &str,
                tenant: &TenantId,
                after_seq: Option<u64>,
                client_id: Option<&String>,
                limit: usize,
            ) -> Result<Vec<<$db as sqlx::Database>::Row>, StoreError> {
                if client_id.is_some_and(|id| id.contains('\0')) {
                    return Ok(Vec::new());
                }
                let after = i64::try_from(after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
                let client_clause = if client_id.is_some() { "AND client_id = $3" } else { "AND $3 = $3" };
                let sql = format!(
                    "SELECT {columns} FROM {table} \
                     WHERE tenant = $1 AND seq > $2 {client_clause} ORDER BY seq LIMIT $4"
                );
                sqlx::query(&sql)
                    .bind(tenant.as_str())
                    .bind(after)
                    .bind(client_id.cloned().unwrap_or_default())
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)
            }

            async fn insert_secrets(tx: &mut sqlx::Transaction<'_, $db>, record: &ClientRecord) -> Result<(), StoreError> {
                for (position, secret) in record.secrets.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO clientcreds_secrets (client_id, position, secret_id, hash, display_prefix, label, \
                         created_at, expires_at, grace_until, revoked_at, last_used_at, warning_due, public_jwk) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    )
                    .bind(&record.client_id)
                    .bind(i32::try_from(position).unwrap_or(i32::MAX))
                    .bind(&secret.secret_id)
                    .bind(secret.hash.as_str())
                    .bind(&secret.display_prefix)
                    .bind(&secret.label)
                    .bind(micros(secret.created_at))
                    .bind(secret.expires_at.map(micros))
                    .bind(secret.grace_until.map(micros))
                    .bind(secret.revoked_at.map(micros))
                    .bind(secret.last_used_at.map(micros))
                    .bind(secret.warning_due.map(micros))
                    .bind(&secret.public_jwk)
                    .execute(&mut **tx)
                    .await
                    .map_err(|e| match &e {
                        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
                        _ => db(e),
                    })?;
                }
                Ok(())
            }

            /// Distinguishes a missing client from a version conflict after a
            /// conditional statement touched no row.
            async fn missed(tx: &mut sqlx::Transaction<'_, $db>, tenant: &TenantId, client_id: &str) -> StoreError {
                let found = sqlx::query("SELECT version FROM clientcreds_clients WHERE client_id = $1 AND tenant = $2")
                    .bind(client_id)
                    .bind(tenant.as_str())
                    .fetch_optional(&mut **tx)
                    .await;
                match found {
                    Ok(Some(_)) => StoreError::Conflict,
                    Ok(None) => StoreError::NotFound,
                    Err(e) => db(e),
                }
            }

            async fn apply(tx: &mut sqlx::Transaction<'_, $db>, tenant: &TenantId, write: &Write) -> Result<(), StoreError> {
                match write {
                    Write::Insert(record) => {
                        if &record.tenant != tenant {
                            return Err(StoreError::NotFound);
                        }
                        let inserted = sqlx::query(
                            "INSERT INTO clientcreds_clients (client_id, tenant, name, description, owner, created_by, \
                             scopes, audiences, extra_claims, token_lifetime_secs, status, grace_until, replaced_by, \
                             created_at, updated_at, last_used_at, search_id, search_name, auth_method, jwks_uri, federated, dpop_bound, version) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 1)",
                        )
                        .bind(&record.client_id)
                        .bind(record.tenant.as_str());
                        let inserted = Self::bind_columns(inserted, record)?
                        .execute(&mut **tx)
                        .await;
                        match inserted {
                            Ok(_) => {}
                            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => return Err(StoreError::Duplicate),
                            Err(e) => return Err(db(e)),
                        }
                        Self::insert_secrets(tx, record).await
                    }
                    Write::Update { expected_version, record } => {
                        if &record.tenant != tenant {
                            return Err(StoreError::NotFound);
                        }
                        let expected = i64::try_from(*expected_version).map_err(|_| StoreError::Conflict)?;
                        let updated = sqlx::query(
                            "UPDATE clientcreds_clients SET name = $1, description = $2, owner = $3, created_by = $4, \
                             scopes = $5, audiences = $6, extra_claims = $7, token_lifetime_secs = $8, status = $9, \
                             grace_until = $10, replaced_by = $11, created_at = $12, updated_at = $13, \
                             last_used_at = $14, search_id = $15, search_name = $16, auth_method = $17, \
                             jwks_uri = $18, federated = $19, dpop_bound = $20, version = version + 1 \
                             WHERE client_id = $21 AND tenant = $22 AND version = $23",
                        )
                        ;
                        let updated = Self::bind_columns(updated, record)?
                        .bind(&record.client_id)
                        .bind(tenant.as_str())
                        .bind(expected)
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?;
                        if updated.rows_affected() == 0 {
                            return Err(Self::missed(tx, tenant, &record.client_id).await);
                        }
                        sqlx::query("DELETE FROM clientcreds_secrets WHERE client_id = $1")
                            .bind(&record.client_id)
                            .execute(&mut **tx)
                            .await
                            .map_err(db)?;
                        Self::insert_secrets(tx, record).await
                    }
                    Write::Delete { client_id, expected_version } => {
                        let expected = i64::try_from(*expected_version).map_err(|_| StoreError::Conflict)?;
                        let deleted = sqlx::query("DELETE FROM clientcreds_clients WHERE client_id = $1 AND tenant = $2 AND version = $3")
                            .bind(client_id)
                            .bind(tenant.as_str())
                            .bind(expected)
                            .execute(&mut **tx)
                            .await
                            .map_err(db)?;
                        if deleted.rows_affected() == 0 {
                            return Err(Self::missed(tx, tenant, client_id).await);
                        }
                        Ok(())
                    }
                    _ => Err(corrupt("unknown write")),
                }
            }

            /// Binds the 16 columns an insert and an update share: schema
            /// order from `name` to `last_used_at`, then the lowercased id
            /// and name the listing searches (see `listing.rs`).
            fn bind_columns<'q>(
                query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>,
                record: &'q ClientRecord,
            ) -> Result<sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>, StoreError> {
                Ok(query
                    .bind(&record.name)
                    .bind(&record.description)
                    .bind(&record.owner)
                    .bind(&record.created_by)
                    .bind(to_json(&record.scopes)?)
                    .bind(to_json(&record.audiences)?)
                    .bind(to_json(&record.extra_claims)?)
                    .bind(record.token_lifetime_secs.map(i64::from))
                    .bind(record.status.as_str())
                    .bind(record.grace_until.map(micros))
                    .bind(&record.replaced_by)
                    .bind(micros(record.created_at))
                    .bind(micros(record.updated_at))
                    .bind(record.last_used_at.map(micros))
                    .bind(record.client_id.to_lowercase())
                    .bind(record.name.to_lowercase())
                    .bind(record.auth.method.as_str())
                    .bind(&record.auth.jwks_uri)
                    .bind(to_json(&record.auth.federated)?)
                    .bind(record.auth.dpop_bound_access_tokens))
            }

            async fn insert_audit(tx: &mut sqlx::Transaction<'_, $db>, event: &AuditEvent) -> Result<(), StoreError> {
                let row = AuditRow::encode(event)?;
                Self::lock_log(tx, crate::store_impl::LogTable::Audit).await?;
                sqlx::query(
                    "INSERT INTO clientcreds_audit (at, tenant, client_id, actor, action, outcome, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(row.at)
                .bind(row.tenant)
                .bind(row.client_id)
                .bind(row.actor)
                .bind(row.action)
                .bind(row.outcome)
                .bind(row.detail)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                Ok(())
            }
        }

        #[async_trait]
        impl ClientStore for $store {
            async fn client(&self, tenant: &TenantId, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                self.load(Some(tenant), client_id).await
            }

            async fn client_for_authentication(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
                self.load(None, client_id).await
            }

            async fn clients_by_id(&self, ids: &[(TenantId, String)]) -> Result<Vec<Option<ClientRecord>>, StoreError> {
                self.load_many(ids).await
            }

            async fn count_clients(&self, tenant: &TenantId) -> Result<u64, StoreError> {
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clientcreds_clients WHERE tenant = $1")
                    .bind(tenant.as_str())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                u64::try_from(count).map_err(|_| corrupt("negative count"))
            }

            async fn list(&self, query: &ClientQuery) -> Result<ClientPage, StoreError> {
                let (mut after_created, mut after_id) = match &query.after {
                    Some(cursor) => decode_cursor(cursor)?,
                    None => (i64::MIN, String::new()),
                };
                let limit = query.limit.max(1);
                let search = query.search.as_ref().map(|s| s.to_lowercase());
                if search.as_deref().is_some_and(|s| s.contains('\0')) {
                    // No stored name or id holds a NUL (PostgreSQL text cannot).
                    return Ok(ClientPage { clients: Vec::new(), next: None });
                }
                let mut clients = Vec::with_capacity(limit.min(256));
                let mut last: Option<(i64, String)> = None;
                // The filters run in SQL; one row more than the page tells
                // whether another page follows.
                let batch = limit + 1;
                loop {
                    let listing = crate::listing::listing_sql(query, after_created, &after_id, i64::try_from(batch).unwrap_or(i64::MAX));
                    let mut statement = sqlx::query(&listing.sql);
                    for bind in listing.binds {
                        statement = match bind {
                            crate::listing::Bind::Text(text) => statement.bind(text),
                            crate::listing::Bind::Int(value) => statement.bind(value),
                        };
                    }
                    let rows = statement.fetch_all(&self.pool).await.map_err(db)?;
                    let rows = rows.iter().map(raw_row).collect::<Result<Vec<_>, _>>()?;
                    let records = fold(rows);
                    let exhausted = records.len() < batch;
                    for record in records {
                        after_created = micros(record.created_at);
                        after_id.clone_from(&record.client_id);
                        // The store crate's own definition has the last word
                        // (the SQL filters are exact; this keeps them honest).
                        if !query.matches(&record, search.as_deref()) {
                            continue;
                        }
                        if clients.len() == limit {
                            let next = last.map(|(created, id)| encode_cursor(created, &id));
                            return Ok(ClientPage { clients, next });
                        }
                        last = Some((micros(record.created_at), record.client_id.clone()));
                        clients.push(record);
                    }
                    if exhausted {
                        return Ok(ClientPage { clients, next: None });
                    }
                }
            }

            async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
                let (tenant, writes, audit) = commit.into_parts();
                // A client may appear in one write of a commit (as MemoryStore).
                let mut touched: Vec<(&str, bool)> = Vec::new();
                for write in &writes {
                    let (id, insert) = match write {
                        Write::Insert(r) => (r.client_id.as_str(), true),
                        Write::Update { record: r, .. } => (r.client_id.as_str(), false),
                        Write::Delete { client_id, .. } => (client_id.as_str(), false),
                        _ => return Err(corrupt("unknown write")),
                    };
                    if let Some((_, earlier_insert)) = touched.iter().find(|(t, _)| *t == id) {
                        return Err(if insert && *earlier_insert { StoreError::Duplicate } else { StoreError::Conflict });
                    }
                    touched.push((id, insert));
                }
                let mut tx = self.pool.begin().await.map_err(db)?;
                for write in &writes {
                    // On error the transaction is dropped, which rolls it back.
                    Self::apply(&mut tx, &tenant, write).await?;
                }
                Self::insert_audit(&mut tx, &audit).await?;
                let ids: Vec<&str> = touched.iter().map(|(id, _)| *id).collect();
                self.announce(&mut tx, &ids).await?;
                tx.commit().await.map_err(db)
            }

            async fn record_use(&self, usage: &SecretUse) -> Result<(), StoreError> {
                let at = micros(usage.at);
                let mut tx = self.pool.begin().await.map_err(db)?;
                sqlx::query(
                    "UPDATE clientcreds_clients SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $1 \
                     THEN $1 ELSE last_used_at END WHERE client_id = $2 AND tenant = $3",
                )
                .bind(at)
                .bind(&usage.client_id)
                .bind(usage.tenant.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query(
                    "UPDATE clientcreds_secrets SET last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < $1 \
                     THEN $1 ELSE last_used_at END, hash = COALESCE($2, hash) \
                     WHERE client_id = $3 AND secret_id = $4 \
                     AND EXISTS (SELECT 1 FROM clientcreds_clients WHERE client_id = $3 AND tenant = $5)",
                )
                .bind(at)
                .bind(usage.rehash.as_ref().map(|h| h.as_str().to_owned()))
                .bind(&usage.client_id)
                .bind(&usage.secret_id)
                .bind(usage.tenant.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)
            }
        }

        #[async_trait]
        impl AuditLog for $store {
            async fn append_audit(&self, event: AuditEvent) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                Self::insert_audit(&mut tx, &event).await?;
                tx.commit().await.map_err(db)
            }

            async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
                let rows = self
                    .log_page(
                        "seq, at, tenant, client_id, actor, action, outcome, detail",
                        "clientcreds_audit",
                        &query.tenant,
                        query.after_seq,
                        query.client_id.as_ref(),
                        query.limit,
                    )
                    .await?;
                rows.iter()
                    .map(|row| {
                        let seq: i64 = row.try_get("seq").map_err(db)?;
                        AuditRow {
                            at: row.try_get("at").map_err(db)?,
                            tenant: row.try_get("tenant").map_err(db)?,
                            client_id: row.try_get("client_id").map_err(db)?,
                            actor: row.try_get("actor").map_err(db)?,
                            action: row.try_get("action").map_err(db)?,
                            outcome: row.try_get("outcome").map_err(db)?,
                            detail: row.try_get("detail").map_err(db)?,
                        }
                        .decode(seq)
                    })
                    .collect()
            }

            async fn prune_audit(&self, before: time::OffsetDateTime) -> Result<u64, StoreError> {
                let pruned = sqlx::query("DELETE FROM clientcreds_audit WHERE at < $1")
                    .bind(micros(before))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(pruned.rows_affected())
            }
        }

        #[async_trait]
        impl ActivityLog for $store {
            async fn record_activity(&self, event: ActivityEvent) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await.map_err(db)?;
                Self::lock_log(&mut tx, crate::store_impl::LogTable::Activity).await?;
                sqlx::query("INSERT INTO clientcreds_activity (at, tenant, client_id, kind) VALUES ($1, $2, $3, $4)")
                    .bind(micros(event.at))
                    .bind(event.tenant.as_ref().map(|t| t.as_str().to_owned()))
                    .bind(&event.client_id)
                    .bind(to_json(&event.kind)?)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                tx.commit().await.map_err(db)
            }

            async fn record_activities(&self, events: Vec<ActivityEvent>) -> Result<(), StoreError> {
                // Multi-row inserts of up to ACTIVITY_ROWS rows, in order, in
                // one transaction: sequence numbers follow the events' order.
                const ACTIVITY_ROWS: usize = 500;
                if events.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await.map_err(db)?;
                Self::lock_log(&mut tx, crate::store_impl::LogTable::Activity).await?;
                for chunk in events.chunks(ACTIVITY_ROWS) {
                    let mut sql = String::from("INSERT INTO clientcreds_activity (at, tenant, client_id, kind) VALUES ");
                    for i in 0..chunk.len() {
                        let n = i * 4;
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4));
                    }
                    let mut statement = sqlx::query(&sql);
                    for event in chunk {
                        statement = statement
                            .bind(micros(event.at))
                            .bind(event.tenant.as_ref().map(|t| t.as_str().to_owned()))
                            .bind(event.client_id.clone())
                            .bind(to_json(&event.kind)?);
                    }
                    statement.execute(&mut *tx).await.map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }

            async fn prune_activity(&self, before: time::OffsetDateTime) -> Result<u64, StoreError> {
                let pruned = sqlx::query("DELETE FROM clientcreds_activity WHERE at < $1")
                    .bind(micros(before))
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                Ok(pruned.rows_affected())
            }

            async fn add_activity_counts(&self, counts: Vec<clientcreds_store::ActivityCount>) -> Result<(), StoreError> {
                self.add_counts(counts).await
            }

            async fn activity_counts(
                &self,
                query: &clientcreds_store::ActivityCountQuery,
            ) -> Result<Vec<clientcreds_store::ActivityCount>, StoreError> {
                self.read_counts(query).await
            }

            async fn prune_activity_counts(&self, before: time::OffsetDateTime) -> Result<u64, StoreError> {
                self.prune_counts(before).await
            }

            async fn activity(&self, query: &ActivityQuery) -> Result<Vec<ActivityRecord>, StoreError> {
                let rows = self
                    .log_page(
                        "seq, at, tenant, client_id, kind",
                        "clientcreds_activity",
                        &query.tenant,
                        query.after_seq,
                        query.client_id.as_ref(),
                        query.limit,
                    )
                    .await?;
                rows.iter()
                    .map(|row| {
                        let seq: i64 = row.try_get("seq").map_err(db)?;
                        let tenant: Option<String> = row.try_get("tenant").map_err(db)?;
                        let kind: String = row.try_get("kind").map_err(db)?;
                        Ok(ActivityRecord {
                            seq: u64::try_from(seq).map_err(|_| corrupt("negative sequence"))?,
                            event: ActivityEvent {
                                at: instant(row.try_get("at").map_err(db)?)?,
                                tenant: tenant.map(TenantId::new).transpose().map_err(|_| corrupt("invalid tenant id"))?,
                                client_id: row.try_get("client_id").map_err(db)?,
                                kind: activity_kind(&kind)?,
                            },
                        })
                    })
                    .collect()
            }
        }

        fn raw_row(row: &<$db as sqlx::Database>::Row) -> Result<crate::codec::JoinedRow, StoreError> {
            crate::codec::RawRow {
                client_id: row.try_get("client_id").map_err(db)?,
                tenant: row.try_get("tenant").map_err(db)?,
                name: row.try_get("name").map_err(db)?,
                description: row.try_get("description").map_err(db)?,
                owner: row.try_get("owner").map_err(db)?,
                created_by: row.try_get("created_by").map_err(db)?,
                scopes: row.try_get("scopes").map_err(db)?,
                audiences: row.try_get("audiences").map_err(db)?,
                extra_claims: row.try_get("extra_claims").map_err(db)?,
                token_lifetime_secs: row.try_get("token_lifetime_secs").map_err(db)?,
                status: row.try_get("status").map_err(db)?,
                grace_until: row.try_get("grace_until").map_err(db)?,
                replaced_by: row.try_get("replaced_by").map_err(db)?,
                created_at: row.try_get("created_at").map_err(db)?,
                updated_at: row.try_get("updated_at").map_err(db)?,
                last_used_at: row.try_get("last_used_at").map_err(db)?,
                version: row.try_get("version").map_err(db)?,
                secret_id: row.try_get("secret_id").map_err(db)?,
                hash: row.try_get("hash").map_err(db)?,
                display_prefix: row.try_get("display_prefix").map_err(db)?,
                label: row.try_get("label").map_err(db)?,
                s_created_at: row.try_get("s_created_at").map_err(db)?,
                s_expires_at: row.try_get("s_expires_at").map_err(db)?,
                s_grace_until: row.try_get("s_grace_until").map_err(db)?,
                s_revoked_at: row.try_get("s_revoked_at").map_err(db)?,
                s_last_used_at: row.try_get("s_last_used_at").map_err(db)?,
                s_warning_due: row.try_get("s_warning_due").map_err(db)?,
                auth_method: row.try_get("auth_method").map_err(db)?,
                jwks_uri: row.try_get("jwks_uri").map_err(db)?,
                federated: row.try_get("federated").map_err(db)?,
                dpop_bound: row.try_get("dpop_bound").map_err(db)?,
                public_jwk: row.try_get("public_jwk").map_err(db)?,
            }
            .decode()
        }
    };
}

pub(crate) use sql_store;
