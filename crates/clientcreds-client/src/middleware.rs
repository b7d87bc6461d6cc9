//! `Authorization: Bearer` for reqwest through `reqwest-middleware`
//! (feature `middleware`).

use http::header::AUTHORIZATION;
use reqwest_middleware::{Middleware, Next};

use crate::TokenSource;

/// Adds the source's token to every request; on a 401 `invalid_token`,
/// drops that token, and sends the request once more with a fresh one when
/// the request can be cloned (its body is not a stream). Never twice: the
/// second response is returned as it is.
///
/// An `Authorization` header already on the request is replaced.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use clientcreds_client::{BearerMiddleware, ClientSecret, TokenClient, TokenRequest};
///
/// let tokens = TokenClient::builder("svc_123", ClientSecret::new("cs_…"))
///     .token_endpoint("https://auth.example/oauth/token")
///     .build()?;
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(BearerMiddleware::new(tokens.source(TokenRequest::new().scope("echo"))?))
///     .build();
/// let response = http.get("https://api.example/v1/whoami").send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BearerMiddleware {
    source: TokenSource,
}

impl BearerMiddleware {
    /// Middleware that authenticates requests with `source`'s tokens.
    #[must_use]
    pub fn new(source: TokenSource) -> Self {
        Self { source }
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
