//! The records a store keeps, and the rules that derive status from a clock.

use std::collections::BTreeMap;
use std::fmt;

use clientcreds_secret::SecretHash;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A tenant's id: 1 to 64 characters of `[A-Za-z0-9._-]`. Every storage
/// call that touches a client names one, so isolation is in the types.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

/// The text given for a [`TenantId`] breaks its syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant id: use 1 to 64 characters of [A-Za-z0-9._-]")]
pub struct InvalidTenantId;

impl TenantId {
    /// Checks and wraps a tenant id.
    ///
    /// # Errors
    /// [`InvalidTenantId`] for empty, over-long or oddly spelled ids.
    ///
    /// ```
    /// use clientcreds_store::TenantId;
    /// assert_eq!(TenantId::new("acme-corp")?.as_str(), "acme-corp");
    /// assert!(TenantId::new("acme corp").is_err());
    /// # Ok::<(), clientcreds_store::InvalidTenantId>(())
    /// ```
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidTenantId> {
        let id = id.into();
        let ok = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(id))
        } else {
            Err(InvalidTenantId)
        }
    }

    /// The id's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenantId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<TenantId> for String {
    fn from(value: TenantId) -> Self {
        value.0
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.0)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The status an administrator sets. `Revoked` is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    /// May authenticate.
    Active,
    /// Switched off, reversibly.
    Inactive,
    /// Switched off for good: never reactivated, never rotated.
    Revoked,
    /// Switched off by a platform administrator: only a platform
    /// administrator may switch it back on. Seen as inactive everywhere
    /// else ([`EffectiveStatus::Inactive`]).
    Suspended,
}

impl ClientStatus {
    /// The status as stored and audited: `active`, `inactive`, `revoked`,
    /// `suspended` (the serde name too).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
        }
    }
}

/// A client's status as seen at one instant: the stored status plus what
/// the clock says about its grace window and its secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EffectiveStatus {
    /// Active, with at least one usable secret.
    Active,
    /// Set inactive by an administrator.
    Inactive,
    /// Revoked.
    Revoked,
    /// Rotated out (replaced by a new client) and still minting until `until`.
    Expiring {
        /// When the grace window ends.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// Its grace window has ended, or none of its secrets can authenticate.
    Expired,
}

/// Which clients a list asks for, by effective status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    /// [`EffectiveStatus::Active`].
    Active,
    /// [`EffectiveStatus::Inactive`].
    Inactive,
    /// [`EffectiveStatus::Revoked`].
    Revoked,
    /// [`EffectiveStatus::Expiring`].
    Expiring,
    /// [`EffectiveStatus::Expired`].
    Expired,
}

impl StatusFilter {
    /// Whether `status` passes this filter.
    #[must_use]
    pub fn matches(self, status: EffectiveStatus) -> bool {
        matches!(
            (self, status),
            (Self::Active, EffectiveStatus::Active)
                | (Self::Inactive, EffectiveStatus::Inactive)
                | (Self::Revoked, EffectiveStatus::Revoked)
                | (Self::Expiring, EffectiveStatus::Expiring { .. })
                | (Self::Expired, EffectiveStatus::Expired)
        )
    }
}

/// One secret's standing at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SecretState {
    /// Usable.
    Active,
    /// Rotated out, usable until `until`.
    Expiring {
        /// When its grace window ends.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// Rotated out and its grace window is over.
    GraceEnded,
    /// Past its lifetime.
    Expired,
    /// Revoked with its client.
    Revoked,
}

impl SecretState {
    /// The standing at `now` of a secret with these instants (the one rule
    /// [`SecretRecord::state`] and [`AuthSecret::state`](crate::AuthSecret::state) share).
    pub(crate) fn derive(
        revoked_at: Option<OffsetDateTime>,
        grace_until: Option<OffsetDateTime>,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Self {
        if revoked_at.is_some() {
            Self::Revoked
        } else if grace_until.is_some_and(|g| g <= now) {
            Self::GraceEnded
        } else if expires_at.is_some_and(|e| e <= now) {
            Self::Expired
        } else if let Some(until) = grace_until {
            Self::Expiring { until }
        } else {
            Self::Active
        }
    }

    /// Whether a secret in this state may authenticate.
    #[must_use]
    pub fn is_usable(self) -> bool {
        matches!(self, Self::Active | Self::Expiring { .. })
    }
}

/// A value of an extra claim carried into a client's access tokens (for
/// example `roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClaimValue {
    /// A string.
    Text(String),
    /// A list of strings, such as roles.
    List(Vec<String>),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
}

