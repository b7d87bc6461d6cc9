//! The admin API: clients of a tenant, their audit trail, and (platform
//! admins only) the signing keys. Every response carries `Cache-Control:
//! no-store` (see `Server::router`): some carry a plaintext secret.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use clientcreds_registry::{
    Actor, ClientUpdate, Error as RegistryError, ListQuery, NewClient, RotateOptions, RotationMode,
};
use clientcreds_store::{ClientStatus, StatusFilter, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Server;

/// An admin API failure as a JSON response.
pub(crate) struct ApiError(StatusCode, Value);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::NotFound => Self(StatusCode::NOT_FOUND, json!({ "error": "not_found" })),
            RegistryError::Invalid { field, reason } => Self(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": "invalid", "field": field, "reason": reason }),
            ),
            RegistryError::Revoked => Self(StatusCode::CONFLICT, json!({ "error": "revoked" })),
            RegistryError::AlreadyReplaced { replaced_by } => Self(
                StatusCode::CONFLICT,
                json!({ "error": "already_replaced", "replaced_by": replaced_by }),
            ),
            RegistryError::NoGraceWindow => {
                Self(StatusCode::CONFLICT, json!({ "error": "no_grace_window" }))
            }
            RegistryError::Conflict => Self(StatusCode::CONFLICT, json!({ "error": "conflict" })),
            other => {
                tracing::error!(error = %other, "admin operation failed");
                Self(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": "unavailable" }),
                )
            }
        }
    }
}

fn bad_request(field: &str, reason: &str) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        json!({ "error": "invalid", "field": field, "reason": reason }),
    )
}

/// The admin behind the `Authorization: Bearer` token, and the tenant of
/// the path; 401 for anyone else (including holders of access tokens),
/// 404 for a tenant id that cannot exist.
fn admin(
    server: &Server,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<(Actor, TenantId), ApiError> {
    let unauthorized = || ApiError(StatusCode::UNAUTHORIZED, json!({ "error": "unauthorized" }));
    let presented = clientcreds_resource::bearer_token(headers).map_err(|_| unauthorized())?;
    let actor = server.admin_actor(presented).ok_or_else(unauthorized)?;
    let tenant = TenantId::new(tenant)
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, json!({ "error": "not_found" })))?;
    Ok((actor, tenant))
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(body: &Bytes) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            json!({ "error": "invalid_json", "reason": e.to_string() }),
        )
    })
}

fn view_json(view: &clientcreds_registry::ClientView) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

fn issued_json(issued: &clientcreds_registry::Issued) -> Value {
    let mut body = view_json(&issued.client);
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "client_id".into(),
            issued.credentials.client_id.clone().into(),
        );
        map.insert(
            "client_secret".into(),
            issued.credentials.client_secret.expose_secret().into(),
        );
    }
    body
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    audiences: Vec<String>,
    owner: Option<String>,
    secret_ttl_seconds: Option<i64>,
}

pub(crate) async fn create_client(
    State(server): State<Server>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    let body: CreateBody = parse_json(&body)?;
    let mut new = NewClient::named(
        body.name
            .ok_or_else(|| bad_request("name", "is required"))?,
    )
    .with_description(body.description)
    .with_scopes(body.scopes)
    .with_audiences(body.audiences);
    if let Some(owner) = body.owner {
        new = new.with_owner(owner);
    }
    if let Some(ttl) = body.secret_ttl_seconds {
        new = new.with_secret_lifetime(clientcreds_registry::SecretLifetime::After(
            time::Duration::seconds(ttl),
        ));
    }
    let issued = server.inner.registry.create(&actor, &tenant, new).await?;
    Ok((StatusCode::CREATED, Json(issued_json(&issued))).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ListParams {
    status: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

pub(crate) async fn list_clients(
    State(server): State<Server>,
    Path(tenant): Path<String>,
    Query(params): Query<ListParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    let mut query = ListQuery::default();
    if let Some(status) = params.status.as_deref() {
        query = query.status(match status {
            "active" => StatusFilter::Active,
            "inactive" => StatusFilter::Inactive,
            "revoked" => StatusFilter::Revoked,
            "expiring" => StatusFilter::Expiring,
            "expired" => StatusFilter::Expired,
            _ => {
                return Err(bad_request(
                    "status",
                    "must be active, inactive, revoked, expiring or expired",
                ));
            }
        });
    }
    if let Some(q) = params.q {
        query = query.search(q);
    }
    if let Some(cursor) = params.cursor {
        query = query.cursor(cursor);
    }
    if let Some(limit) = params.limit {
        query = query.limit(limit);
    }
    let page = server.inner.registry.list(&actor, &tenant, query).await?;
    Ok(Json(
        json!({ "clients": page.clients, "next_cursor": page.next_cursor }),
    ))
}

pub(crate) async fn get_client(
    State(server): State<Server>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    Ok(Json(view_json(
        &server
            .inner
            .registry
            .get(&actor, &tenant, &client_id)
            .await?,
    )))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    name: Option<String>,
    description: Option<String>,
    scopes: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    status: Option<String>,
}

pub(crate) async fn update_client(
    State(server): State<Server>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    let body: UpdateBody = parse_json(&body)?;
    let mut update = ClientUpdate::default();
    update.name = body.name;
    update.description = body.description;
    update.scopes = body.scopes;
    update.audiences = body.audiences;
    update.status = match body.status.as_deref() {
        None => None,
        Some("active") => Some(ClientStatus::Active),
        Some("inactive") => Some(ClientStatus::Inactive),
        Some(_) => {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": "invalid", "field": "status", "reason": "must be active or inactive" }),
            ));
        }
    };
    Ok(Json(view_json(
        &server
            .inner
            .registry
            .update(&actor, &tenant, &client_id, update)
            .await?,
    )))
}

pub(crate) async fn delete_client(
    State(server): State<Server>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    server
        .inner
        .registry
        .delete(&actor, &tenant, &client_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateBody {
    mode: Option<String>,
    grace_seconds: Option<i64>,
}

pub(crate) async fn rotate_client(
    State(server): State<Server>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    let body: RotateBody = parse_json(&body)?;
    let mut options = RotateOptions::default();
    match body.mode.as_deref() {
        None => {}
        Some("secret") => options = options.mode(RotationMode::ReplaceSecret),
        Some("client") => options = options.mode(RotationMode::ReplaceClient),
        Some(_) => {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "error": "invalid", "field": "mode", "reason": "must be secret or client" }),
            ));
        }
    }
    if let Some(grace) = body.grace_seconds {
        options = options.grace(time::Duration::seconds(grace));
    }
    let issued = server
        .inner
        .registry
        .rotate(&actor, &tenant, &client_id, options)
        .await?;
    Ok(Json(issued_json(&issued)))
}

