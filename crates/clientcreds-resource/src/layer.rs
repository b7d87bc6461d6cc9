//! A tower layer that verifies bearer tokens (feature `tower`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Extensions, HeaderMap, HeaderValue, Method, Request, Response, Uri};
use time::OffsetDateTime;
use tower_layer::Layer;
use tower_service::Service;

use crate::dpop::{DPOP_NONCE_HEADER, check_binding, replay_key};
use crate::{
    BearerChallenge, ChallengeOptions, Clock, DpopConfig, LiveCheck, Scheme, Schemes, SystemClock,
    VerifyAccess, access_token,
};

/// Verifies the request's access token, requires scopes, and puts the
/// [`AccessContext`](clientcreds_jwt::AccessContext) and the [`Scheme`]
/// it came with into the request's extensions; otherwise answers with
/// the RFC 6750 / RFC 9449 challenges.
///
/// Both schemes by default ([`Schemes::Both`]): `Authorization: Bearer`
/// for unbound tokens, `Authorization: DPoP` with a `DPoP` proof for
/// DPoP-bound ones (a bound token sent as `Bearer` is refused). The proof
/// is checked as RFC 9449 §4.3 and §7.1 say, with [`DpopConfig`]: `ath`,
/// `htm`, `htu` of this request, the token's `cnf.jkt`, single use, and
/// the optional nonce. Layers nested on one route check the proof once
/// each but record it once.
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
    schemes: Schemes,
    dpop: DpopConfig,
    resource_metadata: Option<Arc<str>>,
}

/// The replay key of the proof an outer layer already recorded for this
/// request (private: only a layer can put it there).
#[derive(Clone, Debug)]
struct RecordedProof(String);

/// What a refusal needs for its response.
struct Refusal {
    challenge: BearerChallenge,
    used: Option<Scheme>,
}

