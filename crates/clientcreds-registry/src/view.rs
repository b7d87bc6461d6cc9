//! What the registry hands back: public views and one-time credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use clientcreds_secret::{Secret, SecretId};
use clientcreds_store::{
    AuthMethod, AuthView, ClaimValue, ClientRecord, EffectiveStatus, FederatedCredential,
    SecretRecord, SecretState, TenantId,
};
use serde::Serialize;
use time::OffsetDateTime;

/// A client as an administrator sees it: never a secret or a hash, only
/// display prefixes. Serializes with RFC 7591 names where they exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientView {
    /// Public id.
    pub client_id: String,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Name (`client_name`).
    #[serde(rename = "client_name")]
    pub name: String,
    /// Description.
    pub description: String,
    /// Owning user, if any.
    pub owner: Option<String>,
    /// Creator.
    pub created_by: String,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Allowed audiences.
    pub audiences: Vec<String>,
    /// Extra token claims.
    pub extra_claims: BTreeMap<String, ClaimValue>,
    /// Token lifetime override, seconds.
    pub token_lifetime_secs: Option<u32>,
    /// Status at the instant of reading.
    pub status: EffectiveStatus,
    /// Successor after a client-replacing rotation.
    pub replaced_by: Option<String>,
    /// End of the grace window after a client-replacing rotation (past
    /// once the window has closed).
    #[serde(with = "time::serde::rfc3339::option")]
    pub grace_until: Option<OffsetDateTime>,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last administrative change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Last successful authentication (advisory, may lag by the policy's interval).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Version for optimistic concurrency (`If-Match`).
    pub version: u64,
    /// Its secrets, oldest first.
    pub secrets: Vec<SecretView>,
    /// How it authenticates (RFC 7591 name, or `federated_jwt`).
    pub token_endpoint_auth_method: AuthMethod,
    /// Its public keys (`private_key_jwt`), oldest first.
    pub keys: Vec<KeyView>,
    /// Where it publishes its keys, if it does.
    pub jwks_uri: Option<String>,
    /// Its federated credentials.
    pub federated_credentials: Vec<FederatedCredential>,
    /// RFC 9449 §5.2: its tokens are always DPoP-bound.
    pub dpop_bound_access_tokens: bool,
}

/// One public key of a client as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    /// The key id.
    pub kid: String,
    /// The public JWK.
    pub jwk: serde_json::Value,
    /// Label.
    pub label: String,
    /// Standing at the instant of reading.
    pub state: SecretState,
    /// Registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// End of lifetime.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Last used to authenticate.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When its next expiry warning is due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_warning_at: Option<OffsetDateTime>,
}

/// One secret as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretView {
    /// Public secret id.
    pub secret_id: String,
    /// Display prefix (`<prefix>secret_<secret id>`).
    pub display_prefix: String,
    /// Label.
    pub label: String,
    /// Standing at the instant of reading.
    pub state: SecretState,
    /// Issued.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// End of lifetime.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// End of rotation grace.
    #[serde(with = "time::serde::rfc3339::option")]
    pub grace_until: Option<OffsetDateTime>,
    /// Revoked at.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Last used: answers "is the old secret still in use?".
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When its next expiry warning is due (`None`: none pending).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_warning_at: Option<OffsetDateTime>,
}

impl ClientView {
    pub(crate) fn of(record: &ClientRecord, now: OffsetDateTime) -> Self {
        Self {
            client_id: record.client_id.clone(),
            tenant: record.tenant.clone(),
            name: record.name.clone(),
            description: record.description.clone(),
            owner: record.owner.clone(),
            created_by: record.created_by.clone(),
            scopes: record.scopes.clone(),
            audiences: record.audiences.clone(),
            extra_claims: record.extra_claims.clone(),
            token_lifetime_secs: record.token_lifetime_secs,
            status: record.effective_status(now),
            replaced_by: record.replaced_by.clone(),
            grace_until: record.grace_until,
            created_at: record.created_at,
            updated_at: record.updated_at,
            last_used_at: record.last_used_at,
            version: record.version,
            secrets: record
                .secrets
                .iter()
                .filter(|s| !s.is_key())
                .map(|s| SecretView::of(s, now))
                .collect(),
            token_endpoint_auth_method: record.auth.method,
            keys: record
                .secrets
                .iter()
                .filter_map(|s| {
                    let jwk = serde_json::from_str(s.public_jwk.as_deref()?).ok()?;
                    Some(KeyView {
                        kid: s.secret_id.clone(),
                        jwk,
                        label: s.label.clone(),
                        state: s.state(now),
                        created_at: s.created_at,
                        expires_at: s.expires_at,
                        last_used_at: s.last_used_at,
                        next_warning_at: s.warning_due,
                    })
                })
                .collect(),
            jwks_uri: record.auth.jwks_uri.clone(),
            federated_credentials: record.auth.federated.clone(),
            dpop_bound_access_tokens: record.auth.dpop_bound_access_tokens,
        }
    }

