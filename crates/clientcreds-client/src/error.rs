//! The crate's one error type.

use std::fmt;
use std::time::Duration;

/// Everything that can go wrong getting a token.
///
/// Cloneable, because one failed refresh answers every caller that waited
/// for it. No variant carries the client secret or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid (named by `field`).
    #[error("invalid configuration: {field} {reason}")]
    Config {
        /// The setting at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token endpoint (or the metadata document) could not be reached:
    /// connection refused, timeout, TLS or I/O failure.
    #[error("token endpoint unreachable: {0}")]
    Network(String),
    /// The endpoint answered with an HTTP status that carries no RFC 6749
    /// error (a proxy's 502, a 503 while it restarts, …).
    #[error("token endpoint answered HTTP {status}")]
    Status {
        /// The HTTP status code.
        status: u16,
    },
    /// The authorization server refused the request with an RFC 6749 §5.2
    /// error response.
    #[error("token request refused: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// The `error` code.
        code: OAuthErrorCode,
        /// The `error_description`, if the server sent one.
        description: Option<String>,
        /// The HTTP status code of the response.
        status: u16,
    },
    /// A success response that is not a usable RFC 6749 §5.1 token response
    /// (not JSON, no `access_token`, a `token_type` other than `Bearer` or
    /// `DPoP`, `DPoP` to a client without a DPoP key, `Bearer` to a DPoP
    /// request unless [allowed](crate::TokenClientBuilder::dpop_allow_bearer), …),
    /// or a metadata document without a matching issuer or token endpoint.
    #[error("invalid response from the authorization server: {0}")]
    InvalidResponse(&'static str),
    /// Discovery failed: the issuer's metadata (RFC 8414, then `OpenID`
    /// discovery) could not be fetched, or is not the issuer's. This is
    /// about the metadata document at `url`, not the token endpoint.
    #[error("issuer metadata at `{url}` unusable: {reason}")]
    Metadata {
        /// The metadata URL (or, when every location failed, the issuer).
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The `private_key_jwt` key cannot be loaded (wrong format, wrong
    /// algorithm, a shared secret) or cannot sign. The reason never holds
    /// key material.
    #[error("client assertion key unusable: {0}")]
    AssertionKey(String),
    /// A federated client's token file (see
    /// [`AssertionSource::file`](crate::AssertionSource::file)) is missing,
    /// unreadable, empty, too large, or not a JWT. Retried with backoff:
    /// the platform may write it later.
    #[error("client assertion file `{}` {reason}", path.display())]
    AssertionFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A federated client's assertion callback (see
    /// [`AssertionSource::callback`](crate::AssertionSource::callback))
    /// failed (its error's text), or returned something that is not a JWT.
    #[error("client assertion callback: {0}")]
    AssertionCallback(String),
    /// DPoP (feature `dpop`): the key cannot be loaded or cannot sign a
    /// proof, a request cannot carry one (its URL is not absolute), or a
    /// DPoP-bound token is to be sent by a client without a DPoP key. The
    /// reason never holds key material or a token.
    #[error("DPoP: {0}")]
    Dpop(String),
    /// The shared token cache failed.
    #[error("token cache failed: {0}")]
    Cache(String),
    /// The last refresh failed and the next attempt is held back (exponential
    /// backoff, or the negative cache after `invalid_client` /
    /// `unauthorized_client`); `cause` is why that refresh failed.
    #[error("no valid token; last refresh failed ({cause}); next attempt in {retry_in:?}")]
    BackingOff {
        /// Why the last refresh failed.
        cause: Box<Error>,
        /// How long until the next attempt is allowed.
        retry_in: Duration,
    },
}

impl Error {
    /// The RFC 6749 error code behind this error, looking through
    /// [`Error::BackingOff`].
    #[must_use]
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        match self {
            Self::OAuth { code, .. } => Some(code),
            Self::BackingOff { cause, .. } => cause.oauth_code(),
            _ => None,
        }
    }

    /// Whether the server said the credentials themselves are bad
    /// (`invalid_client` or `unauthorized_client`): retrying will not help
    /// until someone changes the configuration.
    #[must_use]
    pub fn is_credentials_rejected(&self) -> bool {
        matches!(
            self.oauth_code(),
            Some(OAuthErrorCode::InvalidClient | OAuthErrorCode::UnauthorizedClient)
        )
    }
}

/// The RFC 6749 §5.2 error codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_client`: authentication failed (unknown client, wrong secret,
    /// expired secret, deactivated client).
    InvalidClient,
    /// `invalid_grant`.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`: a requested scope (or audience) is not allowed.
    InvalidScope,
    /// `invalid_target` (RFC 8707): a requested resource is not allowed.
    InvalidTarget,
    /// `use_dpop_nonce` (RFC 9449 §8): the server wants a proof with the
    /// nonce it sent in `DPoP-Nonce` (the client retries once by itself).
    UseDpopNonce,
    /// `invalid_dpop_proof` (RFC 9449 §5): the server refused the proof.
    InvalidDpopProof,
    /// Any other code, as sent.
    Other(String),
}

impl OAuthErrorCode {
    /// The code as it appears on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::Other(code) => code,
        }
    }

    pub(crate) fn parse(code: &str) -> Self {
        match code {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            "use_dpop_nonce" => Self::UseDpopNonce,
            "invalid_dpop_proof" => Self::InvalidDpopProof,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport's failure to exchange a request for a response.
///
/// Returned by [`Transport`](crate::Transport) implementations; becomes
/// [`Error::Network`]. The message must not contain the request body or
/// headers (they carry the client secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    message: String,
}

impl TransportError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl From<TransportError> for Error {
    fn from(error: TransportError) -> Self {
        Self::Network(error.message)
    }
}
