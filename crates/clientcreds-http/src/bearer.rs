//! The resource side (RFC 6750): bearer extraction and challenges.

use clientcreds_jwt::{InsufficientScope, VerifyError};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::token::{json_response, quote_safe};

/// Why a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
/// use clientcreds_http::{BearerError, bearer_token};
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

/// An RFC 6750 §3.1 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerChallenge {
    /// No credentials: 401, no error code.
    Missing,
    /// 400 `invalid_request`.
    InvalidRequest,
    /// 401 `invalid_token`, with the verifier's reason as description.
    InvalidToken(VerifyError),
    /// 403 `insufficient_scope`, naming the scope required.
    InsufficientScope(InsufficientScope),
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
    fn from(error: VerifyError) -> Self {
        Self::InvalidToken(error)
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
        }
    }

    /// The `WWW-Authenticate: Bearer` value, with `realm`, `error`,
    /// `error_description` and `scope` as RFC 6750 §3 defines them.
    #[must_use]
    pub fn www_authenticate(&self, realm: &str) -> String {
        let mut value = format!("Bearer realm=\"{}\"", quote_safe(realm));
        let (error, description, scope) = match self {
            Self::Missing => return value,
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

    /// The full response: status, challenge, and a small JSON body.
    #[must_use]
    pub fn response(&self, realm: &str) -> Response<String> {
        let code = match self {
            Self::Missing => "unauthorized",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
        };
        let mut response = json_response(
            self.status(),
            serde_json::json!({ "error": code }).to_string(),
        );
        if let Ok(value) = HeaderValue::from_str(&self.www_authenticate(realm)) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}