pub(crate) async fn end_grace(
    State(server): State<Server>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    Ok(Json(view_json(
        &server
            .inner
            .registry
            .end_grace(&actor, &tenant, &client_id)
            .await?,
    )))
}

pub(crate) async fn revoke_client(
    State(server): State<Server>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    Ok(Json(view_json(
        &server
            .inner
            .registry
            .revoke(&actor, &tenant, &client_id)
            .await?,
    )))
}

#[derive(Deserialize)]
pub(crate) struct AuditParams {
    client_id: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

pub(crate) async fn audit(
    State(server): State<Server>,
    Path(tenant): Path<String>,
    Query(params): Query<AuditParams>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    let records = server
        .inner
        .registry
        .audit(
            &actor,
            &tenant,
            params.client_id.as_deref(),
            params.after,
            params.limit.unwrap_or(100),
        )
        .await?;
    Ok(Json(json!({ "records": records })))
}

/// The platform admin behind the `Authorization: Bearer` token: 401 for an
/// unknown token, 403 for a tenant admin.
fn platform_admin(server: &Server, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let unauthorized = || ApiError(StatusCode::UNAUTHORIZED, json!({ "error": "unauthorized" }));
    let presented = clientcreds_resource::bearer_token(headers).map_err(|_| unauthorized())?;
    match server.admin_actor(presented) {
        Some(actor @ Actor::PlatformAdmin { .. }) => Ok(actor),
        Some(_) => Err(ApiError(
            StatusCode::FORBIDDEN,
            json!({ "error": "forbidden", "reason": "signing keys are managed by platform admins" }),
        )),
        None => Err(unauthorized()),
    }
}

fn key_json(key: &clientcreds_registry::KeyInfo) -> Value {
    json!({
        "kid": key.kid,
        "algorithm": key.algorithm.name(),
        "created_at": rfc3339(key.created_at),
        "publish_from": rfc3339(key.publish_from),
        "sign_from": rfc3339(key.sign_from),
        "sign_until": key.sign_until.map(rfc3339),
        "unpublish_after": key.unpublish_after.map(rfc3339),
        "signing": key.signing,
        "published": key.published,
    })
}

/// `GET /admin/v1/signing-keys`: every stored key's schedule (no key material).
pub(crate) async fn list_signing_keys(
    State(server): State<Server>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    platform_admin(&server, &headers)?;
    let keys = server.key_manager().keys().await?;
    Ok(Json(
        json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() }),
    ))
}

/// `POST /admin/v1/signing-keys/rotate`: publish the next key now; it
/// signs after the publish lead.
pub(crate) async fn rotate_signing_key(
    State(server): State<Server>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let actor = platform_admin(&server, &headers)?;
    let kid = server.key_manager().rotate_now().await?;
    tracing::info!(admin = actor.user_id(), %kid, "signing key rotation requested");
    Ok(Json(json!({ "next_kid": kid })))
}

/// `POST /admin/v1/signing-keys/{kid}/withdraw`: a compromised key leaves
/// the JWKS at once; its tokens stop verifying.
pub(crate) async fn withdraw_signing_key(
    State(server): State<Server>,
    Path(kid): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let actor = platform_admin(&server, &headers)?;
    server.key_manager().withdraw(&kid).await?;
    tracing::warn!(admin = actor.user_id(), %kid, "signing key withdrawn");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/v1/tenants/{tenant}/clients/{client_id}/warnings`: the
/// expiry warnings recorded for a client (sent, pending, undeliverable).
pub(crate) async fn client_warnings(
    State(server): State<Server>,
    Path((tenant, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let (actor, tenant) = admin(&server, &headers, &tenant)?;
    // Authorizes (tenancy) and 404s for an unknown client.
    let view = server
        .inner
        .registry
        .get(&actor, &tenant, &client_id)
        .await?;
    let records = server
        .inner
        .ledger
        .warnings(&tenant, &client_id)
        .await
        .map_err(RegistryError::from)?;
    let warnings: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "secret_id": r.key.secret_id,
                "stage_days": r.key.stage_days,
                "recipient": r.key.recipient,
                "state": r.state.as_str(),
                "attempts": r.attempts,
                "detail": r.detail,
                "updated_at": rfc3339(r.updated_at),
            })
        })
        .collect();
    let next: Vec<Value> = view
        .secrets
        .iter()
        .filter_map(|s| {
            s.next_warning_at
                .map(|t| json!({ "secret_id": s.secret_id, "next_warning_at": rfc3339(t) }))
        })
        .collect();
    Ok(Json(json!({ "warnings": warnings, "next": next })))
}

/// An instant as RFC 3339 text (empty for the unrepresentable).
fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
