//! The reference server: every clientcreds crate assembled behind axum.
//!
//! [`Config::from_env`] reads the environment, [`Server::new`] builds the
//! parts, and [`Server::router`] is the axum app. `main.rs` serves it.
//!
//! Key material is durable: the master keys come from
//! `CLIENTCREDS_MASTER_KEYS` (required with a database), the pepper of
//! secret hashes derives from them, and the signing keys live in the
//! database sealed under them, rotated by a [`KeyManager`] on every
//! replica. See `docs/OPERATIONS.md`.

#![allow(clippy::missing_errors_doc)]

mod admin;
mod config;
mod storage;
mod warnings;

use std::sync::{Arc, Weak};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clientcreds_http::{
    AuthorizationServerMetadata, ClientAuthMethod, TokenRequestParser, introspection_response,
    json_response, rejected_response, token_error_response, token_response,
};
use clientcreds_jwt::{KeySet, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::warnings::WarningRunner;
use clientcreds_registry::{
    Actor, KeyManager, Policy, Registry, RotationMode, SystemClock, TokenService,
};
use clientcreds_resource::{Access, BearerAuthLayer};
use clientcreds_secret::MasterKeys;
use clientcreds_store::WarningLedger;
use serde_json::{Value, json};

pub use config::{Config, MASTER_KEYS_FILE_VAR, MASTER_KEYS_VAR};

/// Largest request body the server reads (1 MiB); larger is 413.
pub const MAX_BODY: usize = 1024 * 1024;
const REALM: &str = "clientcreds";

/// The assembled parts.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

/// What the handlers need. No admin token, pepper or master key is kept
/// here in clear: admin tokens are HMAC tags, and the master keys live only
/// inside the key manager and the hasher they made.
struct Inner {
    issuer: String,
    registry: Arc<Registry>,
    tokens: TokenService,
    key_manager: Arc<KeyManager>,
    keys: Arc<KeySet>,
    verifier: Arc<TokenVerifier>,
    parser: TokenRequestParser,
    /// `Cache-Control` of the JWKS: `public, max-age=<jwks_max_age>`.
    jwks_cache_control: HeaderValue,
    /// The expiry-warning ledger (the admin view of a client's warnings).
    ledger: Arc<dyn WarningLedger>,
    /// Sends due expiry warnings (run on `CLIENTCREDS_WARNING_INTERVAL`).
    warning_runner: Arc<WarningRunner>,
    /// Admin tokens as HMAC tags under a per-process key, compared in
    /// constant time; the tokens themselves are not kept.
    admin_key: ring::hmac::Key,
    admins: Vec<(Vec<u8>, Actor)>,
    /// The cache, its listener and the activity writer (on a database).
    storage: storage::StorageTasks,
}

/// Why the server refused to start.
#[derive(Debug)]
pub struct StartError(String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl Server {
    /// Builds the store (connecting and migrating a database when
    /// `database_url` is set), the registry with the pepper derived from
    /// the master keys, the key manager (which opens every stored signing
    /// key, so a wrong master key fails here), the token service and the
    /// verifier; and starts the key manager's refresh task.
    ///
    /// With a database and no master keys it refuses to start: every
    /// secret hash and signing key would be lost at the next restart.
    pub async fn new(config: Config) -> Result<Self, Box<dyn std::error::Error>> {
        let master = match (&config.master_keys, &config.database_url) {
            (Some(master), _) => master.clone(),
            (None, Some(_)) => {
                return Err(Box::new(StartError(format!(
                    "{MASTER_KEYS_VAR} is not set, and a server on a database needs fixed master \
                     keys: without them no client could authenticate and no token would verify \
                     after a restart. Run `clientcreds-server generate-master-key`, keep its \
                     output in your secret manager, and set {MASTER_KEYS_VAR} to it (or \
                     {MASTER_KEYS_FILE_VAR} to a file holding it)."
                ))));
            }
            (None, None) => {
                tracing::warn!(
                    "{MASTER_KEYS_VAR} is not set: using an ephemeral master key. Clients and \
                     signing keys live in memory and nothing survives a restart."
                );
                Arc::new(MasterKeys::ephemeral()?)
            }
        };
        let storage::Storage {
            store,
            key_store,
            ledger,
            tasks: storage,
        } = storage::open(&config).await?;
        let hasher = master.secret_hasher()?;
        let policy =
            Policy::default().with_rotation(RotationMode::ReplaceSecret, time::Duration::days(7));
        let warning_runner = Arc::new(warnings::runner(&config, store.clone(), ledger.clone())?);
        let registry = Arc::new(Registry::new(store, hasher, policy)?);
        storage::spawn_retention(Arc::downgrade(&registry), &config);
        let key_manager = Arc::new(
            KeyManager::start(
                key_store,
                master,
                config.key_rotation.clone(),
                Arc::new(SystemClock),
            )
            .await?,
        );
        spawn_key_refresh(
            Arc::downgrade(&key_manager),
            config.key_rotation.refresh_every,
        );
        warnings::spawn(Arc::downgrade(&warning_runner), config.warning_interval);
        let keys = key_manager.key_set();
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
        let jwks_cache_control = HeaderValue::from_str(&format!(
            "public, max-age={}",
            config.key_rotation.jwks_max_age.whole_seconds().max(0)
        ))?;
        let inner = Inner {
            issuer: config.issuer.clone(),
            registry,
            tokens,
            key_manager,
            keys,
            verifier,
            parser: TokenRequestParser::default(),
            jwks_cache_control,
            ledger,
            warning_runner,
            admin_key,
            admins,
            storage,
        };
        // `config` (with its zeroizing tokens) is dropped here.
        drop(config);
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Writes the queued activity entries and stops the writer: call it
    /// after the last request (graceful shutdown).
    pub async fn shutdown(&self) {
        if let Some(writer) = &self.inner.storage.activity {
            writer.close().await;
        }
    }

    /// The authentication cache's counters, on a database with the cache on.
    #[must_use]
    pub fn auth_cache_stats(&self) -> Option<clientcreds_store::CacheStats> {
        self.inner.storage.cache.as_ref().map(|c| c.stats())
    }

    /// The activity writer's counters (entries written, dropped), on a
    /// database.
    #[must_use]
    pub fn activity_stats(&self) -> Option<clientcreds_registry::ActivityStats> {
        self.inner.storage.activity.as_ref().map(|w| w.stats())
    }

    /// Token requests refused before any client authenticated, by reason.
    #[must_use]
    pub fn unauthenticated_refusals(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.inner.tokens.unauthenticated_refusals().by_reason()
    }

    /// The registry (tests and hosts may seed clients directly).
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The key set the token endpoint signs with and the demo API verifies
    /// with (kept current by the key manager).
    #[must_use]
    pub fn key_set(&self) -> &Arc<KeySet> {
        &self.inner.keys
    }

    /// The expiry-warning runner (tests run it by hand with their clock).
    #[must_use]
    pub fn warning_runner(&self) -> &Arc<WarningRunner> {
        &self.inner.warning_runner
    }

    /// The signing key manager (rotate now, withdraw, list).
    #[must_use]
    pub fn key_manager(&self) -> &Arc<KeyManager> {
        &self.inner.key_manager
    }

    /// The admin an `Authorization: Bearer` token belongs to.
    fn admin_actor(&self, presented: &str) -> Option<Actor> {
        self.inner
            .admins
            .iter()
            .find(|(tag, _)| {
                ring::hmac::verify(&self.inner.admin_key, presented.as_bytes(), tag).is_ok()
            })
            .map(|(_, actor)| actor.clone())
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
                post(admin::create_client).get(admin::list_clients),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}",
                get(admin::get_client)
                    .patch(admin::update_client)
                    .delete(admin::delete_client),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}/rotate",
                post(admin::rotate_client),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}/end-grace",
                post(admin::end_grace),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}/revoke",
                post(admin::revoke_client),
            )
            .route(
                "/admin/v1/tenants/{tenant}/clients/{client_id}/warnings",
                get(admin::client_warnings),
            )
            .route("/admin/v1/tenants/{tenant}/audit", get(admin::audit))
            .route("/admin/v1/signing-keys", get(admin::list_signing_keys))
            .route(
                "/admin/v1/signing-keys/rotate",
                post(admin::rotate_signing_key),
            )
            .route(
                "/admin/v1/signing-keys/{kid}/withdraw",
                post(admin::withdraw_signing_key),
            )
            // Some admin responses carry a plaintext secret: none may be cached.
            .layer(middleware::map_response(no_store));
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

