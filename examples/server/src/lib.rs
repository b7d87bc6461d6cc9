//! The reference server: every clientcreds crate assembled behind axum.
//!
//! [`Config::from_env`] reads the environment, [`Server::new`] builds the
//! parts, and [`Server::router`] is the axum app. `main.rs` serves it.

#![allow(clippy::missing_errors_doc)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clientcreds_http::{
    AuthorizationServerMetadata, ClientAuthMethod, TokenRequestParser, introspection_response,
    json_response, rejected_response, token_error_response, token_response,
};
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{
    Actor, ClientUpdate, Error as RegistryError, ListQuery, NewClient, Policy, Registry,
    RotateOptions, RotationMode, TokenService,
};
use clientcreds_resource::{Access, BearerAuthLayer};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{ClientStatus, MemoryStore, StatusFilter, Store, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

/// Largest request body the server reads (1 MiB); larger is 413.
pub const MAX_BODY: usize = 1024 * 1024;
const REALM: &str = "clientcreds";

/// Settings, from the environment or built by hand (tests).
#[derive(Clone)]
pub struct Config {
    /// Listen address (`CLIENTCREDS_ADDR`, default `127.0.0.1:8080`).
    pub addr: SocketAddr,
    /// `iss` (`CLIENTCREDS_ISSUER`, default `http://<addr>`).
    pub issuer: String,
    /// Audience of the demo API (`CLIENTCREDS_AUDIENCE`, default `<issuer>/api/v1`).
    pub audience: String,
    /// Platform admin token (`CLIENTCREDS_ROOT_TOKEN`).
    pub root_token: Option<String>,
    /// Tenant admins: `(tenant, token)` (`CLIENTCREDS_TENANT_ADMINS="t1:tok1,t2:tok2"`).
    pub tenant_admins: Vec<(TenantId, String)>,
    /// Pepper for secret hashes (`CLIENTCREDS_PEPPER`, at least 32 bytes;
    /// random per process when unset, fine for the in-memory store, but a
    /// database needs a fixed one or its hashes stop verifying on restart).
    pub pepper: Option<String>,
    /// `DATABASE_URL`: `postgres://…` or `sqlite://…`; absent = in memory.
    pub database_url: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field(
                "root_token",
                &self.root_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "tenant_admins",
                &self
                    .tenant_admins
                    .iter()
                    .map(|(t, _)| t)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let addr: SocketAddr = var("CLIENTCREDS_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|e| format!("CLIENTCREDS_ADDR: {e}"))?;
        let mut config = Self::for_addr(addr);
        if let Some(issuer) = var("CLIENTCREDS_ISSUER") {
            config.audience = format!("{}/api/v1", issuer.trim_end_matches('/'));
            config.issuer = issuer;
        }
        if let Some(audience) = var("CLIENTCREDS_AUDIENCE") {
            config.audience = audience;
        }
        config.root_token = var("CLIENTCREDS_ROOT_TOKEN");
        config.pepper = var("CLIENTCREDS_PEPPER");
        config.database_url = var("DATABASE_URL");
        if let Some(list) = var("CLIENTCREDS_TENANT_ADMINS") {
            for entry in list.split(',').filter(|e| !e.trim().is_empty()) {
                let (tenant, token) = entry
                    .trim()
                    .split_once(':')
                    .ok_or("CLIENTCREDS_TENANT_ADMINS: expected tenant:token")?;
                let tenant =
                    TenantId::new(tenant).map_err(|e| format!("CLIENTCREDS_TENANT_ADMINS: {e}"))?;
                config.tenant_admins.push((tenant, token.to_owned()));
            }
        }
        Ok(config)
    }

    /// Defaults for a listen address.
    #[must_use]
    pub fn for_addr(addr: SocketAddr) -> Self {
        let issuer = format!("http://{addr}");
        Self {
            addr,
            audience: format!("{issuer}/api/v1"),
            issuer,
            root_token: None,
            tenant_admins: Vec::new(),
            pepper: None,
            database_url: None,
        }
    }
}

/// The assembled parts.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    registry: Arc<Registry>,
    tokens: TokenService,
    keys: Arc<KeySet>,
    verifier: Arc<TokenVerifier>,
    parser: TokenRequestParser,
    /// Admin tokens as HMAC tags under a per-process key, compared in
    /// constant time; the tokens themselves are not kept.
    admin_key: ring::hmac::Key,
    admins: Vec<(Vec<u8>, Actor)>,
}

impl Server {
    /// Builds the store (connecting and migrating a database when
    /// `database_url` is set), registry, keys, token service and verifier.
    pub async fn new(config: Config) -> Result<Self, Box<dyn std::error::Error>> {
        let store = open_store(config.database_url.as_deref()).await?;
        let pepper = match &config.pepper {
            Some(p) => PepperKey::new("env", p.as_bytes())?,
            None => {
                use ring::rand::SecureRandom as _;
                let mut random = [0u8; 32];
                ring::rand::SystemRandom::new()
                    .fill(&mut random)
                    .map_err(|_| "random number generator failed")?;
                PepperKey::new("ephemeral", &random)?
            }
        };
        let hasher = SecretHasher::hmac_sha256(pepper)?;
        let policy =
            Policy::default().with_rotation(RotationMode::ReplaceSecret, time::Duration::days(7));
        let registry = Arc::new(Registry::new(store, hasher, policy)?);
        let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
        let tokens = TokenService::new(
            registry.clone(),
            TokenIssuer::new(keys.clone(), config.issuer.clone()),
            config.audience.clone(),
        );
        let verifier = Arc::new(TokenVerifier::new(
            keys.clone(),
            Validation::new(config.issuer.clone(), config.audience.clone()),
        ));
        let admin_key =
            ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
                .map_err(|_| "random number generator failed")?;
        let tag = |token: &str| {
            ring::hmac::sign(&admin_key, token.as_bytes())
                .as_ref()
                .to_vec()
        };
        let mut admins = Vec::new();
        if let Some(root) = &config.root_token {
            admins.push((tag(root), Actor::platform_admin("root")));
        }
        for (tenant, token) in &config.tenant_admins {
            admins.push((
                tag(token),
                Actor::tenant_admin(tenant.clone(), format!("admin@{tenant}")),
            ));
        }
        let inner = Inner {
            config,
            registry,
            tokens,
            keys,
            verifier,
            parser: TokenRequestParser::default(),
            admin_key,
            admins,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The registry (tests and hosts may seed clients directly).
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The signing keys (tests rotate them: `publish_next`, `promote_next`).
    #[must_use]
    pub fn key_set(&self) -> &Arc<KeySet> {
        &self.inner.keys
    }

    /// The axum application.
    pub fn router(&self) -> Router {
        let bearer = BearerAuthLayer::new(self.inner.verifier.clone()).with_realm(REALM);
        let api = Router::new()
            .route("/api/v1/whoami", get(whoami).layer(bearer.clone()))
            .route(
                "/api/v1/echo",
                post(echo).layer(bearer.require_scope("echo")),
            );
        let admin = Router::new()
            .route(
                "/admin/v1/tenants/{tenant}/clients",
                post(create_client).get(list_clients),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}",
                get(get_client).patch(update_client).delete(delete_client),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}/rotate",
                post(rotate_client),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}/end-grace",
                post(end_grace),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}/revoke",
                post(revoke_client),
            )
            .route("/admin/v1/tenants/{tenant}/audit", get(audit));
        Router::new()
            .route("/oauth/token", post(token))
            .route("/oauth/introspect", post(introspect))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .merge(api)
            .merge(admin)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(middleware::from_fn(log_request))
            .with_state(self.clone())
    }
}

