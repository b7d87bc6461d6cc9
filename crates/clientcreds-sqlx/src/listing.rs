//! A client listing as one SQL statement: the keyset position, the owner,
//! the effective status at the query's `now` and the search are all
//! filtered by the database, so a page costs the rows it returns (plus what
//! the indexes skip), whatever the tenant's size.
//!
//! The status rules are those of `ClientRecord::effective_status`, written
//! over the stored instants. The search compares the lowercased name and id
//! (`search_name`, `search_id`, lowercased by Rust's `str::to_lowercase` on
//! every write, exactly as `ClientRecord::matches_search` lowercases) with
//! `LIKE`, so the database and the in-memory store agree on every
//! character, and PostgreSQL answers it from a trigram index.

use clientcreds_store::{ClientQuery, StatusFilter};

use crate::codec::SELECT_COLUMNS;

/// One bound value, in parameter order.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// A listing statement and its parameters.
pub(crate) struct ListingSql {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Bind>,
}

/// The statement for the next `batch` clients of `query` after
/// (`after_created`, `after_id`) in creation order.
pub(crate) fn listing_sql(
    query: &ClientQuery,
    after_created: i64,
    after_id: &str,
    batch: i64,
) -> ListingSql {
    let mut binds = vec![
        Bind::Text(query.tenant.as_str().to_owned()),
        Bind::Int(after_created),
        Bind::Text(after_id.to_owned()),
    ];
    let mut clauses = String::new();
    if let Some(owner) = &query.owner {
        binds.push(Bind::Text(owner.clone()));
        clauses.push_str(&format!(" AND c.owner = ${}", binds.len()));
    }
    if let Some(status) = query.status {
        binds.push(Bind::Int(crate::codec::micros(query.now)));
        clauses.push_str(" AND ");
        clauses.push_str(&status_clause(status, binds.len()));
    }
    if let Some(search) = query.search.as_deref() {
        binds.push(Bind::Text(like_pattern(&search.to_lowercase())));
        let n = binds.len();
        clauses.push_str(&format!(
            " AND (c.search_name LIKE ${n} ESCAPE '\\' OR c.search_id LIKE ${n} ESCAPE '\\')"
        ));
    }
    binds.push(Bind::Int(batch));
    let limit = binds.len();
    let sql = format!(
        "WITH c AS (SELECT c.* FROM clientcreds_clients c WHERE c.tenant = $1 \
         AND (c.created_at, c.client_id) > ($2, $3){clauses} \
         ORDER BY c.created_at, c.client_id LIMIT ${limit}) \
         SELECT {SELECT_COLUMNS} FROM c LEFT JOIN clientcreds_secrets s ON s.client_id = c.client_id \
         ORDER BY c.created_at, c.client_id, s.position"
    );
    ListingSql { sql, binds }
}

/// `effective_status(now) == status`, with `now` bound as `$n`.
fn status_clause(status: StatusFilter, n: usize) -> String {
    // A secret that can authenticate at `now` (SecretState::is_usable).
    let usable = format!(
        "(EXISTS (SELECT 1 FROM clientcreds_secrets u WHERE u.client_id = c.client_id \
         AND u.revoked_at IS NULL AND (u.grace_until IS NULL OR u.grace_until > ${n}) \
         AND (u.expires_at IS NULL OR u.expires_at > ${n})) \
         OR (c.auth_method = 'private_key_jwt' AND c.jwks_uri IS NOT NULL) \
         OR (c.auth_method = 'federated_jwt' AND c.federated <> '[]'))"
    );
    match status {
        StatusFilter::Active => {
            format!("(c.status = 'active' AND c.grace_until IS NULL AND {usable})")
        }
        StatusFilter::Expiring => {
            format!("(c.status = 'active' AND c.grace_until > ${n} AND {usable})")
        }
        StatusFilter::Expired => format!(
            "(c.status = 'active' AND ((c.grace_until IS NOT NULL AND c.grace_until <= ${n}) \
             OR NOT {usable}))"
        ),
        StatusFilter::Inactive => "c.status IN ('inactive', 'suspended')".to_owned(),
        StatusFilter::Revoked => "c.status = 'revoked'".to_owned(),
    }
}

/// `%text%` with `\`, `%` and `_` escaped by `\`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a_b%c\\d"), "%a\\_b\\%c\\\\d%");
        assert_eq!(like_pattern(""), "%%");
    }
}
