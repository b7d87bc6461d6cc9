//! [`Issuer`]: the parts of an authorization server wired from an issuer
//! URL, an audience, a store and the master keys.

use std::sync::Arc;

use axum::Router;
use clientcreds_jwt::{KeySet, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{
    Error, KeyManager, KeyRotationPolicy, Policy, Registry, SystemClock, TokenService,
};
use clientcreds_secret::MasterKeys;
use clientcreds_store::{KeyStore, Store};

use crate::{AdminApi, AdminAuth, OAuthRoutes};

/// An issuer's parts, wired: the [`Registry`] (peppered by the master
/// keys), the [`KeyManager`] (signing keys sealed in the same store,
/// refreshing themselves), the [`TokenService`], the [`TokenVerifier`]
/// for introspection, the [`OAuthRoutes`] (JWKS `max-age` taken from the
/// key rotation policy) and, with administrators, the [`AdminApi`] (with
/// the signing-key routes).
///
/// [`Issuer::router`] mounts everything where the default RFC 8414
/// metadata says it is: `/oauth/token`, `/oauth/introspect`,
/// `/.well-known/...`, and the admin API under `/admin/v1`. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()`, so that the
/// failure throttle sees each caller's address. Every part stays
/// reachable for a host that mounts things its own way.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::net::SocketAddr;
/// use std::sync::Arc;
///
/// use clientcreds_axum::{BearerTokens, Issuer};
/// use clientcreds_registry::Actor;
/// use clientcreds_secret::MasterKeys;
/// use clientcreds_store::MemoryStore;
///
/// // In production: `MasterKeys::from_env()?` and a database store.
/// let master = Arc::new(MasterKeys::ephemeral()?);
/// let issuer = Issuer::builder("https://auth.example.com", "https://api.example.com")
///     .admins(BearerTokens::new()?.with("root-token", Actor::platform_admin("root")))
///     .build(Arc::new(MemoryStore::new()), master)
///     .await?;
/// let app = issuer.router().into_make_service_with_connect_info::<SocketAddr>();
/// // axum::serve(listener, app).await?;
/// # let _ = app;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Issuer {
    registry: Arc<Registry>,
    key_manager: Arc<KeyManager>,
    tokens: TokenService,
    verifier: Arc<TokenVerifier>,
    oauth: OAuthRoutes,
    admin: Option<AdminApi>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.tokens.issuer().issuer())
            .field("audience", &self.tokens.default_audience())
            .field("key_manager", &self.key_manager)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Issuer`]; see [`Issuer::builder`].
#[must_use = "a builder does nothing until `build`"]
pub struct IssuerBuilder {
    issuer: String,
    audience: String,
    policy: Policy,
    key_rotation: KeyRotationPolicy,
    /// Makes the admin API over the registry, for the administrators given.
    admins: Option<Box<dyn FnOnce(Arc<Registry>) -> AdminApi + Send>>,
}

impl std::fmt::Debug for IssuerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerBuilder")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("policy", &self.policy)
            .field("key_rotation", &self.key_rotation)
            .field("admins", &self.admins.is_some())
            .finish()
    }
}

impl Issuer {
    /// An issuer at `issuer` (the `iss` of its tokens and the base of its
    /// metadata) whose tokens name `audience` unless a client has
    /// audiences of its own. Defaults: [`Policy::default`],
    /// [`KeyRotationPolicy::default`], no admin API.
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> IssuerBuilder {
        IssuerBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            policy: Policy::default(),
            key_rotation: KeyRotationPolicy::default(),
            admins: None,
        }
    }

    /// The registry (clients, rotation, audit).
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The signing key manager (rotate now, withdraw, list; shut down).
    #[must_use]
    pub fn key_manager(&self) -> &Arc<KeyManager> {
        &self.key_manager
    }

    /// The key set the issuer signs with, kept current by the key manager.
    #[must_use]
    pub fn key_set(&self) -> Arc<KeySet> {
        self.key_manager.key_set()
    }

    /// The token endpoint's logic.
    #[must_use]
    pub fn tokens(&self) -> &TokenService {
        &self.tokens
    }

    /// The verifier of this issuer's own tokens (introspection; an API in
    /// the same process may use it too).
    #[must_use]
    pub fn verifier(&self) -> &Arc<TokenVerifier> {
        &self.verifier
    }

    /// The OAuth routes, to mount elsewhere than [`Issuer::router`] does.
    #[must_use]
    pub fn oauth(&self) -> &OAuthRoutes {
        &self.oauth
    }

    /// The admin API, when the builder was given administrators.
    #[must_use]
    pub fn admin(&self) -> Option<&AdminApi> {
        self.admin.as_ref()
    }

    /// `/oauth/token`, `/oauth/introspect`, `/.well-known/jwks.json`,
    /// `/.well-known/oauth-authorization-server`, and with administrators
    /// the admin API under `/admin/v1`.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .merge(self.oauth.endpoints_at("/oauth"))
            .merge(self.oauth.well_known());
        match &self.admin {
            Some(admin) => router.nest("/admin/v1", admin.router()),
            None => router,
        }
    }
}

impl IssuerBuilder {
    /// The registry's policy (prefixes, rotation mode and grace, token and
    /// secret lifetimes, default scope, ...).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// How the signing keys rotate; the JWKS is served with this policy's
    /// `jwks_max_age`.
    pub fn key_rotation(mut self, policy: KeyRotationPolicy) -> Self {
        self.key_rotation = policy;
        self
    }

    /// Mounts the admin API for the administrators `auth` recognises
    /// ([`BearerTokens`](crate::BearerTokens),
    /// [`ActorExtension`](crate::ActorExtension) or the host's own).
    pub fn admins(mut self, auth: impl AdminAuth) -> Self {
        self.admins = Some(Box::new(move |registry| AdminApi::new(registry, auth)));
        self
    }

    /// Wires the parts over `store` (clients, audit, activity and the
    /// sealed signing keys) and `master` (the pepper of secret hashes and
    /// the sealing key), and starts the key manager's refresh task on the
    /// current tokio runtime.
    ///
    /// # Errors
    /// What [`Registry::new`] and [`KeyManager::start`] return: an
    /// invalid policy ([`Error::Invalid`], [`Error::KeyPolicy`]), master
    /// keys that do not open the stored signing keys
    /// ([`Error::SealedSigningKey`]), [`Error::Credential`],
    /// [`Error::Store`], [`Error::NoRuntime`].
    pub async fn build<S>(self, store: Arc<S>, master: Arc<MasterKeys>) -> Result<Issuer, Error>
    where
        S: Store + KeyStore + 'static,
    {
        let jwks_max_age = self.key_rotation.jwks_max_age;
        let registry = Arc::new(Registry::new(
            store.clone() as Arc<dyn Store>,
            master.secret_hasher()?,
            self.policy,
        )?);
        let key_manager = Arc::new(
            KeyManager::start(
                store as Arc<dyn KeyStore>,
                master,
                self.key_rotation,
                Arc::new(SystemClock),
            )
            .await?,
        );
        let keys = key_manager.key_set();
        let tokens = TokenService::new(
            registry.clone(),
            TokenIssuer::new(keys.clone(), self.issuer.clone()),
            self.audience.clone(),
        );
        let verifier = Arc::new(TokenVerifier::new(
            keys,
            Validation::new(self.issuer, self.audience),
        ));
        let oauth =
            OAuthRoutes::new(tokens.clone(), verifier.clone()).with_jwks_max_age(jwks_max_age);
        let admin = self
            .admins
            .map(|admin_api| admin_api(registry.clone()).with_key_manager(key_manager.clone()));
        Ok(Issuer {
            registry,
            key_manager,
            tokens,
            verifier,
            oauth,
            admin,
        })
    }
}
