//! The resource side (RFC 6750): bearer extraction and challenges.

use clientcreds_jwt::{Algorithm, InsufficientScope, VerifyError};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::dpop::{DPOP_NONCE_HEADER, DpopRefusal};
use crate::{Credentials, Error, Scheme, Schemes, access_token};

/// Why a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerError {
    /// No `Authorization` header, or another scheme: 401 without an error code.
    Missing,
    /// More than one `Authorization` header, or a value that is not
    /// `Bearer <one token68>` (or `DPoP <one token68>`): 400
    /// `invalid_request`.
    Malformed,
}

/// The bearer token of a request: exactly one `Authorization` header,
/// scheme `Bearer` in any case, one token of RFC 6750's `b64token` syntax.
///
/// # Errors
/// [`BearerError::Missing`] or [`BearerError::Malformed`].
///
/// ```
/// use clientcreds_resource::{BearerError, bearer_token};
/// let mut headers = http::HeaderMap::new();
/// assert_eq!(bearer_token(&headers), Err(BearerError::Missing));
/// headers.insert("authorization", "bearer abc.def-ghi_jk".parse().unwrap());
/// assert_eq!(bearer_token(&headers), Ok("abc.def-ghi_jk"));
/// headers.insert("authorization", "Bearer two tokens".parse().unwrap());
/// assert_eq!(bearer_token(&headers), Err(BearerError::Malformed));
/// ```
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    match access_token(headers)? {
        Credentials {
            scheme: Scheme::Bearer,
            token,
        } => Ok(token),
        _ => Err(BearerError::Missing),
    }
}

/// An RFC 6750 §3.1 error, or the resource server's own outage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerChallenge {
    /// No credentials: 401, no error code.
    Missing,
    /// 400 `invalid_request`.
    InvalidRequest,
    /// 401 `invalid_token`, with the verifier's reason as description.
    InvalidToken(VerifyError),
    /// 403 `insufficient_scope`, naming the scope required.
    InsufficientScope(InsufficientScope),
    /// 503: the token could not be checked because no usable key set could
    /// be had (see [`Error::KeysUnavailable`]), or the opt-in live check
    /// could not reach the client store
    /// ([`VerifyError::CheckUnavailable`]). The token is refused (fail
    /// closed), but it is not the caller's fault, so no `invalid_token`:
    /// a client should retry later rather than fetch a new token.
    Unavailable,
    /// The request's DPoP, or its absence, was refused: 401 with the code
    /// of [`DpopRefusal::error_code`], or 503 for
    /// [`DpopRefusal::ReplayUnavailable`].
    Dpop(DpopRefusal),
}

impl From<DpopRefusal> for BearerChallenge {
    fn from(refusal: DpopRefusal) -> Self {
        Self::Dpop(refusal)
    }
}

impl From<BearerError> for BearerChallenge {
    fn from(error: BearerError) -> Self {
        match error {
            BearerError::Missing => Self::Missing,
            BearerError::Malformed => Self::InvalidRequest,
        }
    }
}

impl From<VerifyError> for BearerChallenge {
    /// 401 `invalid_token`, except [`VerifyError::CheckUnavailable`] (an
    /// outage of the live check, not the token's fault): 503.
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::CheckUnavailable => Self::Unavailable,
            other => Self::InvalidToken(other),
        }
    }
}

impl From<Error> for BearerChallenge {
    fn from(error: Error) -> Self {
        match error {
            Error::Token(reason) => Self::from(reason),
            _ => Self::Unavailable,
        }
    }
}

impl From<InsufficientScope> for BearerChallenge {
    fn from(error: InsufficientScope) -> Self {
        Self::InsufficientScope(error)
    }
}

