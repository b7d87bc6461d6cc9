//! [`TokenClient`]: one client's credentials at one authorization server,
//! and its builder.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(feature = "private-key-jwt")]
use crate::AssertionKey;
use crate::assertion::Credential;
#[cfg(feature = "dpop")]
use crate::dpop::{Dpop, DpopKey};
use crate::protocol::{self, AuthMethod};
use crate::source::{Slot, TokenSource};
use crate::{
    AccessToken, AssertionSource, CacheKey, ClientSecret, Clock, Error, MemoryCache, SystemClock,
    TokenCache, TokenRequest, Transport,
};

/// The caller's token cache for one client at one authorization server.
///
/// Cheap to clone (shared state). Hand out a [`TokenSource`] per scope set
/// and audience with [`TokenClient::source`]; each source keeps one token,
/// refreshes it early, once, and backs off on failure. See the
/// [crate docs](crate) for the rules.
#[derive(Clone)]
pub struct TokenClient {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) endpoint: http::Uri,
    pub(crate) endpoint_text: String,
    pub(crate) client_id: String,
    pub(crate) credential: Credential,
    pub(crate) auth: AuthMethod,
    /// The `aud` of signed assertions: the configured audience, else the
    /// issuer, else the token endpoint.
    #[cfg(feature = "private-key-jwt")]
    pub(crate) assertion_audience: String,
    /// What the cache key adds for the credential and the DPoP key.
    cache_identity: String,
    /// The DPoP key and the nonces servers sent, when tokens are bound.
    #[cfg(feature = "dpop")]
    pub(crate) dpop: Option<Dpop>,
    pub(crate) policy: Policy,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) cache: Arc<dyn TokenCache>,
    slots: Mutex<HashMap<CacheKey, Arc<Slot>>>,
}

/// The time rules, set through [`TokenClientBuilder`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) margin: Duration,
    pub(crate) jitter: Duration,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) negative_ttl: Duration,
    pub(crate) default_lifetime: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(60),
            jitter: Duration::from_secs(30),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(30),
            default_lifetime: Duration::from_secs(300),
        }
    }
}

impl TokenClient {
    /// Starts configuring a client with its id and secret
    /// (`client_secret_basic`, or `client_secret_post` through
    /// [`TokenClientBuilder::auth_method`]).
    pub fn builder(client_id: impl Into<String>, secret: ClientSecret) -> TokenClientBuilder {
        TokenClientBuilder::new(client_id.into(), Credential::Secret(secret))
    }

    /// Starts configuring a `private_key_jwt` client (RFC 7523 §2.2): every
    /// token request carries a new assertion signed with `key`, and no
    /// secret. The assertion's `aud` is the [issuer](TokenClientBuilder::issuer)
    /// (see [`AssertionKey::with_audience`]).
    ///
    /// ```
    /// use clientcreds_client::{AssertionKey, TokenClient, TokenRequest};
    /// # let jwk = r#"{"kty":"OKP","crv":"Ed25519","kid":"svc-key-1",
    /// #   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    /// #   "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#;
    /// let key = AssertionKey::from_jwk(jwk)?; // the JWK's `kid` is sent
    /// assert_eq!(key.kid(), "svc-key-1");
    /// let tokens = TokenClient::builder_with_key("svc_123", key)
    ///     .issuer("https://auth.example")
    ///     .token_endpoint("https://auth.example/oauth/token")
    ///     .build()?;
    /// assert_eq!(tokens.client_id(), "svc_123");
    /// # Ok::<(), clientcreds_client::Error>(())
    /// ```
    #[cfg(feature = "private-key-jwt")]
    pub fn builder_with_key(client_id: impl Into<String>, key: AssertionKey) -> TokenClientBuilder {
        TokenClientBuilder::new(client_id.into(), Credential::Key(key))
    }

