//! The OAuth side: token endpoint, introspection, RFC 8414 metadata, JWKS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clientcreds_http::{
    AuthorizationServerMetadata, TokenRequestParser, introspection_response, json_response,
    rejected_response, token_error_response, token_response,
};
use clientcreds_jwt::{KeySet, TokenVerifier};
use clientcreds_registry::{KeyRotationPolicy, Source, TokenService};

use crate::proxy::{ClientAddress, SourceFinder, TrustedProxies};

/// The `WWW-Authenticate` realm when none is set.
pub const DEFAULT_REALM: &str = "clientcreds";

/// The issuer's public endpoints, as axum routers.
///
/// [`OAuthRoutes::endpoints`] serves `POST /token` and `POST /introspect`;
/// [`OAuthRoutes::well_known`] serves `GET /.well-known/jwks.json` and
/// `GET /.well-known/oauth-authorization-server`; [`OAuthRoutes::router`]
/// is both. Mount them where the metadata says they are (by default
/// `/oauth/token`, `/oauth/introspect` and `/.well-known/...` under the
/// issuer, see [`AuthorizationServerMetadata::new`]); change the metadata
/// with [`OAuthRoutes::with_metadata`] when you mount elsewhere.
///
/// The handlers are thin: parsing and every response (status, body,
/// `WWW-Authenticate`, `Cache-Control`) come from `clientcreds-http`, the
/// exchange from the registry's [`TokenService`].
#[derive(Clone)]
pub struct OAuthRoutes {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    tokens: TokenService,
    verifier: Arc<TokenVerifier>,
    keys: Arc<KeySet>,
    parser: TokenRequestParser,
    metadata: AuthorizationServerMetadata,
    realm: String,
    jwks_cache_control: HeaderValue,
    sources: SourceFinder,
    /// Set once the "no caller address" warning was logged (shared by
    /// every clone of these routes, so it is logged once).
    warned_no_source: Arc<AtomicBool>,
}

impl OAuthRoutes {
    /// Routes over `tokens` (which signs with its issuer's key set, also
    /// served as the JWKS) and `verifier` (for introspection). The
    /// metadata is [`AuthorizationServerMetadata::new`] for the issuer; the
    /// JWKS may be cached for the default key rotation policy's
    /// [`jwks_max_age`](KeyRotationPolicy::jwks_max_age) (15 minutes), the
    /// lifetime its publish lead is sized for. With another policy, pass
    /// its `jwks_max_age` to [`OAuthRoutes::with_jwks_max_age`] (the
    /// [`Issuer`](crate::Issuer) builder does).
    #[must_use]
    pub fn new(tokens: TokenService, verifier: Arc<TokenVerifier>) -> Self {
        let issuer = tokens.issuer().issuer().to_owned();
        let keys = tokens.issuer().keys().clone();
        let mut metadata = AuthorizationServerMetadata::new(&issuer);
        // A registry that accepts client assertions says so (RFC 8414).
        if let Some(assertions) = tokens.registry().client_assertions() {
            metadata = metadata.with_client_assertions(&assertions.policy().algorithms);
        }
        if let Some(dpop) = tokens.dpop() {
            metadata = metadata.with_dpop(&dpop.algorithms);
        }
        let routes = Self {
            inner: Arc::new(Inner {
                tokens,
                verifier,
                keys,
                parser: TokenRequestParser::default(),
                metadata,
                realm: DEFAULT_REALM.to_owned(),
                jwks_cache_control: HeaderValue::from_static("public, max-age=0"),
                sources: SourceFinder::default(),
                warned_no_source: Arc::new(AtomicBool::new(false)),
            }),
        };
        routes.with_jwks_max_age(KeyRotationPolicy::default().jwks_max_age)
    }

    fn update(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
    }

    /// Serves this metadata document instead of the default.
    #[must_use]
    pub fn with_metadata(self, metadata: AuthorizationServerMetadata) -> Self {
        self.update(|inner| inner.metadata = metadata)
    }

    /// Parses token requests with `parser` (body limit, accepted forms).
    #[must_use]
    pub fn with_parser(self, parser: TokenRequestParser) -> Self {
        self.update(|inner| inner.parser = parser)
    }

