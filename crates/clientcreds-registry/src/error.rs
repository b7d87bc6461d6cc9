//! The registry's error type.

use clientcreds_store::StoreError;

/// Why a presented client id and secret were refused. Callers outside the
/// server must see one answer for all of these (`invalid_client`); the
/// reason is for the activity log and the host's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No client has this id (or the id is malformed).
    #[error("unknown client")]
    UnknownClient,
    /// The secret is wrong, malformed, or names no secret of this client.
    #[error("bad secret")]
    BadSecret,
    /// The client is inactive.
    #[error("client inactive")]
    Inactive,
    /// The client or the secret is revoked.
    #[error("client revoked")]
    Revoked,
    /// The secret is past its lifetime.
    #[error("secret expired")]
    Expired,
    /// The client or secret was rotated out and its grace window is over.
    #[error("rotation grace window ended")]
    GraceEnded,
    /// The client is not registered for the method it used (a secret for
    /// a `private_key_jwt` client, an assertion for a secret client).
    #[error("authentication method not registered for this client")]
    MethodNotAllowed,
    /// A client assertion failed the named check.
    #[error("client assertion refused: {0}")]
    Assertion(AssertionCheck),
    /// Too many failed attempts from this source: refused before any
    /// lookup (see [`AuthThrottle`](crate::AuthThrottle)).
    #[error("too many failed attempts; retry in {retry_after}")]
    Throttled {
        /// How long to wait.
        retry_after: time::Duration,
    },
}

impl AuthFailure {
    /// A short, stable code for logs: `unknown_client`, `bad_secret`, ...
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownClient => "unknown_client",
            Self::BadSecret => "bad_secret",
            Self::Inactive => "inactive",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::GraceEnded => "grace_ended",
            Self::Throttled { .. } => "throttled",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Assertion(check) => check.code(),
        }
    }
}

/// Which check a client assertion failed: for the activity log and
/// metrics; the caller only ever sees `invalid_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionCheck {
    /// Not a compact JWS, too long, or a header or claims that do not parse.
    #[error("malformed")]
    Malformed,
    /// `alg` not in the allow-list (`none` and HMAC never are).
    #[error("algorithm not allowed")]
    Algorithm,
    /// `typ` is neither `client-authentication+jwt`, `JWT` nor absent.
    #[error("wrong typ")]
    Type,
    /// `iss` and `sub` are not both the client id, or `iss` is not an
    /// allowed federated issuer.
    #[error("wrong issuer or subject")]
    Issuer,
    /// No client id to be found: no `client_id` parameter and no `iss`
    /// (or, for a federated client, no `client_id` parameter).
    #[error("client_id does not match")]
    ClientId,
    /// `aud` does not name this server (or the credential's audience).
    #[error("wrong audience")]
    Audience,
    /// No `exp`, or past it.
    #[error("expired or without exp")]
    Expired,
    /// `nbf` or `iat` in the future.
    #[error("not yet valid")]
    NotYetValid,
    /// Valid for longer than the policy's maximum.
    #[error("lifetime too long")]
    Lifetime,
    /// No `jti` where one is required.
    #[error("no jti")]
    MissingJti,
    /// The `jti` was used before.
    #[error("replayed")]
    Replayed,
    /// No registered key (or federated credential) matches.
    #[error("no matching key or credential")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// The key used is revoked or past its lifetime or grace window.
    #[error("key no longer valid")]
    KeyInactive,
    /// The remote keys (`jwks_uri`, federated issuer) could not be fetched,
    /// or the replay store failed: refused, fail closed.
    #[error("keys or replay store unavailable")]
    Unavailable,
    /// The registry accepts no assertions (none configured).
    #[error("assertions not configured")]
    NotConfigured,
}

impl AssertionCheck {
    /// A short code for logs and metrics (`assertion_expired`, ...).
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Malformed => "assertion_malformed",
            Self::Algorithm => "assertion_algorithm",
            Self::Type => "assertion_typ",
            Self::Issuer => "assertion_issuer",
            Self::ClientId => "assertion_client_id",
            Self::Audience => "assertion_audience",
            Self::Expired => "assertion_expired",
            Self::NotYetValid => "assertion_not_yet_valid",
            Self::Lifetime => "assertion_lifetime",
            Self::MissingJti => "assertion_missing_jti",
            Self::Replayed => "assertion_replayed",
            Self::UnknownKey => "assertion_unknown_key",
            Self::Signature => "assertion_signature",
            Self::KeyInactive => "assertion_key_inactive",
            Self::Unavailable => "assertion_unavailable",
            Self::NotConfigured => "assertion_not_configured",
        }
    }
}

