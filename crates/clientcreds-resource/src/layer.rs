//! A tower layer that verifies bearer tokens (feature `tower`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::{BearerChallenge, Clock, LiveCheck, SystemClock, VerifyAccess, bearer_token};

/// Verifies the request's bearer token, requires scopes, and puts the
/// [`AccessContext`](clientcreds_jwt::AccessContext) into the request's
/// extensions; otherwise answers with the RFC 6750 challenge.
///
/// It verifies with any [`VerifyAccess`]: a local
/// [`TokenVerifier`](clientcreds_jwt::TokenVerifier), a
/// [`RemoteKeySet`](crate::RemoteKeySet) or [`Issuers`](crate::Issuers).
///
/// ```
/// use std::sync::Arc;
/// use clientcreds_resource::BearerAuthLayer;
/// use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenVerifier, Validation};
///
/// let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA)?));
/// let verifier = Arc::new(TokenVerifier::new(keys, Validation::new("https://auth.example.com", "https://api.example.com")));
/// // Any valid token:
/// let any = BearerAuthLayer::new(verifier.clone());
/// // And, per route, one that also requires a scope:
/// let echo = BearerAuthLayer::new(verifier).require_scope("echo");
/// # let _ = (any, echo);
/// # Ok::<(), clientcreds_jwt::KeyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BearerAuthLayer {
    verifier: Arc<dyn VerifyAccess>,
    live: Option<Arc<dyn LiveCheck>>,
    clock: Arc<dyn Clock>,
    scopes: Arc<[String]>,
    tenants: Option<Arc<[String]>>,
    realm: Arc<str>,
}

impl BearerAuthLayer {
    /// Requires a valid token, verified by `verifier`.
    #[must_use]
    pub fn new<V: VerifyAccess>(verifier: Arc<V>) -> Self {
        Self::from_dyn(verifier)
    }

    /// [`BearerAuthLayer::new`] for a verifier already behind `dyn`.
    #[must_use]
    pub fn from_dyn(verifier: Arc<dyn VerifyAccess>) -> Self {
        Self {
            verifier,
            live: None,
            clock: Arc::new(SystemClock),
            scopes: Arc::new([]),
            tenants: None,
            realm: Arc::from("api"),
        }
    }

    /// Also requires `scope`.
    #[must_use]
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        let mut scopes = self.scopes.to_vec();
        scopes.push(scope.into());
        self.scopes = scopes.into();
        self
    }

    /// Accepts only tokens of `tenant` (call again to accept more). A token
    /// of any other tenant, or without a tenant, is answered
    /// `invalid_token`, whatever its
    /// audience and scopes: the administrator of any tenant can give a
    /// client any audience and scope, so a resource server that serves
    /// some tenants only must say which. (The same check is
    /// [`Validation::tenants`](clientcreds_jwt::Validation::tenants) when
    /// you build the verifier yourself.)
    #[must_use]
    pub fn require_tenant(mut self, tenant: impl Into<String>) -> Self {
        let mut tenants = self
            .tenants
            .as_deref()
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        tenants.push(tenant.into());
        self.tenants = Some(tenants.into());
        self
    }

    /// Also checks that the token's client is still live (opt-in).
    #[must_use]
    pub fn with_live_check<L: LiveCheck>(mut self, check: Arc<L>) -> Self {
        self.live = Some(check);
        self
    }

    /// Verifies `exp` and `nbf` by `clock` (default: the system's).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the challenge's realm (default `api`).
    #[must_use]
    pub fn with_realm(mut self, realm: &str) -> Self {
        self.realm = Arc::from(realm);
        self
    }

    async fn authorize<B>(&self, request: &mut Request<B>) -> Result<(), BearerChallenge> {
        let token = bearer_token(request.headers())?;
        let context = self.verifier.verify_at(token, self.clock.now()).await?;
        if let Some(tenants) = &self.tenants {
            // A token without a tenant is refused like one of another tenant.
            match context.tenant() {
                Some(tenant) if tenants.iter().any(|t| t == tenant) => {}
                _ => return Err(clientcreds_jwt::VerifyError::WrongTenant.into()),
            }
        }
        if let Some(live) = &self.live {
            live.check(&context).await?;
        }
        for scope in self.scopes.iter() {
            context.require_scope(scope)?;
        }
        request.extensions_mut().insert(context);
        Ok(())
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            config: self.clone(),
        }
    }
}

/// The service [`BearerAuthLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct BearerAuth<S> {
    inner: S,
    config: BearerAuthLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BearerAuth<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The inner service that was driven to readiness is the one to call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            match config.authorize(&mut request).await {
                Ok(()) => inner.call(request).await,
                Err(challenge) => Ok(challenge.response(&config.realm).map(ResBody::from)),
            }
        })
    }
}
