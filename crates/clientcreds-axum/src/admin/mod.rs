//! The admin API: a tenant's clients, their audit trail and token
//! activity, expiry warnings, and (platform admins only) the signing keys.
//! `docs/ADMIN_API.md` shows every call.
//!
//! | method and path (under the mount point) | what |
//! |---|---|
//! | `POST /tenants/{tenant}/clients` | create ([`CreateClient`]); 201 with `client_secret`, once |
//! | `GET /tenants/{tenant}/clients` | list ([`ListParams`]: `status`, `q`, `owner`, `cursor`, `limit`) |
//! | `GET /tenants/{tenant}/clients/{id}` | one client, `ETag: "<version>"` |
//! | `PATCH /tenants/{tenant}/clients/{id}` | change ([`UpdateClient`]); `If-Match` makes it conditional (412) |
//! | `DELETE /tenants/{tenant}/clients/{id}` | delete (204) |
//! | `POST /tenants/{tenant}/clients/{id}/rotate` | rotate ([`RotateClient`]: `mode`, `grace_seconds`) |
//! | `POST /tenants/{tenant}/clients/{id}/end-grace` | close the grace window now |
//! | `POST /tenants/{tenant}/clients/{id}/revoke` | revoke (terminal) |
//! | `POST /tenants/{tenant}/clients/{id}/keys` | add a public key ([`AddClientKey`]); 201 with `kid` |
//! | `DELETE /tenants/{tenant}/clients/{id}/keys/{kid}` | remove a key |
//! | `POST /tenants/{tenant}/clients/{id}/federated-credentials` | add one ([`AddFederatedCredential`]); 201 with `id` |
//! | `DELETE /tenants/{tenant}/clients/{id}/federated-credentials/{fc}` | remove one |
//! | `PUT /tenants/{tenant}/clients/{id}/jwks-uri` | set or clear `jwks_uri` ([`SetJwksUri`]) |
//! | `GET /tenants/{tenant}/clients/{id}/activity` | the client's refusal entries, one per reason per minute ([`PageParams`]) |
//! | `GET /tenants/{tenant}/clients/{id}/activity/counts` | the client's tokens issued and refused per secret, source and minute ([`CountParams`]) |
//! | `GET /tenants/{tenant}/clients/{id}/warnings` | its expiry warnings (with a ledger) |
//! | `GET /tenants/{tenant}/audit` | the tenant's audit trail ([`PageParams`]) |
//! | `GET /tenants/{tenant}/activity` | the tenant's refusal entries ([`PageParams`]) |
//! | `GET /tenants/{tenant}/activity/counts` | the tenant's activity counts ([`CountParams`]) |
//! | `GET /signing-keys` | the signing keys' schedule (with a key manager) |
//! | `POST /signing-keys/rotate` | publish the next key now |
//! | `POST /signing-keys/{kid}/withdraw` | withdraw a compromised key |
//!
//! Every answer carries `Cache-Control: no-store`; every 4xx carries
//! [`ErrorBody`](crate::ErrorBody). Failed administrator authentications
//! go through a failure throttle keyed by the caller's address (see
//! [`AdminApi::with_throttle`]): 429 with `Retry-After` past its limits.

mod body;
mod clients;
mod credentials;
mod json;
mod keys;
mod lifecycle;
mod logs;

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clientcreds_registry::{Actor, AuthThrottle, KeyManager, MemoryThrottle, Registry};
use clientcreds_store::{TenantId, WarningLedger};
use serde::de::DeserializeOwned;

pub use body::{
    AddClientKey, AddFederatedCredential, CountParams, CreateClient, DEFAULT_LOG_PAGE, ListParams,
    PageParams, RotateClient, SetJwksUri, UpdateClient,
};
pub use json::{
    ActivityCountJson, ActivityJson, AuditJson, ClientJson, CountsJson, KeyJson, Page, SecretJson,
    expires_at, state_name, status_name,
};

use crate::proxy::{ClientAddress, SourceFinder};
use crate::{AdminAuth, Error, TrustedProxies};

/// The largest admin request body by default (64 KiB): a client's fields
/// fit many times over.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// The admin API over a [`Registry`], behind the host's [`AdminAuth`].
///
/// ```
/// # use std::sync::Arc;
/// # use clientcreds_registry::{Actor, Policy, Registry};
/// # use clientcreds_secret::{PepperKey, SecretHasher};
/// # use clientcreds_store::MemoryStore;
/// use clientcreds_axum::{AdminApi, BearerTokens};
///
/// # let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
/// let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default())?);
/// let admins = BearerTokens::new()?.with("root-token", Actor::platform_admin("root"));
/// let app: axum::Router = axum::Router::new()
///     .nest("/internal/admin", AdminApi::new(registry, admins).router());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AdminApi {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    registry: Arc<Registry>,
    auth: Arc<dyn AdminAuth>,
    key_manager: Option<Arc<KeyManager>>,
    ledger: Option<Arc<dyn WarningLedger>>,
    max_body: usize,
    sources: SourceFinder,
    throttle: Arc<dyn AuthThrottle>,
    /// Keys the throttle's per-credential counters: presented credentials
    /// are never handed to the throttle, only a keyed hash under this
    /// router's random key.
    tags: RandomState,
}