    /// The secret with this id.
    #[must_use]
    pub fn secret(&self, secret_id: &str) -> Option<&SecretView> {
        self.secrets.iter().find(|s| s.secret_id == secret_id)
    }
}

impl SecretView {
    fn of(record: &SecretRecord, now: OffsetDateTime) -> Self {
        Self {
            secret_id: record.secret_id.clone(),
            display_prefix: record.display_prefix.clone(),
            label: record.label.clone(),
            state: record.state(now),
            created_at: record.created_at,
            expires_at: record.expires_at,
            grace_until: record.grace_until,
            revoked_at: record.revoked_at,
            last_used_at: record.last_used_at,
            next_warning_at: record.warning_due,
        }
    }
}

/// Credentials shown exactly once, after create or rotate. Not `Clone`,
/// not `Serialize`; `Debug` redacts the secret.
pub struct Credentials {
    /// The client id (public).
    pub client_id: String,
    /// The plaintext secret.
    pub client_secret: Secret,
    /// The id of the secret's record.
    pub secret_id: SecretId,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("secret_id", &self.secret_id)
            .finish()
    }
}

/// The result of create and rotate: the client as stored, and the
/// one-time credentials.
#[derive(Debug)]
pub struct Issued {
    /// The client (after a client-replacing rotation: the new client).
    pub client: ClientView,
    /// Show these once, then drop them.
    pub credentials: Credentials,
}

/// A page of clients.
#[derive(Debug, Clone, Serialize)]
pub struct ClientList {
    /// The clients.
    pub clients: Vec<ClientView>,
    /// Pass back as [`ListQuery::cursor`](crate::ListQuery::cursor) for the next page.
    pub next_cursor: Option<String>,
}

/// A client that proved its credentials, with what a token needs.
///
/// It shares the store's [`AuthView`] of the client (behind an `Arc`)
/// rather than copying its scopes, audiences and claims, so
/// authenticating costs the same for a small and a large client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient {
    view: Arc<AuthView>,
    /// Index of the secret or inline key used in `view.secrets`; `None`
    /// for a key fetched from `jwks_uri` or a federated credential.
    secret: Option<usize>,
    token_lifetime: time::Duration,
}

impl AuthenticatedClient {
    pub(crate) fn new(
        view: Arc<AuthView>,
        secret: Option<usize>,
        token_lifetime: time::Duration,
    ) -> Self {
        Self {
            view,
            secret,
            token_lifetime,
        }
    }

    /// Tenant.
    #[must_use]
    pub fn tenant(&self) -> &TenantId {
        &self.view.tenant
    }

    /// Client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.view.client_id
    }

    /// The id of the secret (or inline key: its `kid`) that was used;
    /// empty for a key from `jwks_uri` or a federated credential.
    #[must_use]
    pub fn secret_id(&self) -> &str {
        self.secret
            .and_then(|i| self.view.secrets.get(i))
            .map_or("", |s| s.secret_id.as_str())
    }

    /// Whether its token requests must carry a DPoP proof.
    #[must_use]
    pub fn dpop_bound(&self) -> bool {
        self.view.auth.dpop_bound_access_tokens
    }

    /// Allowed scopes.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.view.scopes
    }

    /// Allowed audiences.
    #[must_use]
    pub fn audiences(&self) -> &[String] {
        &self.view.audiences
    }

    /// Extra claims for its tokens.
    #[must_use]
    pub fn extra_claims(&self) -> &BTreeMap<String, ClaimValue> {
        &self.view.extra_claims
    }

    /// Token lifetime: the client's override or the policy's.
    #[must_use]
    pub fn token_lifetime(&self) -> time::Duration {
        self.token_lifetime
    }
}
