//! What goes wrong on a console page, and the page that says so.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clientcreds_registry::Error as RegistryError;

/// Why a console page or action failed. Each answers with an HTML page
/// that names the problem in the administrator's terms, and the admin
/// API's status code for it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request names no administrator (the host's [`AdminAuth`]
    /// said `None`): 401.
    ///
    /// [`AdminAuth`]: clientcreds_axum::AdminAuth
    #[error("sign in as an administrator to use the console")]
    Unauthorized,
    /// A state change without this browser's CSRF token, or one the
    /// browser marks as cross-site: 403.
    #[error("refused: {reason}")]
    Forbidden {
        /// Why, for a person.
        reason: String,
    },
    /// No such tenant, client, key or page for this administrator: 404.
    /// Another tenant's client is "not found" too.
    #[error("not found: no such page, or no such client in this tenant")]
    NotFound,
    /// A form field that cannot be read: 400.
    #[error("the field `{field}` {reason}")]
    BadForm {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A create or rotate form submitted a second time (the browser's back
    /// or reload button): 409. The secret it made was shown once.
    #[error(
        "this form was already submitted: the secret it made was shown once and cannot be shown \
         again; rotate the client if the secret was not saved"
    )]
    FormReused,
    /// A value refused (422): by the registry, such as an empty name or a
    /// scope the tenant may not grant, or a CSRF key that is too short.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The client's state forbids the action (409): revoked, suspended,
    /// already replaced, no grace window, a limit reached, or a
    /// concurrent change.
    #[error("{reason}")]
    Conflict {
        /// Why, for a person.
        reason: String,
    },
    /// The store or the system's random source failed: 503 (the cause is
    /// logged, not shown).
    #[error("the console is unavailable (the store or the random source failed); try again")]
    Unavailable,
}

impl From<RegistryError> for Error {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::NotFound => Self::NotFound,
            RegistryError::Invalid { field, reason } => Self::Invalid {
                field: field.to_owned(),
                reason: reason.to_string(),
            },
            error @ (RegistryError::Revoked
            | RegistryError::Suspended
            | RegistryError::AlreadyReplaced { .. }
            | RegistryError::NoGraceWindow
            | RegistryError::LimitReached { .. }
            | RegistryError::Conflict) => Self::Conflict {
                reason: error.to_string(),
            },
            other => {
                tracing::error!(
                    error = &other as &dyn std::error::Error,
                    "console operation failed"
                );
                Self::Unavailable
            }
        }
    }
}

impl Error {
    /// The HTTP status of the page.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadForm { .. } => StatusCode::BAD_REQUEST,
            Self::FormReused => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub(crate) fn bad(field: &'static str, reason: impl Into<String>) -> Self {
        Self::BadForm {
            field,
            reason: reason.into(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        // The security layer wraps this body in the page shell when it can
        // (it knows the mount point); this is the message it shows.
        let mut response = (status, crate::layout::error_body(&self)).into_response();
        response
            .extensions_mut()
            .insert(ErrorPage(self.to_string()));
        response
    }
}

/// Marks a response as an error page (its message, for the shell).
#[derive(Debug, Clone)]
pub(crate) struct ErrorPage(pub(crate) String);
