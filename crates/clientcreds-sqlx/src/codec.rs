//! Conversions between records and rows, shared by both databases.

use std::collections::BTreeMap;

use clientcreds_secret::SecretHash;
use clientcreds_store::{
    ActivityKind, AuditAction, AuditActor, AuditOutcome, AuthMethod, AuthSettings, ClaimValue,
    ClientRecord, ClientStatus, Cursor, SecretRecord, StoreError, TenantId,
};
use time::OffsetDateTime;

/// Client columns, then secret columns (aliased), for the joined reads.
pub(crate) const SELECT_COLUMNS: &str = "c.client_id, c.tenant, c.name, c.description, c.owner, \
    c.created_by, c.scopes, c.audiences, c.extra_claims, c.token_lifetime_secs, c.status, \
    c.grace_until, c.replaced_by, c.created_at, c.updated_at, c.last_used_at, c.version, \
    c.auth_method, c.jwks_uri, c.federated, c.dpop_bound, s.public_jwk, \
    s.secret_id, s.hash, s.display_prefix, s.label, s.created_at AS s_created_at, \
    s.expires_at AS s_expires_at, s.grace_until AS s_grace_until, \
    s.revoked_at AS s_revoked_at, s.last_used_at AS s_last_used_at, s.warning_due AS s_warning_due";

/// An instant as microseconds since the epoch.
pub(crate) fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

/// Microseconds since the epoch as an instant.
pub(crate) fn instant(value: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000)
        .map_err(StoreError::backend)
}

pub(crate) fn opt_instant(value: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    value.map(instant).transpose()
}

pub(crate) fn status_of(text: &str) -> Result<ClientStatus, StoreError> {
    match text {
        "active" => Ok(ClientStatus::Active),
        "inactive" => Ok(ClientStatus::Inactive),
        "revoked" => Ok(ClientStatus::Revoked),
        "suspended" => Ok(ClientStatus::Suspended),
        _ => Err(corrupt("unknown client status")),
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(StoreError::backend)
}

pub(crate) fn action_text(action: AuditAction) -> Result<String, StoreError> {
    to_json(&action)
}

pub(crate) fn corrupt(what: &'static str) -> StoreError {
    StoreError::backend(std::io::Error::new(std::io::ErrorKind::InvalidData, what))
}

/// Maps a sqlx error to the store's.
/// Refuses a URL whose scheme (`<scheme>://`) is not one of `accepted`
/// ([`StoreError::WrongUrlScheme`], naming only the scheme: the rest of a
/// URL may hold a password). A URL without `://` is left to the driver
/// (SQLite takes plain paths and `sqlite::memory:`).
pub(crate) fn require_scheme(
    url: &str,
    store: &'static str,
    accepted: &[&'static str],
) -> Result<(), StoreError> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Ok(());
    };
    if accepted.iter().any(|a| scheme.eq_ignore_ascii_case(a)) {
        return Ok(());
    }
    let lower = scheme.to_ascii_lowercase();
    let hint = match lower.as_str() {
        "postgres" | "postgresql" => "; PostgreSQL is `PgStore`",
        "sqlite" => "; SQLite is `SqliteStore`",
        _ => "",
    };
    // Only a plausible scheme is repeated; anything else is not shown.
    let found = if !lower.is_empty()
        && lower.len() <= 32
        && lower
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        lower
    } else {
        "?".to_owned()
    };
    Err(StoreError::WrongUrlScheme {
        store,
        expected: accepted.first().copied().unwrap_or_default(),
        found,
        hint,
    })
}

/// A sqlx failure as the store's backend error. A database's own error
/// (and an I/O, TLS or configuration cause) is kept without sqlx's
/// wrapper, whose message repeats it ("error returned from database: <its
/// message>") while `source()` returns it again: the cause appears once
/// in the chain.
pub(crate) fn db(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Database(database) => {
            let database: Box<dyn std::error::Error + Send + Sync + 'static> = database;
            StoreError::Backend(database)
        }
        // The same for the variants whose message embeds their source.
        sqlx::Error::Io(io) => StoreError::backend(io),
        sqlx::Error::Tls(cause) | sqlx::Error::Configuration(cause) => StoreError::Backend(cause),
        other => StoreError::backend(other),
    }
}

/// The cursor of a listing position: `<created micros>.<client id>`.
pub(crate) fn encode_cursor(created_at: i64, client_id: &str) -> Cursor {
    Cursor::from_text(format!("{created_at}.{client_id}"))
}

pub(crate) fn decode_cursor(cursor: &Cursor) -> Result<(i64, String), StoreError> {
    let (created, id) = cursor
        .as_str()
        .split_once('.')
        .ok_or(StoreError::InvalidCursor)?;
    let created = created
        .parse::<i64>()
        .map_err(|_| StoreError::InvalidCursor)?;
    if id.is_empty() {
        return Err(StoreError::InvalidCursor);
    }
    Ok((created, id.to_owned()))
}

/// One joined row, decoded.
pub(crate) struct JoinedRow {
    pub(crate) client: ClientRecord,
    pub(crate) secret: Option<SecretRecord>,
}

