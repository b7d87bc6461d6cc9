//! The pages, by concern: clients (list, create, detail, reveal), the
//! actions on a client, the logs (activity, audit, warnings), and the
//! platform admin's pages (tenant picker, signing keys).

pub(crate) mod actions;
pub(crate) mod clients;
pub(crate) mod logs;
pub(crate) mod platform;
mod reveal;

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use clientcreds_store::TenantId;

use crate::Error;
use crate::form::Form;

/// The tenant of a path: 404 for an id that cannot exist.
pub(crate) fn tenant(id: &str) -> Result<TenantId, Error> {
    TenantId::new(id).map_err(|_| Error::NotFound)
}

/// A `303 See Other` to `location` (never carrying a secret).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The query string's fields.
pub(crate) fn query(uri: &Uri) -> Form {
    Form::parse(&axum::body::Bytes::copy_from_slice(
        uri.query().unwrap_or_default().as_bytes(),
    ))
}

/// A path segment or query value, percent-encoded.
pub(crate) fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
