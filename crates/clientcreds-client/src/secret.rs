//! The two secrets a caller holds: its client secret and the access tokens
//! it receives. Neither prints (`Debug` shows `[redacted]`), both are
//! zeroized when dropped.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use zeroize::Zeroizing;

/// The client secret: never printed, zeroized on drop.
///
/// ```
/// use clientcreds_client::ClientSecret;
/// let secret = ClientSecret::new("cs_live_…");
/// assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
/// ```
#[derive(Clone)]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// Wraps a secret (from the host's secret manager or environment).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }

    /// The secret's text, for a transport that must send it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl From<String> for ClientSecret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

/// A cached access token: cheap to clone (one reference count), the text
/// zeroized when the last clone is dropped, never printed.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use clientcreds_client::AccessToken;
/// let token = AccessToken::new("eyJ…", SystemTime::now() + Duration::from_secs(60), None);
/// assert!(!format!("{token:?}").contains("eyJ"));
/// assert_eq!(token.expose_secret(), "eyJ…");
/// ```
#[derive(Clone)]
pub struct AccessToken(Arc<Inner>);

/// Aligned to 128 bytes (two cache lines) so that each replica's reference
/// count sits on lines of its own: see [`AccessToken::replicate`].
#[repr(align(128))]
struct Inner {
    secret: Zeroizing<String>,
    expires_at: SystemTime,
    scope: Option<String>,
    token_type: TokenType,
}

/// How a token is presented (the token response's `token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TokenType {
    /// `Bearer` (RFC 6750): whoever holds the token may use it.
    #[default]
    Bearer,
    /// `DPoP` (RFC 9449): bound to the client's [DPoP key](crate::DpopKey);
    /// sent as `Authorization: DPoP <token>` with a proof on every request.
    #[allow(clippy::upper_case_acronyms)]
    DPoP,
}

impl TokenType {
    /// The `token_type` value and the `Authorization` scheme: `Bearer` or
    /// `DPoP`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::DPoP => "DPoP",
        }
    }

    /// The type a `token_type` names (case-insensitive, as RFC 6749 §5.1
    /// says), for a shared [`TokenCache`](crate::TokenCache) reading back
    /// what it stored; `None` for any other.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("bearer") {
            Some(Self::Bearer)
        } else if name.eq_ignore_ascii_case("dpop") {
            Some(Self::DPoP)
        } else {
            None
        }
    }
}

impl AccessToken {
    /// A `Bearer` token that expires at `expires_at`, with the scope the
    /// server granted (if it said).
    pub fn new(secret: impl Into<String>, expires_at: SystemTime, scope: Option<String>) -> Self {
        Self::with_type(secret, expires_at, scope, TokenType::Bearer)
    }

    /// A token of `token_type`: what a shared [`TokenCache`](crate::TokenCache)
    /// builds from what it stored (it must store the type: a DPoP-bound
    /// token sent as `Bearer` is refused).
    pub fn with_type(
        secret: impl Into<String>,
        expires_at: SystemTime,
        scope: Option<String>,
        token_type: TokenType,
    ) -> Self {
        Self(Arc::new(Inner {
            secret: Zeroizing::new(secret.into()),
            expires_at,
            scope,
            token_type,
        }))
    }

    /// How the token is presented: `Bearer`, or `DPoP` (bound to the
    /// client's DPoP key).
    #[must_use]
    pub fn token_type(&self) -> TokenType {
        self.0.token_type
    }

    /// The token's text, to put in an `Authorization: Bearer` header.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0.secret
    }

    /// When the token stops being valid: the earlier of `expires_in` from
    /// the response and the JWT's `exp` claim.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.0.expires_at
    }

    /// The scope the authorization server granted (`scope` in the token
    /// response), when it said.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    /// The `Authorization` header value (`Bearer <token>`, or `DPoP
    /// <token>` for a DPoP-bound token, which also needs a proof: see
    /// [`TokenSource::authorize`](crate::TokenSource::authorize)), marked
    /// sensitive so that `http`'s `Debug` does not print it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidResponse`](crate::Error::InvalidResponse) if the token
    /// contains bytes a header cannot carry.
    pub fn authorization(&self) -> Result<http::HeaderValue, crate::Error> {
        let scheme = self.0.token_type.as_str();
        let mut value = http::HeaderValue::try_from(format!("{scheme} {}", self.expose_secret()))
            .map_err(|_| {
            crate::Error::InvalidResponse("access_token is not a valid header value")
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// A copy of this token with its own reference count.
    ///
    /// The cache hands out clones of one of several replicas, picked by
    /// thread, so that threads on different cores do not fight over one
    /// reference count (a cache line bouncing between cores costs more
    /// than the rest of a cached `token()` call).
    pub(crate) fn replicate(&self) -> Self {
        Self::with_type(
            self.expose_secret(),
            self.0.expires_at,
            self.0.scope.clone(),
            self.0.token_type,
        )
    }

    /// Whether `self` and `other` are the same token (same text).
    #[must_use]
    pub fn same_token(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0.secret == *other.0.secret
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.0.expires_at)
            .field("scope", &self.0.scope)
            .field("token_type", &self.0.token_type)
            .finish()
    }
}