    /// The realm of `WWW-Authenticate` challenges.
    #[must_use]
    pub fn with_realm(self, realm: impl Into<String>) -> Self {
        let realm = realm.into();
        self.update(|inner| inner.realm = realm)
    }

    /// How long verifiers may cache the JWKS (`Cache-Control: public,
    /// max-age=<seconds>`): the key rotation policy's `jwks_max_age`,
    /// which its publish lead is checked against.
    #[must_use]
    pub fn with_jwks_max_age(self, max_age: time::Duration) -> Self {
        let value = format!("public, max-age={}", max_age.whole_seconds().max(0));
        match HeaderValue::from_str(&value) {
            Ok(value) => self.update(|inner| inner.jwks_cache_control = value),
            Err(_) => self,
        }
    }

    /// Believes the forwarding header of these proxies: the caller's
    /// address, for the registry's failure throttle
    /// (`ExchangeRequest::source`), is the right-most hop that is not one of
    /// them (see [`TrustedProxies`]). The peer address comes from axum's
    /// connection info: serve the router with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, or nothing is
    /// throttled (and the first request without an address logs one
    /// warning saying so).
    ///
    /// The default trusts no proxy: the peer is the caller, and a loopback
    /// peer (a local proxy or sidecar) is a shared source, which the
    /// throttle does not count per source.
    ///
    /// ```
    /// # fn routes(r: clientcreds_axum::OAuthRoutes) -> Result<clientcreds_axum::OAuthRoutes, clientcreds_axum::Error> {
    /// use clientcreds_axum::TrustedProxies;
    /// // Our load balancers live in 10.0.0.0/8 and write X-Forwarded-For.
    /// Ok(r.with_trusted_proxies(TrustedProxies::parse("10.0.0.0/8")?))
    /// # }
    /// ```
    #[must_use]
    pub fn with_trusted_proxies(self, proxies: TrustedProxies) -> Self {
        self.update(|inner| inner.sources = SourceFinder::proxies(proxies))
    }

    /// Finds the caller's address with the host's own function instead
    /// (replacing [`OAuthRoutes::with_trusted_proxies`]): the address it
    /// returns is taken as the caller's own, so it must come from
    /// something only your infrastructure can set, never a header any
    /// caller can send. `None` turns throttling off for that request.
    #[must_use]
    pub fn with_client_address(self, find: ClientAddress) -> Self {
        self.update(|inner| inner.sources = SourceFinder::Custom(find))
    }

    /// `POST /token` and `POST /introspect`, to nest where they live
    /// (`Router::nest("/oauth", routes.endpoints())`).
    pub fn endpoints(&self) -> Router {
        self.endpoints_at("")
    }

    /// `POST {prefix}/token` and `POST {prefix}/introspect`, to merge:
    /// the same routes as [`OAuthRoutes::endpoints`] nested at `prefix`
    /// (`"/oauth"`), without the nesting's rewrite of every request's URI
    /// (about 1 % of a token request's time).
    ///
    /// ```
    /// # fn app(routes: clientcreds_axum::OAuthRoutes) -> axum::Router {
    /// axum::Router::new().merge(routes.endpoints_at("/oauth")).merge(routes.well_known())
    /// # }
    /// ```
    ///
    /// Slashes around the prefix are optional. It is a literal path: a
    /// prefix with route syntax in it (`{id}`, or a segment starting with
    /// `:` or `*`) is refused.
    ///
    /// # Panics
    /// On such a prefix, as axum's `Router::route` does on an invalid
    /// route: it is the host's constant, not request input.
    pub fn endpoints_at(&self, prefix: &str) -> Router {
        let trimmed = prefix.trim_matches('/');
        assert!(
            !trimmed.contains(['{', '}'])
                && !trimmed
                    .split('/')
                    .any(|segment| segment.starts_with([':', '*'])),
            "OAuthRoutes::endpoints_at: `{prefix}` is not a literal path prefix"
        );
        let prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        Router::new()
            .route(&format!("{prefix}/token"), post(token))
            .route(&format!("{prefix}/introspect"), post(introspect))
            .with_state(self.clone())
    }