/// One secret of a client. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Public id, embedded in the secret's text.
    pub secret_id: String,
    /// The stored hash (see `clientcreds_secret::SecretHasher`).
    pub hash: SecretHash,
    /// Short non-secret text for UI and audit.
    pub display_prefix: String,
    /// A label for humans ("created", "rotation 2026-11-22", ...).
    pub label: String,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// End of its lifetime, if it has one.
    pub expires_at: Option<OffsetDateTime>,
    /// End of its rotation grace window, once rotated out.
    pub grace_until: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Last successful authentication with it (advisory).
    pub last_used_at: Option<OffsetDateTime>,
    /// When its next expiry warning is due (`None`: no warning pending).
    /// The registry schedules it; a warning runner advances it through
    /// [`WarningLedger::set_warning_due`](crate::WarningLedger::set_warning_due).
    /// Stores index it so a run reads only the due secrets.
    pub warning_due: Option<OffsetDateTime>,
    /// For a client's public key (`private_key_jwt`): the key as a public
    /// JWK (RFC 7517, JSON text), and `secret_id` is its `kid`. A key is a
    /// credential like a secret: it rotates with overlap, expires, is
    /// revoked and warned about through the same fields, and its `hash`
    /// holds [`SecretRecord::KEY_HASH`], which no secret ever matches.
    /// `None` for a secret.
    pub public_jwk: Option<String>,
}

impl SecretRecord {
    /// The `hash` of a public-key credential: not a hash format, so no
    /// hasher accepts it and no presented secret matches it.
    pub const KEY_HASH: &'static str = "public-key";

    /// Whether this credential is a public key, not a secret.
    #[must_use]
    pub fn is_key(&self) -> bool {
        self.public_jwk.is_some()
    }

    /// The secret's standing at `now`.
    #[must_use]
    pub fn state(&self, now: OffsetDateTime) -> SecretState {
        SecretState::derive(self.revoked_at, self.grace_until, self.expires_at, now)
    }
}

impl fmt::Debug for SecretRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretRecord")
            .field("secret_id", &self.secret_id)
            .field("hash", &self.hash)
            .field("display_prefix", &self.display_prefix)
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("grace_until", &self.grace_until)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .field("public_jwk", &self.public_jwk)
            .finish()
    }
}

/// How a client authenticates at the token endpoint: the RFC 7591
/// `token_endpoint_auth_method` names, plus `federated_jwt` for a client
/// that proves itself with a token another issuer signed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A secret in HTTP Basic (RFC 6749 §2.3.1). A secret client may send
    /// its secret in the body as well: both carry the same secret over the
    /// same TLS connection, and RFC 6749 obliges servers to take Basic.
    #[default]
    ClientSecretBasic,
    /// A secret in the form body; HTTP Basic is accepted as well.
    ClientSecretPost,
    /// A JWT the client signs with one of its registered keys (RFC 7523
    /// §2.2): inline keys in [`ClientRecord::secrets`], or `jwks_uri`.
    PrivateKeyJwt,
    /// A JWT an allowed external issuer signed for the client (workload
    /// identity: a Kubernetes service-account token, a CI job's OIDC token,
    /// a SPIFFE JWT-SVID), matched against [`AuthSettings::federated`].
    FederatedJwt,
}

impl AuthMethod {
    /// Every method.
    pub const ALL: [Self; 4] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::FederatedJwt,
    ];

    /// The method's name as stored and in JSON.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::FederatedJwt => "federated_jwt",
        }
    }

    /// The method named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether the client proves itself with a secret.
    #[must_use]
    pub const fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A trust in tokens an external issuer signs for one workload (as
/// Microsoft Entra ID's federated identity credentials): a token with
/// exactly this `iss`, `sub` and `aud` authenticates the client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// Its id within the client (for removal and audit).
    pub id: String,
    /// The external issuer's identifier (`iss`), which must also be on the
    /// registry's allow-list.
    pub issuer: String,
    /// The expected `sub` (e.g. `system:serviceaccount:ns:name`).
    pub subject: String,
    /// The expected `aud`.
    pub audience: String,
    /// When it was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A client's authentication settings beyond its secrets and keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSettings {
    /// `token_endpoint_auth_method`.
    pub method: AuthMethod,
    /// `jwks_uri`: where a `private_key_jwt` client publishes its keys,
    /// instead of (or beside) keys registered inline.
    pub jwks_uri: Option<String>,
    /// Federated credentials, for [`AuthMethod::FederatedJwt`].
    pub federated: Vec<FederatedCredential>,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: the token endpoint
    /// refuses this client's requests without a DPoP proof, so its tokens
    /// are always sender-constrained.
    pub dpop_bound_access_tokens: bool,
}

