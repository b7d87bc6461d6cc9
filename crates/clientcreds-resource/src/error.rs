//! The crate's error type.

use clientcreds_jwt::VerifyError;

/// Why a token could not be accepted, or a key set could not be loaded.
///
/// [`Error::Token`] is the token's fault (401 `invalid_token`); every other
/// variant is the resource server's or the issuer's (503): the token is
/// refused all the same, never accepted unchecked (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token failed a verification rule; the variant names which.
    #[error(transparent)]
    Token(#[from] VerifyError),
    /// No usable key set for the token's issuer: it was never fetched, or
    /// the last good set is older than its bound (`max_stale`), and the
    /// latest fetch failed for `reason`.
    #[error("keys of issuer `{issuer}` are unavailable: {reason}")]
    KeysUnavailable {
        /// The issuer whose keys are missing.
        issuer: String,
        /// Why the latest fetch failed.
        reason: String,
    },
    /// A fetch of metadata or a JWKS failed.
    #[error("fetching `{url}` failed: {reason}")]
    Fetch {
        /// The URL fetched.
        url: String,
        /// What went wrong: transport, status, or document.
        reason: String,
    },
    /// An issuer or JWKS URL that cannot be used: not an absolute `https`
    /// URL (plain `http` is accepted for loopback hosts only), or one with
    /// a query or fragment.
    #[error("URL `{url}` is not usable: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: &'static str,
    },
}