    /// `GET /.well-known/jwks.json` and
    /// `GET /.well-known/oauth-authorization-server`.
    pub fn well_known(&self) -> Router {
        Router::new()
            .route("/.well-known/jwks.json", get(jwks))
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .with_state(self.clone())
    }

    /// [`OAuthRoutes::endpoints`] and [`OAuthRoutes::well_known`] together.
    pub fn router(&self) -> Router {
        self.endpoints().merge(self.well_known())
    }
}

impl std::fmt::Debug for OAuthRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRoutes")
            .field("issuer", &self.inner.metadata.issuer)
            .field("token_endpoint", &self.inner.metadata.token_endpoint)
            .finish_non_exhaustive()
    }
}

/// The caller's address, as [`OAuthRoutes::with_trusted_proxies`] or
/// [`OAuthRoutes::with_client_address`] finds it.
struct Caller(Option<Source>);

impl FromRequestParts<OAuthRoutes> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        routes: &OAuthRoutes,
    ) -> Result<Self, Self::Rejection> {
        let source = routes.inner.sources.find(parts);
        if source.is_none() && !routes.inner.warned_no_source.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "a token request arrived without the caller's address, so the failure \
                 throttle is off for such requests: serve the router with \
                 `into_make_service_with_connect_info::<SocketAddr>()` (and, behind a proxy, \
                 set `OAuthRoutes::with_trusted_proxies`) (logged once)"
            );
        }
        Ok(Self(source))
    }
}

async fn token(
    State(routes): State<OAuthRoutes>,
    Caller(source): Caller,
    mut request: Request,
) -> Response {
    // The headers moved out, not cloned (the `HeaderMap` extractor
    // clones); the body read as the `Bytes` extractor reads it (with the
    // router's `DefaultBodyLimit`).
    let headers = std::mem::take(request.headers_mut());
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) => return rejection.into_response(),
    };
    token_for(&routes, source, &headers, &body)
        .await
        .into_response()
}

async fn token_for(
    routes: &OAuthRoutes,
    source: Option<Source>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<String> {
    let inner = &routes.inner;
    match inner.parser.parse(headers, body) {
        Err(rejected) => rejected_response(&rejected, &inner.realm),
        Ok(parsed) => {
            let mut request = parsed.request;
            request.source = source;
            let mut response = match inner.tokens.exchange(request).await {
                Ok(response) => token_response(&response),
                Err(error) => {
                    tracing::info!(error = error.code.as_str(), "token request refused");
                    token_error_response(&error, parsed.auth, &inner.realm)
                }
            };
            // RFC 9449 §8: with server nonces on, every answer carries the
            // current one (a `use_dpop_nonce` error needs it).
            if let Some(nonce) = inner.tokens.dpop_nonce()
                && let Ok(value) = axum::http::HeaderValue::from_str(&nonce)
            {
                response.headers_mut().insert("dpop-nonce", value);
            }
            response
        }
    }
}

/// RFC 7662 through [`TokenService::introspect`]: the caller authenticates
/// as a client (else 401 with a challenge); a token of another tenant, or
/// of a client or secret revoked since, is `{"active": false}`.
async fn introspect(
    State(routes): State<OAuthRoutes>,
    Caller(source): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response<String> {
    let inner = &routes.inner;
    let request = match inner.parser.parse_introspection(&headers, &body) {
        Ok(request) => request,
        Err(rejected) => return rejected_response(&rejected, &inner.realm),
    };
    match inner
        .tokens
        .introspect(request.introspection(source), &inner.verifier)
        .await
    {
        Ok(context) => {
            let body = introspection_response(context.as_ref(), &inner.metadata.issuer);
            json_response(StatusCode::OK, body.to_string())
        }
        Err(error) => token_error_response(&error, request.auth, &inner.realm),
    }
}

async fn jwks(State(routes): State<OAuthRoutes>) -> Response {
    let mut response = Json(routes.inner.keys.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        routes.inner.jwks_cache_control.clone(),
    );
    response
}

async fn metadata(State(routes): State<OAuthRoutes>) -> Json<AuthorizationServerMetadata> {
    Json(routes.inner.metadata.clone())
}