impl AuthSettings {
    /// Whether a credential outside [`ClientRecord::secrets`] may
    /// authenticate the client: a `jwks_uri` or a federated credential of
    /// its method.
    #[must_use]
    pub fn has_external_credential(&self) -> bool {
        match self.method {
            AuthMethod::PrivateKeyJwt => self.jwks_uri.is_some(),
            AuthMethod::FederatedJwt => !self.federated.is_empty(),
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => false,
        }
    }
}

/// An OAuth client as stored. Field names follow RFC 7591 where one exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The tenant that owns it.
    pub tenant: TenantId,
    /// Public, prefixed id.
    pub client_id: String,
    /// Human name (`client_name` in RFC 7591).
    pub name: String,
    /// Free text.
    pub description: String,
    /// The user the client acts for, if any (receives expiry warnings).
    pub owner: Option<String>,
    /// Who created it (receives expiry warnings).
    pub created_by: String,
    /// Scopes it may request.
    pub scopes: Vec<String>,
    /// Audiences it may request tokens for.
    pub audiences: Vec<String>,
    /// Extra claims for its tokens (e.g. `roles`).
    pub extra_claims: BTreeMap<String, ClaimValue>,
    /// Token lifetime override, in seconds.
    pub token_lifetime_secs: Option<u32>,
    /// Administrator-set status.
    pub status: ClientStatus,
    /// When replaced by a new client: the end of its grace window.
    pub grace_until: Option<OffsetDateTime>,
    /// When replaced by a new client: the new client's id.
    pub replaced_by: Option<String>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change by an administrator.
    pub updated_at: OffsetDateTime,
    /// Last successful authentication (advisory).
    pub last_used_at: Option<OffsetDateTime>,
    /// Optimistic-concurrency version: 1 on insert, +1 on every update.
    pub version: u64,
    /// Its credentials, oldest first: secrets and, for `private_key_jwt`,
    /// public keys ([`SecretRecord::public_jwk`]).
    pub secrets: Vec<SecretRecord>,
    /// How it authenticates.
    pub auth: AuthSettings,
}

impl ClientRecord {
    /// The status at `now` (the one rule every store and view uses).
    #[must_use]
    pub fn effective_status(&self, now: OffsetDateTime) -> EffectiveStatus {
        match self.status {
            ClientStatus::Revoked => EffectiveStatus::Revoked,
            ClientStatus::Inactive | ClientStatus::Suspended => EffectiveStatus::Inactive,
            ClientStatus::Active => match self.grace_until {
                Some(until) if until <= now => EffectiveStatus::Expired,
                _ if !self.auth.has_external_credential()
                    && !self.secrets.iter().any(|s| s.state(now).is_usable()) =>
                {
                    EffectiveStatus::Expired
                }
                Some(until) => EffectiveStatus::Expiring { until },
                None => EffectiveStatus::Active,
            },
        }
    }

    /// Whether `search` (already lowercased) is a substring of the name or
    /// the client id, ignoring case.
    #[must_use]
    pub fn matches_search(&self, lowercase_search: &str) -> bool {
        contains_lowercase(&self.client_id, lowercase_search)
            || contains_lowercase(&self.name, lowercase_search)
    }

    /// The secret with this id.
    #[must_use]
    pub fn secret(&self, secret_id: &str) -> Option<&SecretRecord> {
        self.secrets.iter().find(|s| s.secret_id == secret_id)
    }
}

/// Whether `needle` (lowercase) occurs in `haystack` lowercased, as
/// `haystack.to_lowercase().contains(needle)` says, without allocating when
/// both are ASCII (client ids always are; most names too).
fn contains_lowercase(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let (hay, needle) = (haystack.as_bytes(), needle.as_bytes());
        needle.is_empty()
            || hay
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle))
    } else {
        haystack.to_lowercase().contains(needle)
    }
}

#[cfg(test)]
mod tests {
    use super::contains_lowercase;

    #[test]
    fn search_matches_what_to_lowercase_says() {
        for (hay, needle) in [
            ("ERP Sync", "erp s"),
            ("ERP Sync", "sync"),
            ("ERP Sync", "x"),
            ("", ""),
            ("a", ""),
            ("Ünïcode Name", "ünï"),
            ("Ünïcode Name", "name"),
            ("\u{212A}elvin", "kelvin"),
            ("acme_client_AbC", "abc"),
        ] {
            assert_eq!(
                contains_lowercase(hay, needle),
                hay.to_lowercase().contains(needle),
                "{hay:?} {needle:?}"
            );
        }
    }
}