    /// Starts configuring a federated client (RFC 7521 §4.2): every token
    /// request carries the assertion `source` yields at that moment (a
    /// Kubernetes service-account token re-read from its file, say), and
    /// no secret.
    ///
    /// ```
    /// use clientcreds_client::{AssertionSource, TokenClient};
    /// let tokens = TokenClient::builder_with_assertion(
    ///     "svc_123",
    ///     AssertionSource::file("/var/run/secrets/tokens/clientcreds"),
    /// )
    /// .token_endpoint("https://auth.example/oauth/token")
    /// .build()?;
    /// # let _ = tokens;
    /// # Ok::<(), clientcreds_client::Error>(())
    /// ```
    pub fn builder_with_assertion(
        client_id: impl Into<String>,
        source: AssertionSource,
    ) -> TokenClientBuilder {
        TokenClientBuilder::new(client_id.into(), Credential::Assertion(source))
    }

    /// The token source for `request`'s scopes and audience. Sources for
    /// equal requests share one cache entry and one refresh.
    ///
    /// This takes a short lock to find the entry; keep the source and call
    /// [`TokenSource::token`] on the hot path.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if a scope, audience or resource cannot be sent.
    pub fn source(&self, request: TokenRequest) -> Result<TokenSource, Error> {
        request.validate()?;
        let key = CacheKey::new(
            &self.inner.endpoint_text,
            &self.inner.client_id,
            &self.inner.cache_identity,
            &request,
        );
        let slot = {
            let mut slots = self
                .inner
                .slots
                .lock()
                .map_err(|_| Error::Cache("token source map poisoned".into()))?;
            slots
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Slot::new(key, request)))
                .clone()
        };
        Ok(TokenSource::new(self.inner.clone(), slot))
    }

    /// A token for `request`: [`TokenClient::source`] then
    /// [`TokenSource::token`].
    ///
    /// # Errors
    ///
    /// As [`TokenSource::token`], plus [`Error::Config`] for a request that
    /// cannot be sent.
    pub async fn token(&self, request: &TokenRequest) -> Result<AccessToken, Error> {
        self.source(request.clone())?.token().await
    }

    /// The token endpoint (configured or discovered).
    #[must_use]
    pub fn token_endpoint(&self) -> &str {
        &self.inner.endpoint_text
    }

    /// The client id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The DPoP key tokens are bound to, when the client has one (see
    /// [`TokenClientBuilder::dpop`]).
    #[cfg(feature = "dpop")]
    #[must_use]
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref().map(|dpop| &dpop.key)
    }
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClient")
            .field("token_endpoint", &self.inner.endpoint_text)
            .field("client_id", &self.inner.client_id)
            .field("auth", &self.inner.credential.method_name(self.inner.auth))
            .field("credential", &self.inner.credential)
            .field("dpop", &self.inner.dpop_thumbprint())
            .finish_non_exhaustive()
    }
}

impl ClientInner {
    /// The DPoP key's thumbprint, for `Debug` and logs.
    pub(crate) fn dpop_thumbprint(&self) -> Option<&str> {
        #[cfg(feature = "dpop")]
        {
            self.dpop.as_ref().map(|dpop| dpop.key.thumbprint())
        }
        #[cfg(not(feature = "dpop"))]
        {
            None
        }
    }
}

/// Configures a [`TokenClient`]; see [`TokenClient::builder`].
#[must_use]
pub struct TokenClientBuilder {
    client_id: String,
    credential: Credential,
    endpoint: Option<String>,
    issuer: Option<String>,
    auth: Option<AuthMethod>,
    policy: Policy,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    cache: Option<Arc<dyn TokenCache>>,
    allow_http: bool,
    #[cfg(feature = "dpop")]
    dpop: Option<DpopKey>,
    #[cfg(feature = "dpop")]
    dpop_allow_bearer: bool,
}

impl fmt::Debug for TokenClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClientBuilder")
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("token_endpoint", &self.endpoint)
            .field("issuer", &self.issuer)
            .field("dpop", &self.dpop_debug())
            .finish_non_exhaustive()
    }
}

