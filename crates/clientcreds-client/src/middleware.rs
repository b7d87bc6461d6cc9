//! `Authorization: Bearer` for reqwest through `reqwest-middleware`
//! (feature `middleware`).

use http::header::AUTHORIZATION;
use reqwest_middleware::{Middleware, Next};

use crate::{Error, TokenSource};

/// Adds the source's token to every request *for the API's origin*; on a
/// 401 `invalid_token`, drops that token, and sends the request once more
/// with a fresh one when the request can be cloned (its body is not a
/// stream). Never twice: the second response is returned as it is.
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
        let token = self
            .source
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let header = token
            .authorization()
            .map_err(reqwest_middleware::Error::middleware)?;
        request.headers_mut().insert(AUTHORIZATION, header);
        let replay = request.try_clone();
        let response = next.clone().run(request, extensions).await?;
        if !crate::is_invalid_token(response.status(), response.headers()) {
            return Ok(response);
        }
        self.source.invalidate(&token).await;
        let Some(mut retry) = replay else {
            tracing::debug!("401 invalid_token; request body cannot be replayed");
            return Ok(response);
        };
        drop(response);
        let fresh = self
            .source
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let header = fresh
            .authorization()
            .map_err(reqwest_middleware::Error::middleware)?;
        retry.headers_mut().insert(AUTHORIZATION, header);
        tracing::debug!("401 invalid_token; retrying once with a fresh token");
        next.run(retry, extensions).await
    }
}
