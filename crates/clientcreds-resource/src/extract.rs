//! The axum extractor (feature `axum`).

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use clientcreds_jwt::AccessContext;
use http::request::Parts;

use crate::BearerChallenge;

/// The [`AccessContext`] that [`BearerAuthLayer`](crate::BearerAuthLayer)
/// verified for this request, as a handler argument, whichever scheme the
/// token came with: a `Bearer` token, or a DPoP-bound one whose proof the
/// layer checked. The [`Scheme`](crate::Scheme) is in the extensions too
/// (`axum::Extension<Scheme>`), for a handler that treats them apart.
///
/// Without the layer on the route there is no context, and the request
/// is refused with a 401 challenge (fail closed), never let through.
///
/// ```
/// use axum::{Json, Router, routing::get};
/// use clientcreds_resource::{Access, BearerAuthLayer};
/// # use std::sync::Arc;
/// # use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenVerifier, Validation};
/// # let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
/// # let verifier = Arc::new(TokenVerifier::new(keys, Validation::new("https://auth.example.com", "https://api.example.com")));
///
/// async fn whoami(Access(context): Access) -> Json<String> {
///     Json(context.client_id)
/// }
///
/// let app: Router = Router::new()
///     .route("/whoami", get(whoami))
///     .layer(BearerAuthLayer::new(verifier).require_scope("read"));
/// # Ok::<(), clientcreds_jwt::KeyError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Access(pub AccessContext);

/// Why [`Access`] was refused: no verified context on the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NoAccessContext;

impl IntoResponse for NoAccessContext {
    fn into_response(self) -> Response {
        BearerChallenge::Missing
            .response("api")
            .map(axum::body::Body::from)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Access {
    type Rejection = NoAccessContext;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AccessContext>()
            .cloned()
            .map(Access)
            .ok_or(NoAccessContext)
    }
}