impl TokenClientBuilder {
    fn new(client_id: String, credential: Credential) -> Self {
        Self {
            client_id,
            credential,
            endpoint: None,
            issuer: None,
            auth: None,
            policy: Policy::default(),
            transport: None,
            clock: Arc::new(SystemClock),
            cache: None,
            allow_http: false,
            #[cfg(feature = "dpop")]
            dpop: None,
            #[cfg(feature = "dpop")]
            dpop_allow_bearer: false,
        }
    }

    fn dpop_debug(&self) -> Option<&str> {
        #[cfg(feature = "dpop")]
        {
            self.dpop.as_ref().map(DpopKey::thumbprint)
        }
        #[cfg(not(feature = "dpop"))]
        {
            None
        }
    }

    /// Binds this client's tokens to `key` with DPoP (RFC 9449, feature
    /// `dpop`).
    ///
    /// Every token request then carries a `DPoP` proof (`htm` `POST`,
    /// `htu` the token endpoint), and the server is expected to answer
    /// `token_type: DPoP`. Every request that presents such a token
    /// through [`TokenSource::authorize`] ([`BearerMiddleware`](crate::BearerMiddleware)
    /// and [`BearerLayer`](crate::BearerLayer) use it) carries
    /// `Authorization: DPoP <token>` and a new proof for that request
    /// (`htm`, `htu`, `ath` the token's hash). A server's `use_dpop_nonce`
    /// is answered with one retry carrying its nonce; nonces are
    /// remembered per origin. The cache key gains the key's thumbprint,
    /// so tokens bound to one key are never served to a client holding
    /// another.
    ///
    /// ```
    /// use clientcreds_client::{ClientSecret, DpopKey, TokenClient};
    /// let tokens = TokenClient::builder("svc_123", ClientSecret::new("cs_…"))
    ///     .token_endpoint("https://auth.example/oauth/token")
    ///     .dpop(DpopKey::generate()?)
    ///     .build()?;
    /// assert!(tokens.dpop_key().is_some());
    /// # Ok::<(), clientcreds_client::Error>(())
    /// ```
    #[cfg(feature = "dpop")]
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Whether a `token_type: Bearer` answer to a token request with a
    /// DPoP proof is accepted (default `false`: it is an
    /// [`Error::InvalidResponse`], since the host asked for bound tokens
    /// and a server that ignores the proof hands out replayable ones).
    /// Allow it while an authorization server rolls DPoP out; the Bearer
    /// tokens are then sent as `Authorization: Bearer`, without proofs.
    /// Only with [`TokenClientBuilder::dpop`]: building without a key
    /// fails.
    #[cfg(feature = "dpop")]
    pub fn dpop_allow_bearer(mut self, allow: bool) -> Self {
        self.dpop_allow_bearer = allow;
        self
    }

    /// The token endpoint URL.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The issuer, whose RFC 8414 metadata names the token endpoint; use
    /// [`TokenClientBuilder::discover`] to build. With an explicit
    /// [`TokenClientBuilder::token_endpoint`], [`TokenClientBuilder::build`]
    /// needs no metadata; the issuer is then only the `aud` of
    /// `private_key_jwt` assertions.
    pub fn issuer(mut self, url: impl Into<String>) -> Self {
        self.issuer = Some(url.into());
        self
    }

