//! `Authorization: Bearer` (or `DPoP` with a proof) for tower-based HTTP clients (hyper-util's
//! client, tonic channels, anything that is a `Service<http::Request<B>>`),
//! feature `tower`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::{Retry, TokenSource};

/// The error of [`Bearer`]: the token source's [`Error`](crate::Error) or
/// the inner service's, boxed as tower middleware does.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body that may be sent twice.
///
/// [`Bearer`] retries a request rejected with 401 `invalid_token` once,
/// and needs a second copy of the body for that. Implemented for the
/// buffered bodies; implement it for your own body type, returning `None`
/// for a stream (the request is then not retried, but the rejected token is
/// still dropped so the next request gets a fresh one).
pub trait ReplayBody: Sized {
    /// A copy of the body to send again, or `None` if it cannot be replayed.
    fn replay(&self) -> Option<Self>;
}

impl ReplayBody for () {
    fn replay(&self) -> Option<Self> {
        Some(())
    }
}

impl ReplayBody for String {
    fn replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for Vec<u8> {
    fn replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for bytes::Bytes {
    fn replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D: Clone> ReplayBody for http_body_util::Full<D> {
    fn replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D> ReplayBody for http_body_util::Empty<D> {
    fn replay(&self) -> Option<Self> {
        Some(Self::new())
    }
}

/// Layer that wraps a service in [`Bearer`].
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use bytes::Bytes;
/// use clientcreds_client::{BearerLayer, ClientSecret, TokenClient, TokenRequest};
/// use http_body_util::Full;
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use tower::{Service as _, ServiceExt as _};
/// use tower_layer::Layer as _;
///
/// let tokens = TokenClient::builder("svc_123", ClientSecret::new("cs_…"))
///     .token_endpoint("https://auth.example/oauth/token")
///     .build()?;
/// let hyper = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
/// let mut api = BearerLayer::new(tokens.source(TokenRequest::new())?).layer(hyper);
/// let request = http::Request::get("http://api.example/v1/whoami").body(Full::default())?;
/// let response = api.ready().await?.call(request).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct BearerLayer {
    source: TokenSource,
}

impl BearerLayer {
    /// A layer that authenticates requests with `source`'s tokens.
    #[must_use]
    pub fn new(source: TokenSource) -> Self {
        Self { source }
    }
}

impl<S> Layer<S> for BearerLayer {
    type Service = Bearer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bearer {
            inner,
            source: self.source.clone(),
        }
    }
}

/// Adds the source's token to every request; on a 401 `invalid_token`,
/// drops that token and sends the request once more with a fresh one when
/// the body can be replayed ([`ReplayBody`]). Never twice: the second
/// response is returned as it is. An `Authorization` header already on the
/// request is replaced.
///
/// With a DPoP client, as [`BearerMiddleware`](crate::BearerMiddleware)
/// (feature `middleware`) does: `Authorization: DPoP <token>` and a proof
/// for each request (the request's URI must be absolute, as hyper's
/// client requires anyway), one more attempt on a 401
/// `use_dpop_nonce`, nonces remembered per origin.
#[derive(Debug, Clone)]
pub struct Bearer<S> {
    inner: S,
    source: TokenSource,
}

impl<S, B, R> Service<http::Request<B>> for Bearer<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: ReplayBody + Send + 'static,
    R: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The ready clone serves this call; a fresh clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        Box::pin(async move {
            // The URL only for DPoP (`htu`, the nonce's origin): a Bearer
            // request does not pay for formatting it.
            let url = if source.needs_url() {
                request.uri().to_string()
            } else {
                String::new()
            };
            let mut nonce_retried = false;
            let mut token_retried = false;
            let mut first = true;
            loop {
                if !first {
                    std::future::poll_fn(|cx| inner.poll_ready(cx))
                        .await
                        .map_err(Into::into)?;
                }
                first = false;
                let auth = source.authorize(request.method(), &url).await?;
                auth.apply(request.headers_mut());
                let replay = copy(&request);
                let response = inner.call(request).await.map_err(Into::into)?;
                let advice = source
                    .inspect_response(&url, auth.token(), response.status(), response.headers())
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
        })
    }
}

/// A second copy of the request, if its body can be replayed.
fn copy<B: ReplayBody>(request: &http::Request<B>) -> Option<http::Request<B>> {
    let body = request.body().replay()?;
    let mut copy = http::Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}
