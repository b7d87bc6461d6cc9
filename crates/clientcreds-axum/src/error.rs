//! The admin API's one error type and its one body shape.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clientcreds_registry::Error as RegistryError;
use serde::Serialize;

/// Why an admin request was refused, or why it could not be served.
///
/// Every variant answers with the same body, [`ErrorBody`]:
/// `{"error": <code>, "field": <name or null>, "reason": <text or null>}`.
///
/// ```
/// use axum::response::IntoResponse;
/// let response = clientcreds_axum::Error::invalid("name", "is required").into_response();
/// assert_eq!(response.status(), 422);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No credentials, or credentials that name no administrator (401).
    #[error("unauthorized: the request names no administrator")]
    Unauthorized,
    /// An administrator who may not do this (403): signing keys are for
    /// platform admins.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why.
        reason: String,
    },
    /// No such tenant, client, key or route for this administrator (404).
    #[error("not found")]
    NotFound,
    /// The method is not served at this path (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A body that is not JSON, or a query or field that cannot be read
    /// (400).
    #[error("bad request: {reason}")]
    BadRequest {
        /// The field or parameter, when one is to blame.
        field: Option<String>,
        /// Why.
        reason: String,
    },
    /// A well-formed value the registry refuses (422), such as an empty
    /// name or a scope with a space.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The client's state forbids the change (409): revoked, already
    /// replaced, no grace window, a quota reached, or a concurrent change.
    #[error("conflict ({code}): {reason}")]
    Conflict {
        /// `revoked`, `already_replaced`, `no_grace_window`,
        /// `limit_reached` (the reason names the limit and its value) or
        /// `conflict`.
        code: &'static str,
        /// Why.
        reason: String,
    },
    /// `If-Match` named another version than the client's (412).
    #[error("precondition failed: the client changed since the version in If-Match")]
    PreconditionFailed,
    /// Too many failed administrator authentications from this source
    /// (429, with `Retry-After`): the admin API's failure throttle.
    #[error("too many failed authentications; retry in {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds to wait.
        retry_after_secs: u32,
    },
    /// The body is larger than the router's limit (413).
    #[error("payload too large: at most {limit} bytes")]
    PayloadTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The store or the key manager failed (503); the cause is logged,
    /// not sent.
    #[error("unavailable")]
    Unavailable,
}

/// The body of every 4xx and 5xx answer of the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// A short machine-readable code (`invalid`, `not_found`, ...).
    pub error: String,
    /// The request field or parameter at fault, if one is.
    pub field: Option<String>,
    /// A sentence for a person.
    pub reason: Option<String>,
}

impl Error {
    /// A 422 for `field`.
    #[must_use]
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A 400 for `field`.
    #[must_use]
    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The body this error answers with.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        let (error, field, reason): (&str, Option<&str>, Option<String>) = match self {
            Self::Unauthorized => (
                "unauthorized",
                None,
                Some("send an administrator's credentials".into()),
            ),
            Self::Forbidden { reason } => ("forbidden", None, Some(reason.clone())),
            Self::NotFound => ("not_found", None, None),
            Self::MethodNotAllowed => ("method_not_allowed", None, None),
            Self::BadRequest { field, reason } => {
                ("bad_request", field.as_deref(), Some(reason.clone()))
            }
            Self::Invalid { field, reason } => ("invalid", Some(field), Some(reason.clone())),
            Self::Conflict { code, reason } => (code, None, Some(reason.clone())),
            Self::PreconditionFailed => (
                "precondition_failed",
                Some("If-Match"),
                Some("the client changed since that version; read it again".into()),
            ),
            Self::PayloadTooLarge { limit } => (
                "payload_too_large",
                None,
                Some(format!("the body may hold at most {limit} bytes")),
            ),
            Self::TooManyRequests { retry_after_secs } => (
                "too_many_requests",
                None,
                Some(format!(
                    "too many failed authentications from this address; retry in {retry_after_secs} seconds"
                )),
            ),
            Self::Unavailable => (
                "unavailable",
                None,
                Some("the store is unavailable; try again".into()),
            ),
        };
        ErrorBody {
            error: error.to_owned(),
            field: field.map(str::to_owned),
            reason,
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Self::TooManyRequests { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<RegistryError> for Error {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::NotFound => Self::NotFound,
            RegistryError::Invalid { field, reason } => Self::Invalid {
                field: json_field(field).to_owned(),
                reason: reason.to_string(),
            },
            RegistryError::Revoked => Self::Conflict {
                code: "revoked",
                reason: "the client is revoked; create a new one".into(),
            },
            RegistryError::AlreadyReplaced { replaced_by } => Self::Conflict {
                code: "already_replaced",
                reason: format!("the client was already replaced by {replaced_by}"),
            },
            RegistryError::NoGraceWindow => Self::Conflict {
                code: "no_grace_window",
                reason: "the client has no open grace window".into(),
            },
            RegistryError::Conflict => Self::Conflict {
                code: "conflict",
                reason: "the client changed concurrently; read it again".into(),
            },
            error @ RegistryError::LimitReached { .. } => Self::Conflict {
                code: "limit_reached",
                reason: error.to_string(),
            },
            other => {
                tracing::error!(
                    error = &other as &dyn std::error::Error,
                    "admin operation failed"
                );
                Self::Unavailable
            }
        }
    }
}

/// The JSON field of the admin API that a registry field is read from,
/// so that a 422 names the field the request sent (`grace_seconds`, not
/// the registry's `grace`).
fn json_field(registry_field: &'static str) -> &'static str {
    match registry_field {
        "grace" => "grace_seconds",
        "secret_lifetime" => "secret_lifetime_seconds",
        "token_lifetime" => "token_lifetime_seconds",
        other => other,
    }
}
