//! Several issuers (multi-tenant): an allow-list chosen from by `iss`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{AccessContext, VerifyError};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::{BoxFuture, Error, RemoteKeySet, VerifyAccess};

/// Tokens from a fixed allow-list of issuers, each with its own
/// [`RemoteKeySet`]. The token's `iss` picks the key set before any
/// signature work, so a token from an issuer not on the list is refused
/// with [`VerifyError::WrongIssuer`] without a fetch.
///
/// The issuer is read from the unverified payload only to choose; the
/// chosen key set then verifies everything, `iss` included.
///
/// ```
/// use clientcreds_jwt::Validation;
/// use clientcreds_resource::{Issuers, RemoteKeySet, Transport};
/// # #[derive(Debug)] struct Offline;
/// # impl Transport for Offline {
/// #     fn get(&self, _: http::Uri) -> clientcreds_resource::BoxFuture<'static, Result<http::Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync>>> {
/// #         Box::pin(async { Err("offline".into()) })
/// #     }
/// # }
///
/// let issuers = Issuers::new([
///     RemoteKeySet::builder(Validation::new("https://auth.eu.example.com", "https://api.example.com")).build(Offline)?,
///     RemoteKeySet::builder(Validation::new("https://auth.us.example.com", "https://api.example.com")).build(Offline)?,
/// ]);
/// assert!(issuers.get("https://auth.eu.example.com").is_some());
/// assert!(issuers.get("https://evil.example.com").is_none());
/// # Ok::<(), clientcreds_resource::Error>(())
/// ```
#[derive(Clone)]
pub struct Issuers {
    by_issuer: Arc<HashMap<String, RemoteKeySet>>,
    max_token_len: usize,
}

impl fmt::Debug for Issuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuers")
            .field("issuers", &self.by_issuer.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Issuers {
    /// The allow-list: one key set per issuer (a later one with the same
    /// issuer replaces an earlier one).
    #[must_use]
    pub fn new(key_sets: impl IntoIterator<Item = RemoteKeySet>) -> Self {
        let by_issuer: HashMap<String, RemoteKeySet> = key_sets
            .into_iter()
            .map(|keys| (keys.issuer().to_owned(), keys))
            .collect();
        let max_token_len = by_issuer
            .values()
            .map(|k| k.validation().max_token_len)
            .max()
            .unwrap_or(0);
        Self {
            by_issuer: Arc::new(by_issuer),
            max_token_len,
        }
    }

    /// The key set of `issuer`, if it is on the list.
    #[must_use]
    pub fn get(&self, issuer: &str) -> Option<&RemoteKeySet> {
        self.by_issuer.get(issuer)
    }

    /// Verifies `token` with the key set of its issuer, as of `now`.
    ///
    /// # Errors
    /// [`VerifyError::WrongIssuer`] for an issuer not on the list (and the
    /// errors of reading `iss`: [`VerifyError::TooLong`],
    /// [`VerifyError::Malformed`], [`VerifyError::InvalidPayload`],
    /// [`VerifyError::MissingClaim`], [`VerifyError::InvalidClaim`]);
    /// otherwise as [`RemoteKeySet::verify_at`].
    pub async fn verify_at(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<AccessContext, Error> {
        if token.len() > self.max_token_len {
            return Err(Error::Token(VerifyError::TooLong {
                max: self.max_token_len,
            }));
        }
        let issuer = peek_issuer(token)?;
        let keys = self
            .by_issuer
            .get(issuer.as_str())
            .ok_or(Error::Token(VerifyError::WrongIssuer))?;
        keys.verify_at(token, now).await
    }
}

impl VerifyAccess for Issuers {
    fn verify_at<'a>(
        &'a self,
        token: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<AccessContext, Error>> {
        Box::pin(Issuers::verify_at(self, token, now))
    }
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: Option<serde_json::Value>,
}

/// The unverified `iss` of a compact JWS: only to choose whose keys verify.
pub(crate) fn peek_issuer(token: &str) -> Result<String, VerifyError> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let payload = B64URL.decode(payload).map_err(|_| VerifyError::Malformed)?;
    let claims: IssuerOnly =
        serde_json::from_slice(&payload).map_err(|_| VerifyError::InvalidPayload)?;
    match claims.iss {
        Some(serde_json::Value::String(iss)) => Ok(iss),
        Some(_) => Err(VerifyError::InvalidClaim("iss")),
        None => Err(VerifyError::MissingClaim("iss")),
    }
}
