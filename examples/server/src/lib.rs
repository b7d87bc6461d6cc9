//! The reference server: every clientcreds crate assembled behind axum.
//!
//! [`Config::from_env`] reads the environment, [`Server::new`] builds the
//! parts, and [`Server::router`] is the axum app: `clientcreds-axum`'s
//! OAuth routes and admin API mounted at `/oauth`, `/.well-known` and
//! `/admin/v1`, `clientcreds-console`'s admin console at `/console` (behind
//! a sign-in with the same admin tokens), next to a demo API behind the
//! bearer layer. [`Server::serve`] serves it on serving threads of their
//! own (one single-threaded runtime each, connections handed round-robin:
//! no request wakes another thread), and `main.rs` calls that, with the
//! log lines written in batches ([`log::BatchedLog`]) and mimalloc as the
//! allocator: docs/PERFORMANCE.md has what each is worth.
//!
//! Key material is durable: the master keys come from
//! `CLIENTCREDS_MASTER_KEYS` (required with a database), the pepper of
//! secret hashes derives from them, and the signing keys live in the
//! database sealed under them, rotated by a [`KeyManager`] on every
//! replica. See `docs/OPERATIONS.md`.

#![allow(clippy::missing_errors_doc)]

mod config;
mod console;
pub mod log;
mod serve;
pub use serve::DRAIN_TIMEOUT;
mod storage;
mod warnings;

