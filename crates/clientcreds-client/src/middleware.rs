//! `Authorization: Bearer` (or `DPoP` with a proof) for reqwest through
//! `reqwest-middleware` (feature `middleware`).

use reqwest_middleware::{Middleware, Next};

use crate::{Error, Retry, TokenSource};

/// Adds the source's token to every request *for the API's origin*; on a
/// 401 `invalid_token`, drops that token, and sends the request once more
/// with a fresh one when the request can be cloned (its body is not a
/// stream). Never twice: the second response is returned as it is.
///
/// With a DPoP client ([`TokenClientBuilder::dpop`](crate::TokenClientBuilder::dpop)),
/// a DPoP-bound token goes as `Authorization: DPoP <token>` with a new
/// `DPoP` proof for each request (`htm` its method, `htu` its URL, `ath`
/// the token's hash), as [`TokenSource::authorize`] makes them. A 401
/// `DPoP error="use_dpop_nonce"` with a `DPoP-Nonce` is answered by one
/// more attempt with that nonce (also at most once), and every `DPoP-Nonce`
/// the API sends is remembered for its origin.
///
/// The token goes only to the origin (scheme, host, port) of the API URL
/// given to [`BearerMiddleware::new`], and to those added with
/// [`BearerMiddleware::also_for`]: a request the wrapped client sends
/// anywhere else (a redirect target, a URL taken from a response, a
/// third-party service) leaves untouched, so the token never leaks there.
/// On the API's origin, an `Authorization` header already on the request
/// is replaced.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use clientcreds_client::{BearerMiddleware, ClientSecret, TokenClient, TokenRequest};
///
/// let tokens = TokenClient::builder("svc_123", ClientSecret::new("cs_…"))
///     .token_endpoint("https://auth.example/oauth/token")
///     .build()?;
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(BearerMiddleware::new(tokens.source(TokenRequest::new().scope("echo"))?, "https://api.example")?)
///     .build();
/// let response = http.get("https://api.example/v1/whoami").send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BearerMiddleware {
    source: TokenSource,
    origins: Vec<Origin>,
}

/// Scheme, host (lowercase) and port (the scheme's default made explicit).
type Origin = (String, String, u16);

fn origin_of(url: &reqwest::Url) -> Option<Origin> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

fn parse_origin(url: &str) -> Result<Origin, Error> {
    reqwest::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .as_ref()
        .and_then(origin_of)
        .ok_or(Error::Config {
            field: "api",
            reason: "must be an absolute http(s) URL of the API the tokens are for",
        })
}

impl BearerMiddleware {
    /// Middleware that authenticates requests to the origin of `api` (for
    /// example `https://api.example.com`, or any URL on it) with
    /// `source`'s tokens.
    ///
    /// # Errors
    /// [`Error::Config`] naming `api` when it is not an absolute http(s) URL.
    pub fn new(source: TokenSource, api: &str) -> Result<Self, Error> {
        Ok(Self {
            source,
            origins: vec![parse_origin(api)?],
        })
    }

    /// Also authenticates requests to the origin of `api`.
    ///
    /// # Errors
    /// As [`BearerMiddleware::new`].
    pub fn also_for(mut self, api: &str) -> Result<Self, Error> {
        self.origins.push(parse_origin(api)?);
        Ok(self)
    }

    /// Whether `url` is on one of the origins (no allocation: this runs on
    /// every request the wrapped client sends).
    fn covers(&self, url: &reqwest::Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return false;
        };
        self.origins.iter().any(|(scheme, their_host, their_port)| {
            *their_port == port && scheme == url.scheme() && their_host.eq_ignore_ascii_case(host)
        })
    }
}

#[async_trait::async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if !self.covers(request.url()) {
            return next.run(request, extensions).await;
        }
        let mut nonce_retried = false;
        let mut token_retried = false;
        loop {
            let auth = self
                .source
                .authorize(request.method(), request.url().as_str())
                .await
                .map_err(reqwest_middleware::Error::middleware)?;
            auth.apply(request.headers_mut());
            let replay = request.try_clone();
            let response = next.clone().run(request, extensions).await?;
            let advice = self
                .source
                .inspect_response(
                    response.url().as_str(),
                    auth.token(),
                    response.status(),
                    response.headers(),
                )
                .await;
            let again = match advice {
                Retry::WithNonce if !nonce_retried => {
                    nonce_retried = true;
                    "use_dpop_nonce; retrying once with the server's nonce"
                }
                Retry::WithFreshToken if !token_retried => {
                    token_retried = true;
                    "401 invalid_token; retrying once with a fresh token"
                }
                _ => return Ok(response),
            };
            let Some(retry) = replay else {
                tracing::debug!("{again}: the request body cannot be replayed");
                return Ok(response);
            };
            drop(response);
            tracing::debug!("{again}");
            request = retry;
        }
    }
}
