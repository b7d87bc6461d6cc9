//! [`TokenClient`]: one client's credentials at one authorization server,
//! and its builder.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::protocol::{self, AuthMethod};
use crate::source::{Slot, TokenSource};
use crate::{
    AccessToken, CacheKey, ClientSecret, Clock, Error, MemoryCache, SystemClock, TokenCache,
    TokenRequest, Transport,
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
    pub(crate) secret: ClientSecret,
    pub(crate) auth: AuthMethod,
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
    /// Starts configuring a client with its id and secret.
    pub fn builder(client_id: impl Into<String>, secret: ClientSecret) -> TokenClientBuilder {
        TokenClientBuilder {
            client_id: client_id.into(),
            secret,
            endpoint: None,
            issuer: None,
            auth: AuthMethod::default(),
            policy: Policy::default(),
            transport: None,
            clock: Arc::new(SystemClock),
            cache: None,
            allow_http: false,
        }
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
        let key = CacheKey::new(&self.inner.endpoint_text, &self.inner.client_id, &request);
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
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClient")
            .field("token_endpoint", &self.inner.endpoint_text)
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &"[redacted]")
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

/// Configures a [`TokenClient`]; see [`TokenClient::builder`].
#[must_use]
pub struct TokenClientBuilder {
    client_id: String,
    secret: ClientSecret,
    endpoint: Option<String>,
    issuer: Option<String>,
    auth: AuthMethod,
    policy: Policy,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    cache: Option<Arc<dyn TokenCache>>,
    allow_http: bool,
}

impl fmt::Debug for TokenClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClientBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("token_endpoint", &self.endpoint)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenClientBuilder {
    /// The token endpoint URL.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The issuer, whose RFC 8414 metadata names the token endpoint; use
    /// [`TokenClientBuilder::discover`] to build.
    pub fn issuer(mut self, url: impl Into<String>) -> Self {
        self.issuer = Some(url.into());
        self
    }

    /// How the client authenticates (default [`AuthMethod::Basic`]).
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.auth = method;
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
        if self.secret.expose_secret().is_empty() {
            return Err(Error::Config {
                field: "client_secret",
                reason: "must not be empty",
            });
        }
        let cache = self
            .cache
            .unwrap_or_else(|| Arc::new(MemoryCache::new()) as Arc<dyn TokenCache>);
        Ok(TokenClient {
            inner: Arc::new(ClientInner {
                endpoint: uri,
                endpoint_text: endpoint,
                client_id: self.client_id,
                secret: self.secret,
                auth: self.auth,
                policy: self.policy,
                transport,
                clock: self.clock,
                cache,
                slots: Mutex::new(HashMap::new()),
            }),
        })
    }
}