    /// Where the client secret goes (default [`AuthMethod::Basic`]). Only
    /// for clients built with [`TokenClient::builder`]: building a key or
    /// assertion client with it set fails.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth = Some(method);
        self
    }

    /// Refresh when less than this much life remains (default 60 s). For a
    /// token that lives less than twice the margin plus jitter, the refresh
    /// starts at half its life instead.
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.policy.margin = margin;
        self
    }

    /// Up to this much earlier again, chosen at random per token, so that a
    /// fleet does not refresh in step (default 30 s; zero for none).
    pub fn refresh_jitter(mut self, jitter: Duration) -> Self {
        self.policy.jitter = jitter;
        self
    }

    /// Backoff after a failed refresh: `initial`, doubling per consecutive
    /// failure up to `max`, each delay between half and all of that (default
    /// 1 s to 60 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.policy.backoff_initial = initial;
        self.policy.backoff_max = max.max(initial);
        self
    }

    /// After `invalid_client` or `unauthorized_client`, no new request for
    /// this long (default 30 s): callers get the error at once.
    pub fn negative_cache(mut self, ttl: Duration) -> Self {
        self.policy.negative_ttl = ttl;
        self
    }

    /// The lifetime assumed when a response has no `expires_in` and the
    /// token is not a JWT with `exp` (default 300 s).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.policy.default_lifetime = lifetime;
        self
    }

    /// The HTTP transport (default: a `reqwest::Client` without redirects,
    /// feature `reqwest`).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The clock (default [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The shared cache (default: a [`MemoryCache`] of this client's own).
    pub fn cache(mut self, cache: Arc<dyn TokenCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Allows `http://` endpoints on hosts other than loopback. Without it,
    /// only `https://` and `http://` on `localhost`, `127.0.0.0/8` and `[::1]`
    /// are accepted: the client secret must not cross a network in clear.
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Builds the client for the configured token endpoint.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the setting that is missing or invalid.
    pub fn build(mut self) -> Result<TokenClient, Error> {
        let endpoint = self.endpoint.take().ok_or(Error::Config {
            field: "token_endpoint",
            reason: "is required (or set an issuer and call discover)",
        })?;
        let transport = self.take_transport()?;
        self.finish(endpoint, transport)
    }

    /// Fetches the issuer's metadata (RFC 8414 first, then `OpenID`
    /// Connect discovery), checks that it names exactly the same issuer
    /// (RFC 8414 §3.3), and builds the client for its `token_endpoint`. An
    /// explicit [`TokenClientBuilder::token_endpoint`] wins over discovery.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without an issuer; [`Error::Metadata`] when no
    /// metadata can be fetched from either location, or the document is
    /// not the issuer's (the error names the metadata URL).
    pub async fn discover(mut self) -> Result<TokenClient, Error> {
        let transport = self.take_transport()?;
        if let Some(endpoint) = self.endpoint.take() {
            return self.finish(endpoint, transport);
        }
        let issuer = self.issuer.clone().ok_or(Error::Config {
            field: "issuer",
            reason: "is required for discovery",
        })?;
        let issuer_uri = self.checked_uri("issuer", &issuer)?;
        let mut failures = Vec::new();
        let mut found = None;
        for uri in [
            protocol::metadata_uri(&issuer_uri)?,
            protocol::openid_metadata_uri(&issuer_uri)?,
        ] {
            let url = uri.to_string();
            let request = http::Request::get(uri)
                .header(http::header::ACCEPT, "application/json")
                .body(Vec::new())
                .map_err(|_| Error::Config {
                    field: "issuer",
                    reason: "is not a valid URL",
                })?;
            match transport.send(request).await {
                Ok(response) if response.status().is_success() => {
                    // A document is there: it decides (no fallback past a
                    // document that is not the issuer's).
                    let endpoint = protocol::token_endpoint_from_metadata(response.body(), &issuer)
                        .map_err(|reason| Error::Metadata { url, reason })?;
                    found = Some(endpoint);
                    break;
                }
                Ok(response) => {
                    failures.push(format!("{url}: HTTP {}", response.status().as_u16()));
                }
                Err(error) => failures.push(format!("{url}: {error}")),
            }
        }
        let endpoint = found.ok_or_else(|| Error::Metadata {
            url: issuer.clone(),
            reason: format!("no metadata found ({})", failures.join("; ")),
        })?;
        tracing::debug!(%issuer, token_endpoint = %endpoint, "discovered token endpoint");
        self.finish(endpoint, transport)
    }

    fn take_transport(&mut self) -> Result<Arc<dyn Transport>, Error> {
        match self.transport.take() {
            Some(transport) => Ok(transport),
            #[cfg(feature = "reqwest")]
            None => Ok(Arc::new(crate::transport::default_reqwest_client()?)),
            #[cfg(not(feature = "reqwest"))]
            None => Err(Error::Config {
                field: "transport",
                reason: "is required without the reqwest feature",
            }),
        }
    }

    fn checked_uri(&self, field: &'static str, url: &str) -> Result<http::Uri, Error> {
        let uri: http::Uri = url.parse().map_err(|_| Error::Config {
            field,
            reason: "is not a valid URL",
        })?;
        let host = uri.host().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match uri.scheme_str() {
            _ if uri.authority().is_none() => Err(Error::Config {
                field,
                reason: "must be an absolute URL",
            }),
            Some("https") => Ok(uri),
            Some("http") if loopback || self.allow_http => Ok(uri),
            Some("http") => Err(Error::Config {
                field,
                reason: "must use https (http only on loopback, or with danger_allow_insecure_http)",
            }),
            _ => Err(Error::Config {
                field,
                reason: "must be an http(s) URL",
            }),
        }
    }

    fn finish(self, endpoint: String, transport: Arc<dyn Transport>) -> Result<TokenClient, Error> {
        let uri = self.checked_uri("token_endpoint", &endpoint)?;
        if self.client_id.is_empty() || self.client_id.chars().any(char::is_control) {
            return Err(Error::Config {
                field: "client_id",
                reason: "must be non-empty, without control characters",
            });
        }
        match &self.credential {
            Credential::Secret(secret) if secret.expose_secret().is_empty() => {
                return Err(Error::Config {
                    field: "client_secret",
                    reason: "must not be empty",
                });
            }
            Credential::Secret(_) => {}
            #[cfg(feature = "private-key-jwt")]
            Credential::Key(key) => key.validate()?,
            Credential::Assertion(_) => {}
        }
        if self.auth.is_some() && !matches!(self.credential, Credential::Secret(_)) {
            return Err(Error::Config {
                field: "auth_method",
                reason: "applies to a client secret only (a key or assertion client sends client_assertion)",
            });
        }
        #[cfg(feature = "private-key-jwt")]
        let assertion_audience = match &self.credential {
            Credential::Key(key) => key.audience().map(str::to_owned),
            _ => None,
        }
        .or_else(|| self.issuer.clone())
        .unwrap_or_else(|| endpoint.clone());
        #[cfg(feature = "dpop")]
        if self.dpop_allow_bearer && self.dpop.is_none() {
            return Err(Error::Config {
                field: "dpop_allow_bearer",
                reason: "applies only with a DPoP key (TokenClientBuilder::dpop)",
            });
        }
        #[allow(unused_mut)]
        let mut cache_identity = self.credential.cache_identity();
        #[cfg(feature = "dpop")]
        if let Some(key) = &self.dpop {
            if !cache_identity.is_empty() {
                cache_identity.push(' ');
            }
            cache_identity.push_str("dpop:");
            cache_identity.push_str(key.thumbprint());
        }
        let cache = self
            .cache
            .unwrap_or_else(|| Arc::new(MemoryCache::new()) as Arc<dyn TokenCache>);
        Ok(TokenClient {
            inner: Arc::new(ClientInner {
                endpoint: uri,
                endpoint_text: endpoint,
                client_id: self.client_id,
                credential: self.credential,
                auth: self.auth.unwrap_or_default(),
                #[cfg(feature = "private-key-jwt")]
                assertion_audience,
                cache_identity,
                #[cfg(feature = "dpop")]
                dpop: self.dpop.map(|key| Dpop::new(key, self.dpop_allow_bearer)),
                policy: self.policy,
                transport,
                clock: self.clock,
                cache,
                slots: Mutex::new(HashMap::new()),
            }),
        })
    }
}