impl BearerChallenge {
    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::Unavailable | Self::Dpop(DpopRefusal::ReplayUnavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Dpop(_) => StatusCode::UNAUTHORIZED,
        }
    }

    /// Whether the answer is the server's outage (503: no challenge).
    fn is_unavailable(&self) -> bool {
        self.status() == StatusCode::SERVICE_UNAVAILABLE
    }

    /// The error code, its description and the scope of the challenge
    /// (`None` without an error code).
    fn error(&self) -> Option<(&'static str, String, Option<String>)> {
        match self {
            Self::Missing | Self::Unavailable => None,
            Self::InvalidRequest => Some((
                "invalid_request",
                "malformed Authorization header".to_owned(),
                None,
            )),
            Self::InvalidToken(reason) => Some(("invalid_token", reason.to_string(), None)),
            Self::InsufficientScope(missing) => Some((
                "insufficient_scope",
                missing.to_string(),
                Some(missing.required.clone()),
            )),
            Self::Dpop(refusal) => refusal
                .error_code()
                .map(|code| (code, refusal.to_string(), None)),
        }
    }

    /// Whether the error belongs to the `DPoP` challenge whatever the
    /// scheme the request used (`invalid_dpop_proof`, `use_dpop_nonce`).
    fn dpop_only(&self) -> bool {
        matches!(
            self.error(),
            Some(("invalid_dpop_proof" | "use_dpop_nonce", _, _))
        )
    }

    /// The `WWW-Authenticate` values for a resource configured as
    /// `options` says, most relevant first: the scheme the request used
    /// (under [`Schemes::Both`], `Bearer` first when it used none), with
    /// the error on the challenge it belongs to, `algs` on the `DPoP`
    /// one, and `resource_metadata` (RFC 9728 §5.1) on each. Empty for a
    /// 503.
    #[must_use]
    pub fn challenges(&self, options: &ChallengeOptions<'_>) -> Vec<String> {
        if self.is_unavailable() {
            return Vec::new();
        }
        let mut order: Vec<Scheme> = match options.schemes {
            Schemes::BearerOnly => vec![Scheme::Bearer],
            Schemes::DpopOnly => vec![Scheme::Dpop],
            _ if options.used == Some(Scheme::Dpop) || self.dpop_only() => {
                vec![Scheme::Dpop, Scheme::Bearer]
            }
            _ => vec![Scheme::Bearer, Scheme::Dpop],
        };
        if self.dpop_only() && !order.contains(&Scheme::Dpop) {
            order.insert(0, Scheme::Dpop);
        }
        // The error goes on the first challenge: the scheme used, or the
        // only one it can belong to.
        let error = self.error();
        order
            .iter()
            .enumerate()
            .map(|(i, scheme)| {
                let mut value = format!(
                    "{} realm=\"{}\"",
                    scheme.as_str(),
                    quote_safe(options.realm)
                );
                if *scheme == Scheme::Dpop {
                    let algs: Vec<&str> = options.algorithms.iter().map(|a| a.name()).collect();
                    value.push_str(&format!(", algs=\"{}\"", algs.join(" ")));
                }
                if let (0, Some((code, description, scope))) = (i, &error) {
                    value.push_str(&format!(
                        ", error=\"{code}\", error_description=\"{}\"",
                        quote_safe(description)
                    ));
                    if let Some(scope) = scope {
                        value.push_str(&format!(", scope=\"{}\"", quote_safe(scope)));
                    }
                }
                if let Some(url) = options.resource_metadata {
                    value.push_str(&format!(", resource_metadata=\"{}\"", quote_safe(url)));
                }
                value
            })
            .collect()
    }

    /// The full response for a resource configured as `options` says:
    /// status, the [`BearerChallenge::challenges`] (one `WWW-Authenticate`
    /// field each), `DPoP-Nonce` for `use_dpop_nonce`, and a small JSON
    /// body (503: `Retry-After`, no challenge).
    #[must_use]
    pub fn response_with(&self, options: &ChallengeOptions<'_>) -> Response<String> {
        let mut response = json_response(
            self.status(),
            serde_json::json!({ "error": self.code() }).to_string(),
        );
        let headers = response.headers_mut();
        if self.is_unavailable() {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("5"));
            return response;
        }
        for value in self.challenges(options) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(WWW_AUTHENTICATE, value);
            }
        }
        if let Self::Dpop(DpopRefusal::UseNonce(nonce)) = self
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            headers.insert(DPOP_NONCE_HEADER, value);
        }
        response
    }

    /// The body's `error`.
    fn code(&self) -> &'static str {
        match self {
            Self::Missing => "unauthorized",
            Self::Unavailable => "temporarily_unavailable",
            other => other
                .error()
                .map_or("temporarily_unavailable", |(code, _, _)| code),
        }
    }

    /// The `WWW-Authenticate: Bearer` value, with `realm`, `error`,
    /// `error_description` and `scope` as RFC 6750 §3 defines them
    /// ([`BearerChallenge::Unavailable`]: the realm only). For a resource
    /// that accepts `DPoP` too, see [`BearerChallenge::challenges`].
    #[must_use]
    pub fn www_authenticate(&self, realm: &str) -> String {
        let mut value = format!("Bearer realm=\"{}\"", quote_safe(realm));
        if let Some((error, description, scope)) = self.error() {
            value.push_str(&format!(
                ", error=\"{error}\", error_description=\"{}\"",
                quote_safe(&description)
            ));
            if let Some(scope) = scope {
                value.push_str(&format!(", scope=\"{}\"", quote_safe(&scope)));
            }
        }
        value
    }

    /// The full response of a `Bearer`-only resource: status, challenge,
    /// and a small JSON body ([`BearerChallenge::Unavailable`]:
    /// `Retry-After`, no challenge).
    #[must_use]
    pub fn response(&self, realm: &str) -> Response<String> {
        self.response_with(&ChallengeOptions::bearer(realm))
    }
}

/// What a resource's challenges say besides the error: its realm, the
/// schemes it accepts, the one the request used, the proof algorithms,
/// and where its RFC 9728 metadata is.
#[derive(Debug, Clone, Copy)]
pub struct ChallengeOptions<'a> {
    /// The `realm` of every challenge.
    pub realm: &'a str,
    /// The schemes the resource accepts: one challenge each.
    pub schemes: Schemes,
    /// The scheme the request used, if any: its challenge comes first.
    pub used: Option<Scheme>,
    /// The `algs` of the `DPoP` challenge.
    pub algorithms: &'a [Algorithm],
    /// The URL of the resource's metadata (RFC 9728 `resource_metadata`).
    pub resource_metadata: Option<&'a str>,
}

impl<'a> ChallengeOptions<'a> {
    /// A `Bearer`-only resource with `realm` and no metadata.
    #[must_use]
    pub const fn bearer(realm: &'a str) -> Self {
        Self {
            realm,
            schemes: Schemes::BearerOnly,
            used: None,
            algorithms: &[],
            resource_metadata: None,
        }
    }
}

/// A JSON response with the RFC 6749 §5.1 caching headers.
fn json_response(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Drops characters that cannot appear inside a quoted header parameter.
fn quote_safe(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
        .collect()
}