/// Runs `job` on what `target` points to every `every`, for as long as it
/// lives (the server owns it; the task holds only a weak reference). With
/// `skip_first`, the first run is one interval after start.
pub(crate) fn spawn_every<T, F, Fut>(
    target: Weak<T>,
    every: time::Duration,
    skip_first: bool,
    job: F,
) where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let every = std::time::Duration::try_from(every).unwrap_or(std::time::Duration::from_secs(60));
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if skip_first {
            interval.tick().await;
        }
        loop {
            interval.tick().await;
            let Some(target) = target.upgrade() else {
                return;
            };
            job(target).await;
        }
    });
}

/// Reloads the signing keys and performs due rotation steps every
/// `every`, for as long as the key manager lives (`start` already ran one).
fn spawn_key_refresh(manager: Weak<KeyManager>, every: time::Duration) {
    spawn_every(manager, every, true, |manager| async move {
        match manager.tick().await {
            Ok(step) => {
                if let Some(kid) = &step.created {
                    tracing::info!(%kid, "published the next signing key");
                }
                for kid in &step.purged {
                    tracing::info!(%kid, "unpublished a retired signing key");
                }
            }
            Err(error) => {
                tracing::error!(%error, "signing key refresh failed; keeping the loaded keys");
            }
        }
    });
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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
    let body = introspection_response(context.as_ref(), &server.inner.issuer);
    json_response(StatusCode::OK, body.to_string())
}

async fn jwks(State(server): State<Server>) -> Response {
    let mut response = Json(server.inner.keys.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        server.inner.jwks_cache_control.clone(),
    );
    response
}

async fn metadata(State(server): State<Server>) -> Json<AuthorizationServerMetadata> {
    Json(AuthorizationServerMetadata::new(&server.inner.issuer))
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