impl AdminApi {
    /// The client routes over `registry`, for the administrators `auth`
    /// recognises, behind a [`MemoryThrottle`] with its default limits
    /// for failed authentications.
    #[must_use]
    pub fn new(registry: Arc<Registry>, auth: impl AdminAuth) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                auth: Arc::new(auth),
                key_manager: None,
                ledger: None,
                max_body: DEFAULT_MAX_BODY,
                sources: SourceFinder::default(),
                throttle: Arc::new(MemoryThrottle::default()),
                tags: RandomState::new(),
            }),
        }
    }

    /// Replaces the failure throttle of administrator authentication
    /// (default: a [`MemoryThrottle`] with its default limits).
    ///
    /// Before the host's [`AdminAuth`] runs, the throttle admits the
    /// request by (presented credentials, source) and by source; a refusal
    /// is 429 with `Retry-After`. Each 401 counts as a failure. The
    /// credentials (the `Authorization` header, else `Cookie`) reach the
    /// throttle only as a keyed hash under a key made for this router. So:
    /// one source guessing tokens is stopped after
    /// [`ThrottleLimits::per_source`](clientcreds_registry::ThrottleLimits::per_source)
    /// failures, and an administrator whose token worked from an address
    /// is not slowed there by others' failures.
    #[must_use]
    pub fn with_throttle(mut self, throttle: Arc<dyn AuthThrottle>) -> Self {
        Arc::make_mut(&mut self.inner).throttle = throttle;
        self
    }

    /// Believes the forwarding header of these proxies when finding the
    /// caller's address for the throttle, as
    /// [`OAuthRoutes::with_trusted_proxies`](crate::OAuthRoutes::with_trusted_proxies)
    /// does.
    #[must_use]
    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        Arc::make_mut(&mut self.inner).sources = SourceFinder::proxies(proxies);
        self
    }

    /// Finds the caller's address with the host's own function, as
    /// [`OAuthRoutes::with_client_address`](crate::OAuthRoutes::with_client_address)
    /// does.
    #[must_use]
    pub fn with_client_address(mut self, find: ClientAddress) -> Self {
        Arc::make_mut(&mut self.inner).sources = SourceFinder::Custom(find);
        self
    }

    /// Adds the signing-key routes (platform admins only).
    #[must_use]
    pub fn with_key_manager(mut self, manager: Arc<KeyManager>) -> Self {
        Arc::make_mut(&mut self.inner).key_manager = Some(manager);
        self
    }

    /// Adds `GET .../clients/{id}/warnings`: the expiry warnings recorded
    /// for a client.
    #[must_use]
    pub fn with_warning_ledger(mut self, ledger: Arc<dyn WarningLedger>) -> Self {
        Arc::make_mut(&mut self.inner).ledger = Some(ledger);
        self
    }

    /// Refuses bodies larger than `bytes` with 413.
    #[must_use]
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).max_body = bytes;
        self
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The routes, to mount under any prefix with [`Router::nest`].
    pub fn router(&self) -> Router {
        let client = "/tenants/{tenant}/clients/{client_id}";
        let mut router = Router::new()
            .route(
                "/tenants/{tenant}/clients",
                post(clients::create).get(clients::list),
            )
            .route(
                client,
                get(clients::get)
                    .patch(clients::update)
                    .delete(clients::delete),
            )
            .route(&format!("{client}/rotate"), post(lifecycle::rotate))
            .route(&format!("{client}/end-grace"), post(lifecycle::end_grace))
            .route(&format!("{client}/revoke"), post(lifecycle::revoke))
            .route(&format!("{client}/keys"), post(credentials::add_key))
            .route(
                &format!("{client}/keys/{{kid}}"),
                axum::routing::delete(credentials::remove_key),
            )
            .route(
                &format!("{client}/federated-credentials"),
                post(credentials::add_federated),
            )
            .route(
                &format!("{client}/federated-credentials/{{id}}"),
                axum::routing::delete(credentials::remove_federated),
            )
            .route(
                &format!("{client}/jwks-uri"),
                axum::routing::put(credentials::set_jwks_uri),
            )
            .route(&format!("{client}/activity"), get(logs::client_activity))
            .route(
                &format!("{client}/activity/counts"),
                get(logs::client_counts),
            )
            .route(
                "/tenants/{tenant}/activity/counts",
                get(logs::tenant_counts),
            )
            .route("/tenants/{tenant}/audit", get(logs::audit))
            .route("/tenants/{tenant}/activity", get(logs::tenant_activity));
        if self.inner.ledger.is_some() {
            router = router.route(&format!("{client}/warnings"), get(logs::warnings));
        }
        if self.inner.key_manager.is_some() {
            router = router
                .route("/signing-keys", get(keys::list))
                .route("/signing-keys/rotate", post(keys::rotate))
                .route("/signing-keys/{kid}/withdraw", post(keys::withdraw));
        }
        let limit = self.inner.max_body;
        router
            .fallback(|| async { Error::NotFound })
            .layer(middleware::map_response(move |response| {
                json_errors(response, limit)
            }))
            .layer(DefaultBodyLimit::max(limit))
            .with_state(self.clone())
    }
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi")
            .field("signing_keys", &self.inner.key_manager.is_some())
            .field("warnings", &self.inner.ledger.is_some())
            .field("max_body", &self.inner.max_body)
            .finish_non_exhaustive()
    }
}

