//! What administrative calls take.

use std::collections::BTreeMap;

use clientcreds_store::{ClaimValue, ClientStatus, StatusFilter};
use time::Duration;

use crate::{RotationMode, SecretLifetime};

/// A client to create. Only `name` is required.
///
/// ```
/// use clientcreds_registry::NewClient;
/// let new = NewClient::named("partner-integration").with_scopes(["read", "write"]);
/// assert_eq!(new.scopes, ["read", "write"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewClient {
    /// 1 to 200 characters, no control characters (trimmed).
    pub name: String,
    /// Up to 2000 characters.
    pub description: String,
    /// RFC 6749 scope tokens the client may request.
    pub scopes: Vec<String>,
    /// Audiences the client may request tokens for.
    pub audiences: Vec<String>,
    /// The user the client acts for.
    pub owner: Option<String>,
    /// Lifetime of its first secret.
    pub secret_lifetime: SecretLifetime,
    /// Extra claims for its tokens (e.g. `roles`).
    pub extra_claims: BTreeMap<String, ClaimValue>,
    /// Token lifetime override, seconds (60 to 86400).
    pub token_lifetime_secs: Option<u32>,
    /// `client_secret_basic` (default) or `client_secret_post` for a
    /// client with a secret (both are accepted from it; see
    /// [`AuthMethod`](clientcreds_store::AuthMethod)). Keyed clients are
    /// made with [`Registry::create_with_keys`](crate::Registry::create_with_keys).
    pub token_endpoint_auth_method: clientcreds_store::AuthMethod,
    /// RFC 9449 §5.2: its token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
}

impl NewClient {
    /// A client with this name and defaults for the rest.
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the scopes.
    #[must_use]
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the audiences.
    #[must_use]
    pub fn with_audiences<S: Into<String>>(
        mut self,
        audiences: impl IntoIterator<Item = S>,
    ) -> Self {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the owning user.
    #[must_use]
    pub fn with_owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Sets the first secret's lifetime.
    #[must_use]
    pub fn with_secret_lifetime(mut self, lifetime: SecretLifetime) -> Self {
        self.secret_lifetime = lifetime;
        self
    }

    /// Adds an extra token claim.
    #[must_use]
    pub fn with_claim(mut self, name: impl Into<String>, value: ClaimValue) -> Self {
        self.extra_claims.insert(name.into(), value);
        self
    }

    /// Sets the token lifetime override.
    #[must_use]
    pub fn with_token_lifetime_secs(mut self, secs: u32) -> Self {
        self.token_lifetime_secs = Some(secs);
        self
    }
}

/// Changes to a client; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New audiences.
    pub audiences: Option<Vec<String>>,
    /// New extra claims (replacing all).
    pub extra_claims: Option<BTreeMap<String, ClaimValue>>,
    /// New token lifetime override (`Some(None)` clears it).
    pub token_lifetime_secs: Option<Option<u32>>,
    /// `Active` or `Inactive` (revocation has its own call).
    pub status: Option<ClientStatus>,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`.
    pub dpop_bound_access_tokens: Option<bool>,
    /// Apply only if the client still has this version (HTTP `If-Match`).
    pub expected_version: Option<u64>,
}

impl ClientUpdate {
    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the description.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the scopes.
    #[must_use]
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the audiences.
    #[must_use]
    pub fn audiences<S: Into<String>>(mut self, audiences: impl IntoIterator<Item = S>) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Replaces the extra claims.
    #[must_use]
    pub fn extra_claims(mut self, claims: BTreeMap<String, ClaimValue>) -> Self {
        self.extra_claims = Some(claims);
        self
    }

    /// Sets the status (`Active` or `Inactive`).
    #[must_use]
    pub fn status(mut self, status: ClientStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Requires the client to still be at `version`.
    #[must_use]
    pub fn if_version(mut self, version: u64) -> Self {
        self.expected_version = Some(version);
        self
    }
}

/// How to rotate; `None` means the policy's choice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotateOptions {
    /// Replace the secret or the whole client.
    pub mode: Option<RotationMode>,
    /// How long the old credential keeps working (zero: not at all).
    pub grace: Option<Duration>,
    /// Lifetime of the new secret.
    pub secret_lifetime: SecretLifetime,
}

impl RotateOptions {
    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: RotationMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Sets the grace window.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
        self
    }

    /// Sets the new secret's lifetime.
    #[must_use]
    pub fn secret_lifetime(mut self, lifetime: SecretLifetime) -> Self {
        self.secret_lifetime = lifetime;
        self
    }
}

/// A listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only this effective status.
    pub status: Option<StatusFilter>,
    /// Case-insensitive substring of name or client id.
    pub search: Option<String>,
    /// Only this owner's clients.
    pub owner: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: usize,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            status: None,
            search: None,
            owner: None,
            limit: 50,
            cursor: None,
        }
    }
}

impl ListQuery {
    /// Filters by status.
    #[must_use]
    pub fn status(mut self, status: StatusFilter) -> Self {
        self.status = Some(status);
        self
    }

    /// Filters by a search text.
    #[must_use]
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Filters by owner.
    #[must_use]
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continues from a cursor.
    #[must_use]
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }
}
