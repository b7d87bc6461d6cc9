//! What the admin API answers: clients, secrets, audit and activity
//! entries, with the same field names the requests use.

use std::collections::BTreeMap;

use clientcreds_registry::{ClientView, KeyView, SecretView};
use clientcreds_store::{
    ActivityCount, ActivityKind, ActivityRecord, AuditOutcome, AuditRecord, ClaimValue,
    CountedOutcome, EffectiveStatus, FederatedCredential, SecretState, TenantId,
};
use serde::Serialize;
use time::OffsetDateTime;

/// A client as the admin API shows it. Never a secret or a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ClientJson {
    /// Public id.
    pub client_id: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Name (`client_name` is accepted on input as an alias).
    pub name: String,
    /// Description.
    pub description: String,
    /// The user the client acts for.
    pub owner: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// Scopes it may request.
    pub scopes: Vec<String>,
    /// Audiences it may request.
    pub audiences: Vec<String>,
    /// Extra claims in its tokens (product C's `roles`).
    pub extra_claims: BTreeMap<String, ClaimValue>,
    /// Its tokens' lifetime when it overrides the policy's, seconds.
    pub token_lifetime_seconds: Option<u32>,
    /// `active`, `inactive`, `revoked`, `expiring` or `expired`, now.
    pub status: &'static str,
    /// When it stops minting if nobody acts: the end of its grace window
    /// or the latest expiry of its usable secrets, whichever is first;
    /// `null` if never (and for a revoked client). For an expired client,
    /// when it stopped; for an inactive one, when its credentials would
    /// stop if it were reactivated.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// End of its grace window after a client-replacing rotation.
    #[serde(with = "time::serde::rfc3339::option")]
    pub grace_until: Option<OffsetDateTime>,
    /// Its successor after a client-replacing rotation.
    pub replaced_by: Option<String>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last administrative change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Last successful authentication (advisory; may lag a little).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Version for `If-Match` (also sent as the `ETag`).
    pub version: u64,
    /// Its secrets, oldest first.
    pub secrets: Vec<SecretJson>,
    /// RFC 7591 `token_endpoint_auth_method`.
    pub token_endpoint_auth_method: &'static str,
    /// RFC 7591 `jwks`: its usable public keys, when it has inline keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Its keys with their standing, oldest first (`private_key_jwt`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyJson>,
    /// RFC 7591 `jwks_uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Federated credentials (`federated_jwt`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub federated_credentials: Vec<FederatedCredential>,
    /// RFC 9449 §5.2: its tokens are always DPoP-bound.
    pub dpop_bound_access_tokens: bool,
}

/// One public key of a `private_key_jwt` client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeyJson {
    /// Its key id.
    pub kid: String,
    /// The public JWK.
    pub jwk: serde_json::Value,
    /// Label.
    pub label: String,
    /// `active`, `expired` or `revoked`, now.
    pub state: &'static str,
    /// Registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// End of its lifetime (`null`: never).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Last used to authenticate.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When its next expiry warning is due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_warning_at: Option<OffsetDateTime>,
}

impl From<&KeyView> for KeyJson {
    fn from(view: &KeyView) -> Self {
        Self {
            kid: view.kid.clone(),
            jwk: view.jwk.clone(),
            label: view.label.clone(),
            state: state_name(view.state),
            created_at: view.created_at,
            expires_at: view.expires_at,
            last_used_at: view.last_used_at,
            next_warning_at: view.next_warning_at,
        }
    }
}

/// One secret of a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SecretJson {
    /// Public secret id.
    pub secret_id: String,
    /// The first characters of the secret, to recognise it.
    pub display_prefix: String,
    /// Label.
    pub label: String,
    /// `active`, `expiring` (rotated out, in its grace window),
    /// `grace_ended`, `expired` or `revoked`, now.
    pub state: &'static str,
    /// Issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// End of its lifetime (`null`: never).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// End of its rotation grace window.
    #[serde(with = "time::serde::rfc3339::option")]
    pub grace_until: Option<OffsetDateTime>,
    /// Revoked at.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Last used: "is the old secret still in use?".
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When its next expiry warning is due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_warning_at: Option<OffsetDateTime>,
}

