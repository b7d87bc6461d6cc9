//! What authenticating a presented client id needs of a client, and
//! nothing more: [`AuthView`].

use std::collections::BTreeMap;
use std::fmt;
use std::mem::size_of;

use clientcreds_secret::SecretHash;
use time::OffsetDateTime;

use crate::{
    AuthSettings, ClaimValue, ClientRecord, ClientStatus, SecretRecord, SecretState, TenantId,
};

/// The part of a [`ClientRecord`] the token endpoint reads: who owns the
/// client, whether it may authenticate, what its tokens carry, and each
/// secret's id, hash and standing. No name, description, owner, labels or
/// display prefixes.
///
/// Stores hand it out behind an `Arc`
/// ([`ClientStore::authentication_view`](crate::ClientStore::authentication_view)),
/// so an authentication cache ([`CachedStore`](crate::CachedStore)) answers
/// a hit with one reference-count increment, whatever the client's size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthView {
    /// The tenant that owns the client.
    pub tenant: TenantId,
    /// The client id.
    pub client_id: String,
    /// Administrator-set status.
    pub status: ClientStatus,
    /// When replaced by a new client: the end of its grace window.
    pub grace_until: Option<OffsetDateTime>,
    /// Token lifetime override, in seconds.
    pub token_lifetime_secs: Option<u32>,
    /// Scopes it may request.
    pub scopes: Vec<String>,
    /// Audiences it may request tokens for.
    pub audiences: Vec<String>,
    /// Extra claims for its tokens.
    pub extra_claims: BTreeMap<String, ClaimValue>,
    /// Its credentials (secrets and public keys), oldest first.
    pub secrets: Vec<AuthSecret>,
    /// How it authenticates.
    pub auth: AuthSettings,
}

/// One secret as authentication sees it. Its `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthSecret {
    /// Public id, embedded in the secret's text.
    pub secret_id: String,
    /// The stored hash.
    pub hash: SecretHash,
    /// End of its lifetime, if it has one.
    pub expires_at: Option<OffsetDateTime>,
    /// End of its rotation grace window, once rotated out.
    pub grace_until: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// Last successful authentication with it (advisory).
    pub last_used_at: Option<OffsetDateTime>,
    /// A public key's JWK (see [`SecretRecord::public_jwk`]); `None` for a
    /// secret.
    pub public_jwk: Option<String>,
}

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSecret")
            .field("secret_id", &self.secret_id)
            .field("hash", &self.hash)
            .field("expires_at", &self.expires_at)
            .field("grace_until", &self.grace_until)
            .field("revoked_at", &self.revoked_at)
            .field("last_used_at", &self.last_used_at)
            .field("public_jwk", &self.public_jwk)
            .finish()
    }
}

impl AuthSecret {
    /// The view of `secret`.
    #[must_use]
    pub fn of(secret: &SecretRecord) -> Self {
        Self {
            secret_id: secret.secret_id.clone(),
            hash: secret.hash.clone(),
            expires_at: secret.expires_at,
            grace_until: secret.grace_until,
            revoked_at: secret.revoked_at,
            last_used_at: secret.last_used_at,
            public_jwk: secret.public_jwk.clone(),
        }
    }

    /// The secret's standing at `now`: the same rule as
    /// [`SecretRecord::state`].
    #[must_use]
    pub fn state(&self, now: OffsetDateTime) -> SecretState {
        SecretState::derive(self.revoked_at, self.grace_until, self.expires_at, now)
    }
}

impl AuthView {
    /// The view of `record`.
    #[must_use]
    pub fn of(record: &ClientRecord) -> Self {
        Self {
            tenant: record.tenant.clone(),
            client_id: record.client_id.clone(),
            status: record.status,
            grace_until: record.grace_until,
            token_lifetime_secs: record.token_lifetime_secs,
            scopes: record.scopes.clone(),
            audiences: record.audiences.clone(),
            extra_claims: record.extra_claims.clone(),
            secrets: record.secrets.iter().map(AuthSecret::of).collect(),
            auth: record.auth.clone(),
        }
    }

    /// The secret or key with this id.
    #[must_use]
    pub fn secret(&self, secret_id: &str) -> Option<&AuthSecret> {
        self.secrets.iter().find(|s| s.secret_id == secret_id)
    }

    /// About how many bytes of memory the view occupies (its own size plus
    /// the heap it owns, counting string lengths rather than capacities):
    /// what an [`AuthCache`](crate::AuthCache) charges for it.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        let text = |s: &String| size_of::<String>() + s.len();
        let claim = |v: &ClaimValue| match v {
            ClaimValue::Text(s) => s.len(),
            ClaimValue::List(items) => items.iter().map(text).sum(),
            ClaimValue::Bool(_) | ClaimValue::Integer(_) => 0,
        };
        // A B-tree spends about two words of node space per entry.
        const BTREE_ENTRY: usize = 2 * size_of::<usize>();
        size_of::<Self>()
            + self.tenant.as_str().len()
            + self.client_id.len()
            + self.scopes.iter().map(text).sum::<usize>()
            + self.audiences.iter().map(text).sum::<usize>()
            + self
                .extra_claims
                .iter()
                .map(|(k, v)| text(k) + size_of::<ClaimValue>() + claim(v) + BTREE_ENTRY)
                .sum::<usize>()
            + self
                .secrets
                .iter()
                .map(|s| {
                    size_of::<AuthSecret>()
                        + s.secret_id.len()
                        + s.hash.as_str().len()
                        + s.public_jwk.as_ref().map_or(0, String::len)
                })
                .sum::<usize>()
            + self.auth.jwks_uri.as_ref().map_or(0, String::len)
            + self
                .auth
                .federated
                .iter()
                .map(|f| {
                    size_of::<crate::FederatedCredential>()
                        + f.id.len()
                        + f.issuer.len()
                        + f.subject.len()
                        + f.audience.len()
                })
                .sum::<usize>()
    }
}

impl From<ClientRecord> for AuthView {
    /// Moves the fields authentication needs out of `record`.
    fn from(record: ClientRecord) -> Self {
        Self {
            secrets: record.secrets.iter().map(AuthSecret::of).collect(),
            tenant: record.tenant,
            client_id: record.client_id,
            status: record.status,
            grace_until: record.grace_until,
            token_lifetime_secs: record.token_lifetime_secs,
            scopes: record.scopes,
            audiences: record.audiences,
            extra_claims: record.extra_claims,
            auth: record.auth,
        }
    }
}
