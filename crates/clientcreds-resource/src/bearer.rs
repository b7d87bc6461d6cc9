//! The resource side (RFC 6750): bearer extraction and challenges.

use clientcreds_jwt::{InsufficientScope, VerifyError};
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::Error;

/// Why a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerError {
    /// No `Authorization` header, or another scheme: 401 without an error code.
    Missing,
    /// More than one `Authorization` header, or a value that is not
    /// `Bearer <one token68>`: 400 `invalid_request`.
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
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            BearerError::Malformed
        } else {
            BearerError::Missing
        });
    };
    let text = value.to_str().map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let well_formed = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if well_formed {
        Ok(token)
    } else {
        Err(BearerError::Malformed)
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
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `WWW-Authenticate: Bearer` value, with `realm`, `error`,
    /// `error_description` and `scope` as RFC 6750 §3 defines them
    /// ([`BearerChallenge::Unavailable`]: the realm only).
    #[must_use]
    pub fn www_authenticate(&self, realm: &str) -> String {
        let mut value = format!("Bearer realm=\"{}\"", quote_safe(realm));
        let (error, description, scope) = match self {
            Self::Missing | Self::Unavailable => return value,
            Self::InvalidRequest => (
                "invalid_request",
                "malformed Authorization header".to_owned(),
                None,
            ),
            Self::InvalidToken(reason) => ("invalid_token", reason.to_string(), None),
            Self::InsufficientScope(missing) => (
                "insufficient_scope",
                missing.to_string(),
                Some(missing.required.clone()),
            ),
        };
        value.push_str(&format!(
            ", error=\"{error}\", error_description=\"{}\"",
            quote_safe(&description)
        ));
        if let Some(scope) = scope {
            value.push_str(&format!(", scope=\"{}\"", quote_safe(&scope)));
        }
        value
    }

    /// The full response: status, challenge, and a small JSON body
    /// ([`BearerChallenge::Unavailable`]: `Retry-After`, no challenge).
    #[must_use]
    pub fn response(&self, realm: &str) -> Response<String> {
        let code = match self {
            Self::Missing => "unauthorized",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::Unavailable => "temporarily_unavailable",
        };
        let mut response = json_response(
            self.status(),
            serde_json::json!({ "error": code }).to_string(),
        );
        if *self == Self::Unavailable {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("5"));
        } else if let Ok(value) = HeaderValue::from_str(&self.www_authenticate(realm)) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
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