/// The store a `DATABASE_URL` names, migrated; the in-memory store without one.
async fn open_store(url: Option<&str>) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    Ok(match url {
        None => Arc::new(MemoryStore::new()),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = clientcreds_sqlx::PgStore::connect(url).await?;
            store.migrate().await?;
            Arc::new(store)
        }
        Some(url) if url.starts_with("sqlite:") => {
            let store = clientcreds_sqlx::SqliteStore::connect(url).await?;
            store.migrate().await?;
            Arc::new(store)
        }
        Some(_) => {
            return Err(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:".into(),
            );
        }
    })
}

/// One structured line per request: method, path, status, time. Never a
/// header or a body, so never a secret or a token.
async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    response
}

// ---------------------------------------------------------------- OAuth

async fn token(State(server): State<Server>, headers: HeaderMap, body: Bytes) -> Response<String> {
    match server.inner.parser.parse(&headers, &body) {
        Err(rejected) => rejected_response(&rejected, REALM),
        Ok(parsed) => match server.inner.tokens.exchange(parsed.request).await {
            Ok(response) => token_response(&response),
            Err(error) => {
                tracing::info!(error = error.code.as_str(), "token request refused");
                token_error_response(&error, parsed.auth, REALM)
            }
        },
    }
}

async fn introspect(
    State(server): State<Server>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<String> {
    let request = match server.inner.parser.parse_introspection(&headers, &body) {
        Ok(request) => request,
        Err(rejected) => return rejected_response(&rejected, REALM),
    };
    let client_error = |auth| {
        let error = clientcreds_registry::TokenError {
            code: clientcreds_registry::TokenErrorCode::InvalidClient,
            description: "client authentication failed",
        };
        token_error_response(&error, auth, REALM)
    };
    let Some(credentials) = request.credentials else {
        return client_error(ClientAuthMethod::None);
    };
    if server
        .inner
        .registry
        .authenticate(&credentials.client_id, &credentials.client_secret)
        .await
        .is_err()
    {
        return client_error(request.auth);
    }
    let context = server
        .inner
        .verifier
        .verify(request.token.expose_secret())
        .ok();
    let body = introspection_response(context.as_ref(), &server.inner.config.issuer);
    json_response(StatusCode::OK, body.to_string())
}

async fn jwks(State(server): State<Server>) -> Json<clientcreds_jwt::Jwks> {
    Json(server.inner.keys.jwks())
}

async fn metadata(State(server): State<Server>) -> Json<AuthorizationServerMetadata> {
    Json(AuthorizationServerMetadata::new(
        &server.inner.config.issuer,
    ))
}

// ---------------------------------------------------------------- demo API

async fn whoami(Access(context): Access) -> Json<Value> {
    Json(
        json!({ "tenant": context.tenant, "client_id": context.client_id, "scopes": context.scopes }),
    )
}

async fn echo(Access(context): Access, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).into_owned();
    Json(json!({ "client_id": context.client_id, "echo": text })).into_response()
}

// ---------------------------------------------------------------- admin API

/// An admin API failure as a JSON response.
struct ApiError(StatusCode, Value);

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
    let actor = server
        .inner
        .admins
        .iter()
        .find(|(tag, _)| {
            ring::hmac::verify(&server.inner.admin_key, presented.as_bytes(), tag).is_ok()
        })
        .map(|(_, actor)| actor.clone())
        .ok_or_else(unauthorized)?;
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
struct CreateBody {
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

async fn create_client(
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
struct ListParams {
    status: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list_clients(
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

async fn get_client(
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
struct UpdateBody {
    name: Option<String>,
    description: Option<String>,
    scopes: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    status: Option<String>,
}

async fn update_client(
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

async fn delete_client(
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
struct RotateBody {
    mode: Option<String>,
    grace_seconds: Option<i64>,
}

async fn rotate_client(
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

async fn end_grace(
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

async fn revoke_client(
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
struct AuditParams {
    client_id: Option<String>,
    after: Option<u64>,
    limit: Option<usize>,
}

async fn audit(
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
