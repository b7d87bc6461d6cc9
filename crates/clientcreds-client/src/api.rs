//! Presenting a token to an API: the headers of one request
//! ([`TokenSource::authorize`]) and what an API's answer means for the
//! next attempt ([`TokenSource::inspect_response`]). The reqwest
//! middleware and the tower layer are these two calls around a send; any
//! other HTTP client can make them too.

use http::header::AUTHORIZATION;

use crate::{AccessToken, Error, Retry, TokenSource, TokenType};

/// The headers that authenticate one API request: `Authorization` and,
/// for a DPoP-bound token, a `DPoP` proof made for that request.
///
/// Values are marked sensitive (`http`'s `Debug` hides them); `Debug`
/// of this type shows neither.
#[derive(Clone)]
pub struct AuthHeaders {
    token: AccessToken,
    authorization: http::HeaderValue,
    dpop: Option<http::HeaderValue>,
}

impl AuthHeaders {
    /// Sets `Authorization` and `DPoP` on `headers`, replacing what was
    /// there (a `DPoP` header is removed for a Bearer token).
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        headers.insert(AUTHORIZATION, self.authorization.clone());
        match &self.dpop {
            Some(proof) => {
                headers.insert(DPOP_HEADER, proof.clone());
            }
            None => {
                headers.remove(DPOP_HEADER);
            }
        }
    }

    /// The token presented, for [`TokenSource::inspect_response`].
    #[must_use]
    pub fn token(&self) -> &AccessToken {
        &self.token
    }

    /// The `Authorization` value: `Bearer <token>` or `DPoP <token>`.
    #[must_use]
    pub fn authorization(&self) -> &http::HeaderValue {
        &self.authorization
    }

    /// The `DPoP` proof, for a DPoP-bound token.
    #[must_use]
    pub fn dpop(&self) -> Option<&http::HeaderValue> {
        self.dpop.as_ref()
    }
}

impl std::fmt::Debug for AuthHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthHeaders")
            .field("token", &self.token)
            .field("dpop", &self.dpop.is_some())
            .finish_non_exhaustive()
    }
}

/// `DPoP` (RFC 9449 §4.1), spelled here so that the type exists without
/// the `dpop` feature.
const DPOP_HEADER: http::HeaderName = http::HeaderName::from_static("dpop");

impl TokenSource {
    /// The headers for one request to an API: the source's current token
    /// ([`TokenSource::token`]) as `Authorization`, and for a DPoP-bound
    /// token a new proof for `method` and `url` (`htu`: `url` without
    /// query and fragment; `ath`: the token's hash; the nonce last seen
    /// from `url`'s origin; a new 128-bit `jti`).
    ///
    /// `url` is the request's absolute URL; it is read only for a DPoP
    /// token (a Bearer client may pass `""`).
    ///
    /// # Errors
    ///
    /// As [`TokenSource::token`]; [`Error::InvalidResponse`] for a token a
    /// header cannot carry; [`Error::Dpop`] when the proof cannot be made
    /// (`url` not absolute, no DPoP key for a DPoP-bound token).
    pub async fn authorize(&self, method: &http::Method, url: &str) -> Result<AuthHeaders, Error> {
        let token = self.token().await?;
        let authorization = token.authorization()?;
        let dpop = match token.token_type() {
            TokenType::DPoP => Some(self.proof(method, url, &token)?),
            _ => None,
        };
        Ok(AuthHeaders {
            token,
            authorization,
            dpop,
        })
    }

    /// What an API's response to a request made with `token` means for
    /// that request, and what the source learns from it:
    ///
    /// - a `DPoP-Nonce` header is remembered for `url`'s origin (any
    ///   status; a DPoP client only);
    /// - 401 `WWW-Authenticate: DPoP error="use_dpop_nonce"` with a
    ///   `DPoP-Nonce`, to a DPoP-bound token: [`Retry::WithNonce`];
    /// - 401 `invalid_token` (`Bearer` or `DPoP` challenge): `token` is
    ///   dropped ([`TokenSource::invalidate`]), [`Retry::WithFreshToken`];
    /// - anything else: [`Retry::No`].
    ///
    /// Retry each kind at most once per request, through
    /// [`TokenSource::authorize`] again (it picks up the nonce or the new
    /// token): a server that asks again has had its chance.
    pub async fn inspect_response(
        &self,
        url: &str,
        token: &AccessToken,
        status: http::StatusCode,
        headers: &http::HeaderMap,
    ) -> Retry {
        let new_nonce = self.observe_nonce(url, headers);
        if new_nonce
            && token.token_type() == TokenType::DPoP
            && crate::is_use_dpop_nonce(status, headers)
        {
            return Retry::WithNonce;
        }
        if crate::is_invalid_token(status, headers) {
            self.invalidate(token).await;
            return Retry::WithFreshToken;
        }
        Retry::No
    }

    /// Whether [`TokenSource::authorize`] needs the request's URL: the
    /// client has a DPoP key.
    #[must_use]
    pub fn needs_url(&self) -> bool {
        self.client.dpop_thumbprint().is_some()
    }

    /// The DPoP key this source's tokens are bound to (feature `dpop`).
    #[cfg(feature = "dpop")]
    #[must_use]
    pub fn dpop_key(&self) -> Option<&crate::DpopKey> {
        self.client.dpop.as_ref().map(|dpop| &dpop.key)
    }

    #[cfg(feature = "dpop")]
    fn proof(
        &self,
        method: &http::Method,
        url: &str,
        token: &AccessToken,
    ) -> Result<http::HeaderValue, Error> {
        let dpop = self.client.dpop.as_ref().ok_or_else(no_key)?;
        if clientcreds_jwt::dpop::normalize_url(url).is_none() {
            return Err(Error::Dpop(
                "the request URL is not an absolute http(s) URL; a proof needs it as htu".into(),
            ));
        }
        dpop.proof_for(
            method.as_str(),
            url,
            Some(token.expose_secret()),
            self.client.clock.now(),
        )
    }

    #[cfg(not(feature = "dpop"))]
    #[allow(clippy::unused_self)]
    fn proof(
        &self,
        _method: &http::Method,
        _url: &str,
        _token: &AccessToken,
    ) -> Result<http::HeaderValue, Error> {
        Err(no_key())
    }

    /// Remembers a `DPoP-Nonce` from `url`'s origin; whether there was one.
    fn observe_nonce(&self, url: &str, headers: &http::HeaderMap) -> bool {
        #[cfg(feature = "dpop")]
        if let Some(dpop) = &self.client.dpop {
            return dpop.observe(url, headers);
        }
        let _ = (url, headers);
        false
    }
}

fn no_key() -> Error {
    Error::Dpop("a DPoP-bound token, but the client has no DPoP key".into())
}
