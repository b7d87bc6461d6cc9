//! The reqwest transport (feature `reqwest`).

use std::error::Error as StdError;
use std::time::Duration;

use http::{Response, Uri};

use crate::fetch::MAX_DOCUMENT_LEN;
use crate::{BoxFuture, Transport};

/// A [`Transport`] on a [`reqwest::Client`]: 10 s timeout, at most three
/// redirects and only within the origin first asked (same scheme, host and
/// port: an `https` fetch is never redirected to `http`, another host or
/// loopback), bodies cut off past [`MAX_DOCUMENT_LEN`].
///
/// `https` needs a TLS backend: enable this crate's `rustls-tls` feature
/// (rustls with the web PKI roots), or one of reqwest's own TLS features.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl Default for ReqwestTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl ReqwestTransport {
    /// A transport on a client with the settings above. Should the client
    /// fail to build (no TLS backend can start), reqwest's default client
    /// is used instead.
    #[must_use]
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .redirect(same_origin_redirects())
            .build()
            .unwrap_or_default();
        Self { client }
    }

    /// A transport on your own client (proxies, TLS roots, timeouts).
    #[must_use]
    pub fn with_client(client: reqwest::Client) -> Self {
        Self { client }
    }
}

/// Follows at most three redirects, each to the origin of the first URL.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let origin_of = |url: &reqwest::Url| {
            (
                url.scheme().to_owned(),
                url.host_str().map(str::to_ascii_lowercase),
                url.port_or_known_default(),
            )
        };
        let first = attempt.previous().first().map(origin_of);
        if attempt.previous().len() > 3 {
            attempt.error("more than three redirects")
        } else if first.is_some_and(|first| first == origin_of(attempt.url())) {
            attempt.follow()
        } else {
            attempt.error("a redirect to another origin (scheme, host or port) is refused")
        }
    })
}

impl Transport for ReqwestTransport {
    fn get(
        &self,
        uri: Uri,
    ) -> BoxFuture<'static, Result<Response<Vec<u8>>, Box<dyn StdError + Send + Sync>>> {
        let client = self.client.clone();
        Box::pin(async move {
            let mut response = client
                .get(uri.to_string())
                .header(http::header::ACCEPT, "application/json")
                .send()
                .await?;
            let mut builder = Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_DOCUMENT_LEN {
                    return Err(format!("response over {MAX_DOCUMENT_LEN} bytes").into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(builder.body(body)?)
        })
    }
}