impl From<BearerChallenge> for Refusal {
    fn from(challenge: BearerChallenge) -> Self {
        Self {
            challenge,
            used: None,
        }
    }
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
            schemes: Schemes::default(),
            dpop: DpopConfig::default(),
            resource_metadata: None,
        }
    }

    /// Accepts these schemes (default [`Schemes::Both`]).
    #[must_use]
    pub fn schemes(mut self, schemes: Schemes) -> Self {
        self.schemes = schemes;
        self
    }

    /// Checks DPoP proofs by `config` (default: [`DpopConfig::default`],
    /// with a replay cache of this layer's own; give every layer of a
    /// process the same configuration so that they share it).
    #[must_use]
    pub fn with_dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = config;
        self
    }

    /// Names the resource's RFC 9728 metadata URL in every challenge
    /// (`resource_metadata`), as
    /// [`ProtectedResourceMetadata::metadata_url`](crate::ProtectedResourceMetadata::metadata_url)
    /// gives it.
    #[must_use]
    pub fn with_resource_metadata(mut self, url: &str) -> Self {
        self.resource_metadata = Some(Arc::from(url));
        self
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

    /// Authorizes `request` as the layer does, for hosts that call it
    /// themselves: on success the [`AccessContext`](clientcreds_jwt::AccessContext)
    /// and the [`Scheme`] are in its extensions, and the value is a fresh
    /// `DPoP-Nonce` to send back when the proof's nonce is aging; on
    /// refusal, the response to send.
    ///
    /// # Errors
    /// The challenge response (401, 400, 403 or 503).
    pub async fn authorize<B>(
        &self,
        request: &mut Request<B>,
    ) -> Result<Option<String>, Response<String>> {
        self.authorize_inner(request).await.map_err(|refusal| {
            refusal.challenge.response_with(&ChallengeOptions {
                realm: &self.realm,
                schemes: self.schemes,
                used: refusal.used,
                algorithms: self.dpop.accepted_algorithms(),
                resource_metadata: self.resource_metadata.as_deref(),
            })
        })
    }

    async fn authorize_inner<B>(
        &self,
        request: &mut Request<B>,
    ) -> Result<Option<String>, Refusal> {
        // The extensions apart, so that the token can stay borrowed from
        // the headers while the verified context goes in.
        let mut extensions = std::mem::take(request.extensions_mut());
        let uri = original_uri(request.uri(), &extensions).clone();
        let result = self
            .authorize_parts(request.method(), &uri, request.headers(), &mut extensions)
            .await;
        *request.extensions_mut() = extensions;
        result
    }

    async fn authorize_parts(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        extensions: &mut Extensions,
    ) -> Result<Option<String>, Refusal> {
        let credentials = access_token(headers).map_err(|e| Refusal {
            challenge: e.into(),
            used: scheme_named(headers),
        })?;
        if !self.schemes.accepts(credentials.scheme) {
            return Err(BearerChallenge::Missing.into());
        }
        let used = Some(credentials.scheme);
        let refuse = |error: BearerChallenge| Refusal {
            challenge: error,
            used,
        };
        let now = self.clock.now();
        let proof = match credentials.scheme {
            Scheme::Bearer => None,
            Scheme::Dpop => {
                let url = self.dpop.request_url(uri, headers);
                let checked = self
                    .dpop
                    .check_request(method, url.as_deref(), headers, credentials.token, now)
                    .map_err(|e| refuse(e.into()))?;
                Some(checked)
            }
        };
        let context = self
            .verifier
            .verify_at(credentials.token, now)
            .await
            .map_err(|e| refuse(e.into()))?;
        check_binding(credentials, &context, proof.as_ref()).map_err(|e| refuse(e.into()))?;
        let next_nonce = match &proof {
            Some(proof) => self.record(extensions, proof, now).await.map_err(refuse)?,
            None => None,
        };
        if let Some(tenants) = &self.tenants {
            // A token without a tenant is refused like one of another tenant.
            match context.tenant() {
                Some(tenant) if tenants.iter().any(|t| t == tenant) => {}
                _ => return Err(refuse(clientcreds_jwt::VerifyError::WrongTenant.into())),
            }
        }
        if let Some(live) = &self.live {
            live.check(&context).await.map_err(|e| refuse(e.into()))?;
        }
        for scope in self.scopes.iter() {
            context.require_scope(scope).map_err(|e| refuse(e.into()))?;
        }
        extensions.insert(context);
        extensions.insert(credentials.scheme);
        Ok(next_nonce)
    }

    /// Records the proof (once per request, however many layers), and
    /// says which nonce to send back, if one is due.
    async fn record(
        &self,
        extensions: &mut Extensions,
        proof: &clientcreds_jwt::dpop::CheckedProof,
        now: OffsetDateTime,
    ) -> Result<Option<String>, BearerChallenge> {
        let key = replay_key(proof);
        let recorded = extensions
            .get::<RecordedProof>()
            .is_some_and(|r| r.0 == key);
        if !recorded {
            self.dpop.record_key(&key, proof.expires_at, now).await?;
            extensions.insert(RecordedProof(key));
        }
        Ok(self.dpop.nonce_source().and_then(|nonces| {
            proof
                .nonce
                .as_deref()
                .filter(|n| nonces.is_aging(n, now))
                .map(|_| nonces.current(now))
        }))
    }
}

/// The scheme a malformed `Authorization` header names, if any: its
/// challenge comes first.
fn scheme_named(headers: &HeaderMap) -> Option<Scheme> {
    let value = headers.get(http::header::AUTHORIZATION)?.as_bytes();
    let name = value.split(|b| *b == b' ').next()?;
    if name.eq_ignore_ascii_case(b"dpop") {
        Some(Scheme::Dpop)
    } else if name.eq_ignore_ascii_case(b"bearer") {
        Some(Scheme::Bearer)
    } else {
        None
    }
}

/// The URI the client addressed: axum's `OriginalUri` when a router
/// nested this service (it strips the prefix from the request's URI).
fn original_uri<'a>(uri: &'a Uri, extensions: &'a Extensions) -> &'a Uri {
    #[cfg(feature = "axum")]
    if let Some(original) = extensions.get::<axum::extract::OriginalUri>() {
        return &original.0;
    }
    #[cfg(not(feature = "axum"))]
    let _ = extensions;
    uri
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            config: Arc::new(self.clone()),
        }
    }
}

/// The service [`BearerAuthLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct BearerAuth<S> {
    inner: S,
    // Behind one `Arc`: a request clones one pointer, not each of the
    // layer's shared parts.
    config: Arc<BearerAuthLayer>,
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
                Ok(next_nonce) => {
                    let mut response = inner.call(request).await?;
                    if let Some(value) = next_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
                        response.headers_mut().insert(DPOP_NONCE_HEADER, value);
                    }
                    Ok(response)
                }
                Err(response) => Ok(response.map(ResBody::from)),
            }
        })
    }
}