/// The columns of one joined row, as plain values.
pub(crate) struct RawRow {
    pub(crate) client_id: String,
    pub(crate) tenant: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) owner: Option<String>,
    pub(crate) created_by: String,
    pub(crate) scopes: String,
    pub(crate) audiences: String,
    pub(crate) extra_claims: String,
    pub(crate) token_lifetime_secs: Option<i64>,
    pub(crate) status: String,
    pub(crate) grace_until: Option<i64>,
    pub(crate) replaced_by: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) version: i64,
    pub(crate) secret_id: Option<String>,
    pub(crate) hash: Option<String>,
    pub(crate) display_prefix: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) s_created_at: Option<i64>,
    pub(crate) s_expires_at: Option<i64>,
    pub(crate) s_grace_until: Option<i64>,
    pub(crate) s_revoked_at: Option<i64>,
    pub(crate) s_last_used_at: Option<i64>,
    pub(crate) s_warning_due: Option<i64>,
    pub(crate) auth_method: String,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) federated: String,
    pub(crate) dpop_bound: bool,
    pub(crate) public_jwk: Option<String>,
}

impl RawRow {
    pub(crate) fn decode(self) -> Result<JoinedRow, StoreError> {
        let secret = match (self.secret_id, self.hash) {
            (Some(secret_id), Some(hash)) => Some(SecretRecord {
                secret_id,
                hash: SecretHash::from_stored(hash),
                display_prefix: self.display_prefix.unwrap_or_default(),
                label: self.label.unwrap_or_default(),
                created_at: instant(
                    self.s_created_at
                        .ok_or(corrupt("secret without creation time"))?,
                )?,
                expires_at: opt_instant(self.s_expires_at)?,
                grace_until: opt_instant(self.s_grace_until)?,
                revoked_at: opt_instant(self.s_revoked_at)?,
                last_used_at: opt_instant(self.s_last_used_at)?,
                warning_due: opt_instant(self.s_warning_due)?,
                public_jwk: self.public_jwk,
            }),
            _ => None,
        };
        let extra_claims: BTreeMap<String, ClaimValue> = from_json(&self.extra_claims)?;
        let client = ClientRecord {
            tenant: TenantId::new(self.tenant).map_err(|_| corrupt("invalid tenant id"))?,
            client_id: self.client_id,
            name: self.name,
            description: self.description,
            owner: self.owner,
            created_by: self.created_by,
            scopes: from_json(&self.scopes)?,
            audiences: from_json(&self.audiences)?,
            extra_claims,
            token_lifetime_secs: self
                .token_lifetime_secs
                .map(|s| u32::try_from(s).map_err(|_| corrupt("token lifetime")))
                .transpose()?,
            status: status_of(&self.status)?,
            grace_until: opt_instant(self.grace_until)?,
            replaced_by: self.replaced_by,
            created_at: instant(self.created_at)?,
            updated_at: instant(self.updated_at)?,
            last_used_at: opt_instant(self.last_used_at)?,
            version: u64::try_from(self.version).map_err(|_| corrupt("negative version"))?,
            auth: AuthSettings {
                method: AuthMethod::from_name(&self.auth_method)
                    .ok_or(corrupt("unknown token_endpoint_auth_method"))?,
                jwks_uri: self.jwks_uri,
                federated: from_json(&self.federated)?,
                dpop_bound_access_tokens: self.dpop_bound,
            },
            secrets: Vec::new(),
        };
        Ok(JoinedRow { client, secret })
    }
}

/// Folds joined rows (ordered by client, then secret position) into records.
pub(crate) fn fold(rows: Vec<JoinedRow>) -> Vec<ClientRecord> {
    let mut out: Vec<ClientRecord> = Vec::new();
    for row in rows {
        let same = out
            .last()
            .is_some_and(|last| last.client_id == row.client.client_id);
        if !same {
            out.push(row.client);
        }
        if let (Some(secret), Some(last)) = (row.secret, out.last_mut()) {
            last.secrets.push(secret);
        }
    }
    out
}

/// The audit columns of an event, encoded.
pub(crate) struct AuditRow {
    pub(crate) at: i64,
    pub(crate) tenant: String,
    pub(crate) client_id: Option<String>,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) outcome: String,
    pub(crate) detail: Option<String>,
}

impl AuditRow {
    pub(crate) fn encode(event: &clientcreds_store::AuditEvent) -> Result<Self, StoreError> {
        Ok(Self {
            at: micros(event.at),
            tenant: event.tenant.as_str().to_owned(),
            client_id: event.client_id.clone(),
            actor: to_json(&event.actor)?,
            action: action_text(event.action)?,
            outcome: to_json(&event.outcome)?,
            detail: event.detail.clone(),
        })
    }

    pub(crate) fn decode(self, seq: i64) -> Result<clientcreds_store::AuditRecord, StoreError> {
        let actor: AuditActor = from_json(&self.actor)?;
        let action: AuditAction = from_json(&self.action)?;
        let outcome: AuditOutcome = from_json(&self.outcome)?;
        Ok(clientcreds_store::AuditRecord {
            seq: u64::try_from(seq).map_err(|_| corrupt("negative sequence"))?,
            event: clientcreds_store::AuditEvent {
                at: instant(self.at)?,
                actor,
                tenant: TenantId::new(self.tenant).map_err(|_| corrupt("invalid tenant id"))?,
                client_id: self.client_id,
                action,
                outcome,
                detail: self.detail,
            },
        })
    }
}

pub(crate) fn activity_kind(text: &str) -> Result<ActivityKind, StoreError> {
    from_json(text)
}