impl From<&ClientView> for ClientJson {
    fn from(view: &ClientView) -> Self {
        Self {
            client_id: view.client_id.clone(),
            tenant: view.tenant.clone(),
            name: view.name.clone(),
            description: view.description.clone(),
            owner: view.owner.clone(),
            created_by: view.created_by.clone(),
            scopes: view.scopes.clone(),
            audiences: view.audiences.clone(),
            extra_claims: view.extra_claims.clone(),
            token_lifetime_seconds: view.token_lifetime_secs,
            status: status_name(view.status),
            expires_at: expires_at(view),
            grace_until: view.grace_until,
            replaced_by: view.replaced_by.clone(),
            created_at: view.created_at,
            updated_at: view.updated_at,
            last_used_at: view.last_used_at,
            version: view.version,
            secrets: view.secrets.iter().map(SecretJson::from).collect(),
            token_endpoint_auth_method: view.token_endpoint_auth_method.as_str(),
            jwks: (!view.keys.is_empty()).then(|| {
                let keys: Vec<&serde_json::Value> = view
                    .keys
                    .iter()
                    .filter(|k| k.state.is_usable())
                    .map(|k| &k.jwk)
                    .collect();
                serde_json::json!({ "keys": keys })
            }),
            keys: view.keys.iter().map(KeyJson::from).collect(),
            jwks_uri: view.jwks_uri.clone(),
            federated_credentials: view.federated_credentials.clone(),
            dpop_bound_access_tokens: view.dpop_bound_access_tokens,
        }
    }
}

impl From<&SecretView> for SecretJson {
    fn from(view: &SecretView) -> Self {
        Self {
            secret_id: view.secret_id.clone(),
            display_prefix: view.display_prefix.clone(),
            label: view.label.clone(),
            state: state_name(view.state),
            created_at: view.created_at,
            expires_at: view.expires_at,
            grace_until: view.grace_until,
            revoked_at: view.revoked_at,
            last_used_at: view.last_used_at,
            next_warning_at: view.next_warning_at,
        }
    }
}

/// The status as one word.
#[must_use]
pub fn status_name(status: EffectiveStatus) -> &'static str {
    match status {
        EffectiveStatus::Active => "active",
        EffectiveStatus::Inactive => "inactive",
        EffectiveStatus::Revoked => "revoked",
        EffectiveStatus::Expiring { .. } => "expiring",
        EffectiveStatus::Expired => "expired",
    }
}

/// A secret's state as one word.
#[must_use]
pub fn state_name(state: SecretState) -> &'static str {
    match state {
        SecretState::Active => "active",
        SecretState::Expiring { .. } => "expiring",
        SecretState::GraceEnded => "grace_ended",
        SecretState::Expired => "expired",
        SecretState::Revoked => "revoked",
    }
}