/// The administrator behind a request, as the host's [`AdminAuth`] says
/// (401 otherwise).
#[derive(Debug, Clone)]
pub struct Admin(pub Actor);

impl FromRequestParts<AdminApi> for Admin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, api: &AdminApi) -> Result<Self, Error> {
        let inner = &api.inner;
        let source = inner.sources.find(parts);
        let key = inner.credential_key(parts);
        let now = inner.registry.clock().now();
        if let Err(wait) = inner.throttle.admit(&key, source, now) {
            let retry_after_secs = u32::try_from(wait.whole_seconds().max(1)).unwrap_or(u32::MAX);
            return Err(Error::TooManyRequests { retry_after_secs });
        }
        if let Some(actor) = inner.auth.actor(parts).await {
            inner.throttle.succeeded(&key, source, now);
            Ok(Admin(actor))
        } else {
            inner.throttle.failed(&key, source, now);
            Err(Error::Unauthorized)
        }
    }
}

impl Inner {
    /// What the throttle keys a request's credentials by: a keyed hash of the
    /// `Authorization` header (else `Cookie`, else nothing), never the
    /// credentials themselves.
    fn credential_key(&self, parts: &Parts) -> String {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .or_else(|| parts.headers.get(header::COOKIE))
            .map_or(&[][..], HeaderValue::as_bytes);
        format!("admin:{:016x}", self.tags.hash_one(presented))
    }
}

/// Query parameters, refused with the admin API's error body.
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(params)| Params(params))
            .map_err(|rejection: QueryRejection| Error::BadRequest {
                field: None,
                reason: rejection.body_text(),
            })
    }
}

/// The tenant of a path: 404 for an id that cannot exist.
pub(crate) fn tenant(id: &str) -> Result<TenantId, Error> {
    TenantId::new(id).map_err(|_| Error::NotFound)
}

/// A JSON body; an empty body is `T::default()`.
pub(crate) fn parse_json<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| Error::BadRequest {
        field: None,
        reason: format!("the body is not the expected JSON: {e}"),
    })
}

/// The version an `If-Match` header names (`"7"`, `W/"7"` or `7`).
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Error> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| {
        Error::bad_request(
            "If-Match",
            "must be the client's version as its ETag gives it",
        )
    })
}

/// A client as JSON with its `ETag`.
pub(crate) fn client_response(status: StatusCode, json: &ClientJson) -> Response {
    with_etag((status, Json(json)).into_response(), json.version)
}

/// `response` with `ETag: "<version>"`.
pub(crate) fn with_etag(mut response: Response, version: u64) -> Response {
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Every answer: `Cache-Control: no-store` (some carry a plaintext
/// secret); every 4xx that is not already JSON (axum's own rejections:
/// a body too large, a path that does not parse, a wrong method) is
/// rewritten into the one error body.
async fn json_errors(response: Response, limit: usize) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let mut response = if status.is_client_error() && !is_json {
        let error = match status {
            StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge { limit },
            StatusCode::NOT_FOUND => Error::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Error::MethodNotAllowed,
            StatusCode::UNAUTHORIZED => Error::Unauthorized,
            _ => Error::BadRequest {
                field: None,
                reason: body_text(response).await,
            },
        };
        let mut rewritten = error.into_response();
        // Keep 4xx codes that the enum has no variant for (e.g. 415).
        if rewritten.status() == StatusCode::BAD_REQUEST {
            *rewritten.status_mut() = status;
        }
        rewritten
    } else {
        response
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// At most 200 bytes of an axum rejection's text.
async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(Body::new(response.into_body()), 4096)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).chars().take(200).collect()
}
