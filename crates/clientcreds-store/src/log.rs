//! The audit trail and the activity log.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::TenantId;

/// Who acted, as written into the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditActor {
    /// An administrator of one tenant.
    TenantAdmin {
        /// The administrator's user id.
        user: String,
    },
    /// Platform staff, acting on any tenant.
    PlatformAdmin {
        /// The administrator's user id.
        user: String,
    },
    /// The system itself (schedulers, automatic expiry).
    System,
}

/// A lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A client was created.
    Create,
    /// Name, description, scopes, audiences, claims or lifetime changed.
    Update,
    /// Set inactive.
    Deactivate,
    /// Set active again.
    Reactivate,
    /// Secret or client rotated.
    Rotate,
    /// A rotation's grace window was closed early.
    EndGrace,
    /// Revoked (terminal).
    Revoke,
    /// Deleted.
    Delete,
    /// Read (get, list, audit query): recorded only when refused, and for
    /// a platform admin's read of another tenant's client activity.
    Read,
    /// An operator's "rotate now" of the issuer's signing keys (detail:
    /// the next key's kid).
    RotateSigningKey,
    /// An operator's withdrawal of a signing key (detail: its kid).
    WithdrawSigningKey,
    /// A client key or federated credential was added (detail: which).
    AddCredential,
    /// A client key or federated credential was removed (detail: which).
    RemoveCredential,
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AuditOutcome {
    /// The change was made (and committed with this record).
    Success,
    /// The action was refused; `reason` is a short code such as
    /// `not_found`, `revoked`, `invalid:name`.
    Refused {
        /// Why.
        reason: String,
    },
}

/// One audit record before the store numbers it. It never holds a secret
/// or a hash: only ids and short codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: AuditActor,
    /// In which tenant.
    pub tenant: TenantId,
    /// On which client, when one is concerned.
    pub client_id: Option<String>,
    /// What.
    pub action: AuditAction,
    /// With what result.
    pub outcome: AuditOutcome,
    /// Public detail, such as the new client id or secret id of a rotation.
    pub detail: Option<String>,
}

/// An audit record as stored: the event and its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Increases with every record a store appends.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
}

/// Which audit records to read: one tenant, optionally one client, in
/// sequence order after `after_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The tenant.
    pub tenant: TenantId,
    /// Only this client's records.
    pub client_id: Option<String>,
    /// Only records with a greater sequence number.
    pub after_seq: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// A token-endpoint event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActivityKind {
    /// A token was issued.
    TokenIssued {
        /// The token's `jti` (not the token).
        jti: String,
        /// The granted scope.
        scope: String,
    },
    /// A token request was refused.
    TokenDenied {
        /// A short reason code (`bad_secret`, `revoked`, `invalid_scope`, ...).
        reason: String,
    },
}

/// One activity-log entry. Never holds a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEvent {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The client's tenant, when the client is known.
    pub tenant: Option<TenantId>,
    /// The client id as presented.
    pub client_id: String,
    /// What happened.
    pub kind: ActivityKind,
}

/// An activity entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// Increases with every entry a store appends.
    pub seq: u64,
    /// The event.
    #[serde(flatten)]
    pub event: ActivityEvent,
}

/// Which activity entries to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityQuery {
    /// The tenant.
    pub tenant: TenantId,
    /// Only this client's entries.
    pub client_id: Option<String>,
    /// Only entries with a greater sequence number.
    pub after_seq: Option<u64>,
    /// At most this many.
    pub limit: usize,
}

/// What an [`ActivityCount`] counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CountedOutcome {
    /// Tokens issued.
    Issued,
    /// Token requests of a known client refused for `reason` (a short code:
    /// `invalid_scope`, `inactive`, ...).
    Denied {
        /// Why.
        reason: String,
    },
}

/// Token-endpoint outcomes of one client, secret and source in one minute,
/// counted: the activity log's aggregate. Issuance is kept only this way
/// (one row per token would be billions a day for a busy issuer); refusals
/// are counted here and also keep a bounded number of individual
/// [`ActivityRecord`]s. It answers "is the old secret still in use, and
/// from where". Never holds a token or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCount {
    /// The client's tenant.
    pub tenant: TenantId,
    /// The client.
    pub client_id: String,
    /// The secret that authenticated, when one did.
    pub secret_id: Option<String>,
    /// Where the requests came from (an IP address's text), when the host
    /// said.
    pub source: Option<String>,
    /// The minute's first instant (seconds and below are zero, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub minute: OffsetDateTime,
    /// What was counted.
    #[serde(flatten)]
    pub outcome: CountedOutcome,
    /// How many.
    pub count: u64,
}

impl ActivityCount {
    /// The first instant of the minute `at` falls in, in UTC: the
    /// [`ActivityCount::minute`] of an event at `at`.
    #[must_use]
    pub fn minute_of(at: OffsetDateTime) -> OffsetDateTime {
        let at = at.to_offset(time::UtcOffset::UTC);
        let seconds = at.unix_timestamp();
        OffsetDateTime::from_unix_timestamp(seconds - seconds.rem_euclid(60)).unwrap_or(at)
    }

    /// Whether `other` counts the same thing (all fields but `count`).
    #[must_use]
    pub fn same_key(&self, other: &Self) -> bool {
        self.tenant == other.tenant
            && self.client_id == other.client_id
            && self.secret_id == other.secret_id
            && self.source == other.source
            && self.minute == other.minute
            && self.outcome == other.outcome
    }
}

/// Which [`ActivityCount`]s to read: one tenant, optionally one client, in
/// a time range. Results are ordered by minute, then client id, secret id,
/// source and outcome (issued first, then refusals by reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCountQuery {
    /// The tenant.
    pub tenant: TenantId,
    /// Only this client's counts.
    pub client_id: Option<String>,
    /// Only minutes starting at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Only minutes starting strictly before this instant.
    pub until: Option<OffsetDateTime>,
    /// At most this many.
    pub limit: usize,
}