/// Everything a registry operation can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such client in this tenant, or the actor may not see it: the two
    /// are deliberately indistinguishable.
    #[error("client not found")]
    NotFound,
    /// Bad input; `field` names the field.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The offending field (`name`, `scopes`, `grace`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The client is revoked, which is terminal: it cannot be reactivated,
    /// rotated, or have its grace window ended.
    #[error("client is revoked")]
    Revoked,
    /// A platform administrator suspended the client: only a platform
    /// administrator may reactivate it.
    #[error("client is suspended by the platform; only a platform administrator can reactivate it")]
    Suspended,
    /// The client was already replaced by a rotation; act on its successor.
    #[error("client was already replaced by {replaced_by}")]
    AlreadyReplaced {
        /// The successor's client id.
        replaced_by: String,
    },
    /// `end_grace` on a client with no open grace window.
    #[error("client has no open rotation grace window")]
    NoGraceWindow,
    /// A quota of [`Limits`](crate::Limits) is reached: `limit` names it
    /// (`secrets_per_client`, `clients_per_tenant`), `max` is its value.
    /// Nothing was changed.
    #[error("limit {limit} reached: at most {max}; {hint}")]
    LimitReached {
        /// The limit's name.
        limit: &'static str,
        /// Its value.
        max: u64,
        /// What to do about it.
        hint: &'static str,
    },
    /// The client kept changing underneath this operation (retries exhausted),
    /// or an expected version did not match.
    #[error("client was changed concurrently; retry")]
    Conflict,
    /// Authentication refused the credentials.
    #[error("authentication failed: {0}")]
    Authentication(AuthFailure),
    /// Generating or hashing a secret failed (random source, hash
    /// configuration such as an unknown pepper key id).
    #[error("credential processing failed")]
    Credential(#[from] clientcreds_secret::Error),
    /// The store failed.
    #[error("store failed")]
    Store(#[source] StoreError),
    /// A stored signing key does not open under the master keys given: they
    /// lack the key it was sealed under, or hold other bytes under its id.
    /// Nothing was changed; start with the master keys that sealed it.
    #[error(
        "stored signing key `{kid}` cannot be decrypted; configure the master key it was sealed under"
    )]
    SealedSigningKey {
        /// The signing key's kid.
        kid: String,
        /// What the master key set said.
        #[source]
        source: clientcreds_secret::Error,
    },
    /// A signing key could not be made, loaded or used.
    #[error("signing key failed")]
    SigningKey(#[from] clientcreds_jwt::KeyError),
    /// A host's directory or notifier could not deliver an expiry warning
    /// now (it is retried later). Never carries a secret.
    #[error("delivery failed: {reason}")]
    Delivery {
        /// What failed.
        reason: String,
    },
    /// A key rotation policy is not safe.
    #[error("invalid key rotation policy: {reason}")]
    KeyPolicy {
        /// What to change.
        reason: &'static str,
    },
    /// `KeyManager::start` was called outside a tokio runtime, where it
    /// cannot spawn its refresh task. Nothing was read or written.
    #[error(
        "the key manager's refresh task needs a tokio runtime; call KeyManager::start inside one, or start_manual and run tick yourself"
    )]
    NoRuntime,
}

impl Error {
    /// A [`Error::Delivery`], for a host's `Directory` or `Notifier`.
    #[must_use]
    pub fn delivery(reason: impl Into<String>) -> Self {
        Self::Delivery {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// A short code for the audit trail's `Refused` outcome.
    pub(crate) fn audit_code(&self) -> String {
        match self {
            Self::NotFound => "not_found".into(),
            Self::Invalid { field, .. } => format!("invalid:{field}"),
            Self::Revoked => "revoked".into(),
            Self::Suspended => "suspended".into(),
            Self::AlreadyReplaced { .. } => "already_replaced".into(),
            Self::NoGraceWindow => "no_grace_window".into(),
            Self::Conflict => "conflict".into(),
            Self::LimitReached { limit, .. } => format!("limit_reached:{limit}"),
            Self::Authentication(f) => f.code().into(),
            Self::Credential(_) => "credential_error".into(),
            Self::Store(_) => "store_error".into(),
            Self::Delivery { .. } => "delivery_error".into(),
            Self::SealedSigningKey { .. }
            | Self::SigningKey(_)
            | Self::KeyPolicy { .. }
            | Self::NoRuntime => "signing_key_error".into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::Conflict,
            StoreError::NotFound => Self::NotFound,
            other => Self::Store(other),
        }
    }
}
