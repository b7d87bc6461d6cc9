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
}

impl SecretRecord {
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
            .finish()
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
    /// Its secrets, oldest first.
    pub secrets: Vec<SecretRecord>,
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
                _ if !self.secrets.iter().any(|s| s.state(now).is_usable()) => {
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