use std::sync::{Arc, Weak};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clientcreds_axum::{AdminApi, BearerTokens, OAuthRoutes};
use clientcreds_console::Console;
use clientcreds_jwt::{KeySet, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::warnings::WarningRunner;
use clientcreds_registry::{
    Actor, KeyManager, LiveClientCheck, Policy, Registry, RotationMode, SystemClock, TokenService,
};
use clientcreds_resource::{Access, BearerAuthLayer};
use clientcreds_secret::MasterKeys;
use serde_json::{Value, json};

pub use config::{
    Config, FORWARDED_HEADER_VAR, MASTER_KEYS_FILE_VAR, MASTER_KEYS_VAR, MAX_SERVE_THREADS,
    MIN_ADMIN_TOKEN_CHARS, TRUSTED_PROXIES_VAR,
};
pub use console::{CONSOLE_PATH, SESSION_COOKIE, SESSION_TTL, SIGN_IN_PATH, SIGN_OUT_PATH};

/// How long the demo API's live check trusts an answer: a revoked or
/// deleted client's tokens stop working there within this.
pub const LIVE_CHECK_TTL: time::Duration = time::Duration::seconds(5);
/// Largest request body the server reads (1 MiB); larger is 413.
pub const MAX_BODY: usize = 1024 * 1024;
const REALM: &str = "clientcreds";

/// The assembled parts.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

/// What the routers need. No admin token, pepper or master key is kept
/// here in clear: admin tokens are HMAC tags (inside the admin API's
/// `BearerTokens`), and the master keys live only inside the key manager
/// and the hasher they made.
struct Inner {
    registry: Arc<Registry>,
    key_manager: Arc<KeyManager>,
    keys: Arc<KeySet>,
    verifier: Arc<TokenVerifier>,
    /// The token service (a clone of the routes'; its counters are shared).
    tokens: TokenService,
    /// The demo API's live check of a token's client and secret.
    live: Arc<LiveClientCheck>,
    /// Sends due expiry warnings (run on `CLIENTCREDS_WARNING_INTERVAL`).
    warning_runner: Arc<WarningRunner>,
    /// The token endpoint, introspection, metadata and JWKS.
    oauth: OAuthRoutes,
    /// The admin API (clients, audit, activity, warnings, signing keys).
    admin: AdminApi,
    /// The admin console's pages and its sign-in.
    console: Console,
    sign_in: Arc<console::SignIn>,
    /// The cache, its listener and the activity writer (on a database).
    storage: storage::StorageTasks,
    /// DPoP at the demo API: the issuer's URL as the external base, proofs
    /// recorded in the same replay store as the token endpoint's.
    api_dpop: clientcreds_resource::DpopConfig,
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
    /// verifier (the key manager runs its own refresh task).
    ///
    /// It refuses an admin token shorter than [`MIN_ADMIN_TOKEN_CHARS`],
    /// and warns when the failure throttle cannot tell callers apart
    /// ([`Config::proxy_warning`]).
    ///
    /// With a database and no master keys it refuses to start: every
    /// secret hash and signing key would be lost at the next restart.
    pub async fn new(config: Config) -> Result<Self, Box<dyn std::error::Error>> {
        config.check_admin_tokens().map_err(StartError)?;
        match config.proxy_warning() {
            Some(warning) => tracing::warn!("{warning}"),
            None if config.trusted_proxies.is_empty() => tracing::info!(
                "{TRUSTED_PROXIES_VAR} is not set: each TCP peer is taken as the caller by the \
                 failure throttle; behind a proxy or load balancer, set it to their addresses"
            ),
            None => {}
        }
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
            replay,
            tasks: storage,
        } = storage::open(&config).await?;
        let hasher = master.secret_hasher()?;
        let policy = Policy::default()
            .with_rotation(RotationMode::ReplaceSecret, time::Duration::days(7))
            .with_required_scope(config.require_scope);
        let warning_runner = Arc::new(warnings::runner(&config, store.clone(), ledger.clone())?);
        let registry = Arc::new(
            Registry::new(store, hasher, policy)?
                .with_client_assertions(assertions(&config, replay.clone())?),
        );
        let dpop_config = if config.dpop {
            Some(dpop(&config, &master, replay.clone())?)
        } else {
            None
        };
        // The demo API's proofs: `htu` under the issuer's URL (the
        // external one), recorded where the token endpoint records its own.
        let api_dpop = clientcreds_resource::DpopConfig::default()
            .external_url(&config.issuer)?
            .replay(Arc::new(clientcreds_registry::SharedProofReplay(
                replay.clone(),
            )));
        storage::spawn_retention(Arc::downgrade(&registry), replay, &config);
        let key_manager = Arc::new(
            KeyManager::start(
                key_store,
                master,
                config.key_rotation.clone(),
                Arc::new(SystemClock),
            )
            .await?,
        );
        warnings::spawn(Arc::downgrade(&warning_runner), config.warning_interval);
        let keys = key_manager.key_set();
        let mut tokens = TokenService::new(
            registry.clone(),
            TokenIssuer::new(keys.clone(), config.issuer.clone()),
            config.audience.clone(),
        );
        if let Some(dpop) = dpop_config {
            tokens = tokens.with_dpop(dpop);
        }
        let verifier = Arc::new(TokenVerifier::new(
            keys.clone(),
            Validation::new(config.issuer.clone(), config.audience.clone()),
        ));
        // The admin API's tokens, and the same tokens for the console's
        // sign-in (each keeps only HMAC tags under its own key).
        let admins_of = |config: &Config| -> Result<BearerTokens, clientcreds_axum::Error> {
            let mut admins = BearerTokens::new()?;
            if let Some(root) = &config.root_token {
                admins = admins.with(root, Actor::platform_admin("root"));
            }
            for (tenant, token) in &config.tenant_admins {
                admins = admins.with(
                    token,
                    Actor::tenant_admin(tenant.clone(), format!("admin@{tenant}")),
                );
            }
            Ok(admins)
        };
        let admins = admins_of(&config)?;
        let secure_cookies = config.issuer.starts_with("https://");
        let sign_in = Arc::new(console::SignIn::new(admins_of(&config)?, secure_cookies));
        let console = Console::new(registry.clone(), sign_in.clone())?
            .with_key_manager(key_manager.clone())
            .with_warning_ledger(ledger.clone())
            .with_tenants(config.tenant_admins.iter().map(|(t, _)| t.clone()))
            .with_secure_cookies(secure_cookies)
            .with_sign_out(SIGN_OUT_PATH);
        let live = Arc::new(tokens.live_check(LIVE_CHECK_TTL));
        let oauth = OAuthRoutes::new(tokens.clone(), verifier.clone())
            .with_realm(REALM)
            .with_jwks_max_age(config.key_rotation.jwks_max_age)
            .with_trusted_proxies(config.trusted_proxies.clone());
        let admin = AdminApi::new(registry.clone(), admins)
            .with_trusted_proxies(config.trusted_proxies.clone())
            .with_key_manager(key_manager.clone())
            .with_warning_ledger(ledger);
        let inner = Inner {
            registry,
            key_manager,
            keys,
            verifier,
            tokens,
            live,
            warning_runner,
            oauth,
            admin,
            console,
            sign_in,
            storage,
            api_dpop,
        };
        // `config` (with its zeroizing tokens) is dropped here.
        drop(config);
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Writes the queued activity entries and stops the writer and the
    /// key manager's refresh task: call it after the last request
    /// (graceful shutdown).
    pub async fn shutdown(&self) {
        self.inner.key_manager.shutdown().await;
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

    /// The axum application.
    pub fn router(&self) -> Router {
        // The demo API checks that a token's client and secret are still
        // live (product D: deleting a client kills its tokens).
        let bearer = BearerAuthLayer::new(self.inner.verifier.clone())
            .with_live_check(self.inner.live.clone())
            .with_dpop(self.inner.api_dpop.clone())
            .with_realm(REALM);
        let api = Router::new()
            .route("/api/v1/whoami", get(whoami).layer(bearer.clone()))
            .route(
                "/api/v1/echo",
                post(echo).layer(bearer.require_scope("echo")),
            );
        Router::new()
            .merge(self.inner.oauth.endpoints_at("/oauth"))
            .merge(self.inner.oauth.well_known())
            .nest("/admin/v1", self.inner.admin.router())
            .route(
                SIGN_IN_PATH,
                get(console::sign_in_page)
                    .post(console::sign_in)
                    .with_state(self.inner.sign_in.clone()),
            )
            .route(
                SIGN_OUT_PATH,
                post(console::sign_out).with_state(self.inner.sign_in.clone()),
            )
            .nest(
                CONSOLE_PATH,
                self.inner
                    .console
                    .router()
                    .layer(middleware::map_response(console::to_sign_in)),
            )
            .merge(api)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(middleware::from_fn(log_request))
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

/// One structured line per request: method, path, status, time. Never a
/// header or a body, so never a secret or a token.
async fn log_request(request: Request, next: Next) -> Response {
    // Below info, nothing is copied or timed.
    if !tracing::enabled!(tracing::Level::INFO) {
        return next.run(request).await;
    }
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, %path, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    response
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

/// Client assertions (`private_key_jwt`, federated workload identity):
/// inline keys, `jwks_uri` and federated issuers fetched over HTTPS, one
/// replay store for every replica.
fn assertions(
    config: &Config,
    replay: Arc<dyn clientcreds_store::ReplayStore>,
) -> Result<clientcreds_registry::ClientAssertions, clientcreds_registry::Error> {
    let mut policy = clientcreds_registry::AssertionPolicy::default();
    for issuer in &config.federated_issuers {
        policy = policy.allow_federated_issuer(issuer.clone());
    }
    if config.assertion_token_endpoint_aud {
        policy = policy.accept_token_endpoint_audience(format!(
            "{}/oauth/token",
            config.issuer.trim_end_matches('/')
        ));
    }
    if config.danger_loopback_http {
        tracing::warn!(
            "CLIENTCREDS_DANGER_LOOPBACK_HTTP: keys are fetched over plain http on loopback (tests only)"
        );
        policy = policy.danger_allow_loopback_http();
    }
    Ok(clientcreds_registry::ClientAssertions::new(policy, replay)?
        .with_transport(Arc::new(clientcreds_resource::ReqwestTransport::new())))
}

/// DPoP at the token endpoint: `htu` is the issuer's token endpoint (the
/// external URL, as `CLIENTCREDS_ISSUER` says), proofs' `jti`s in the same
/// replay store as client assertions', nonces derived from the master keys.
fn dpop(
    config: &Config,
    master: &MasterKeys,
    replay: Arc<dyn clientcreds_store::ReplayStore>,
) -> Result<clientcreds_registry::DpopConfig, Box<dyn std::error::Error>> {
    let endpoint = format!("{}/oauth/token", config.issuer.trim_end_matches('/'));
    let mut dpop = clientcreds_registry::DpopConfig::new(endpoint, replay)?;
    if config.dpop_required {
        dpop = dpop.required();
    }
    if config.dpop_nonces {
        let key = master.derive_key("dpop-nonce")?;
        dpop = dpop.with_nonces(clientcreds_registry::DpopNonces::new(
            key.as_ref(),
            clientcreds_registry::DEFAULT_NONCE_STEP,
        )?);
    }
    Ok(dpop)
}