/// When the client stops minting if nobody acts (see
/// [`ClientJson::expires_at`]).
#[must_use]
pub fn expires_at(view: &ClientView) -> Option<OffsetDateTime> {
    if matches!(view.status, EffectiveStatus::Revoked) {
        return None;
    }
    // The latest end among the secrets that were not revoked; `None` if
    // one of them never ends (or there is none).
    let mut latest: Option<OffsetDateTime> = None;
    let mut never = false;
    for secret in &view.secrets {
        if matches!(secret.state, SecretState::Revoked) {
            continue;
        }
        let end = match (secret.expires_at, secret.grace_until) {
            (Some(expires), Some(grace)) => Some(expires.min(grace)),
            (expires, grace) => expires.or(grace),
        };
        match end {
            Some(end) => latest = Some(latest.map_or(end, |l| l.max(end))),
            None => never = true,
        }
    }
    let secrets_end = if never { None } else { latest };
    match (view.grace_until, secrets_end) {
        (Some(grace), Some(end)) => Some(grace.min(end)),
        (grace, end) => grace.or(end),
    }
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AuditJson {
    /// Sequence number: pass the last one as `after` for the next page.
    pub seq: u64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who: `{"kind": "tenant_admin" | "platform_admin" | "system", "user": ...}`.
    pub actor: clientcreds_store::AuditActor,
    /// The client concerned.
    pub client_id: Option<String>,
    /// `create`, `update`, `deactivate`, `reactivate`, `rotate`,
    /// `end_grace`, `revoke`, `delete` or `read`.
    pub action: clientcreds_store::AuditAction,
    /// `success` or `refused`.
    pub outcome: &'static str,
    /// Why it was refused.
    pub reason: Option<String>,
    /// Public detail, such as a rotation's new client id.
    pub detail: Option<String>,
}

impl From<&AuditRecord> for AuditJson {
    fn from(record: &AuditRecord) -> Self {
        let event = &record.event;
        let (outcome, reason) = match &event.outcome {
            AuditOutcome::Success => ("success", None),
            AuditOutcome::Refused { reason } => ("refused", Some(reason.clone())),
        };
        Self {
            seq: record.seq,
            at: event.at,
            actor: event.actor.clone(),
            client_id: event.client_id.clone(),
            action: event.action,
            outcome,
            reason,
            detail: event.detail.clone(),
        }
    }
}

/// One token-endpoint event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ActivityJson {
    /// Sequence number: pass the last one as `after` for the next page.
    pub seq: u64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The client.
    pub client_id: String,
    /// `token_issued` or `token_denied`.
    pub event: &'static str,
    /// The issued token's `jti` (never the token).
    pub jti: Option<String>,
    /// The granted scope.
    pub scope: Option<String>,
    /// Why a request was refused (`bad_secret`, `revoked`, ...).
    pub reason: Option<String>,
}

impl From<&ActivityRecord> for ActivityJson {
    fn from(record: &ActivityRecord) -> Self {
        let event = &record.event;
        let (name, jti, scope, reason) = match &event.kind {
            ActivityKind::TokenIssued { jti, scope } => {
                ("token_issued", Some(jti.clone()), Some(scope.clone()), None)
            }
            ActivityKind::TokenDenied { reason } => {
                ("token_denied", None, None, Some(reason.clone()))
            }
        };
        Self {
            seq: record.seq,
            at: event.at,
            client_id: event.client_id.clone(),
            event: name,
            jti,
            scope,
            reason,
        }
    }
}

/// Token-endpoint outcomes of one client, secret and source in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ActivityCountJson {
    /// The minute's first instant.
    #[serde(with = "time::serde::rfc3339")]
    pub minute: OffsetDateTime,
    /// The client.
    pub client_id: String,
    /// The secret that authenticated (`null` for refusals).
    pub secret_id: Option<String>,
    /// Where the requests came from (an IP address), when known.
    pub source: Option<String>,
    /// `issued` or `denied`.
    pub outcome: &'static str,
    /// Why the requests were refused (`invalid_scope`, `inactive`, ...).
    pub reason: Option<String>,
    /// How many.
    pub count: u64,
}

impl From<&ActivityCount> for ActivityCountJson {
    fn from(count: &ActivityCount) -> Self {
        let (outcome, reason) = match &count.outcome {
            CountedOutcome::Issued => ("issued", None),
            CountedOutcome::Denied { reason } => ("denied", Some(reason.clone())),
        };
        Self {
            minute: count.minute,
            client_id: count.client_id.clone(),
            secret_id: count.secret_id.clone(),
            source: count.source.clone(),
            outcome,
            reason,
            count: count.count,
        }
    }
}

/// Activity counts, and whether `limit` cut them short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CountsJson {
    /// The counts, by minute, client, secret, source, outcome.
    pub counts: Vec<ActivityCountJson>,
    /// `true` when there may be more: read on with `since` set to the last
    /// row's minute (its rows come again) or with a narrower query.
    pub truncated: bool,
}

/// A page of entries and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The entries, oldest first.
    pub records: Vec<T>,
    /// Pass as `after` for the next page; `null` when this page was the
    /// last.
    pub next_after: Option<u64>,
}

impl<T> Page<T> {
    /// A page of `records` read with `limit`: full means there may be more.
    pub(crate) fn of(records: Vec<T>, limit: usize, seq: impl Fn(&T) -> u64) -> Self {
        let next_after = if records.len() >= limit {
            records.last().map(seq)
        } else {
            None
        };
        Self {
            records,
            next_after,
        }
    }
}
