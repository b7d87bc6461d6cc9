//! The reqwest transport (feature `reqwest`).

use std::error::Error as StdError;
use std::time::Duration;

use http::{Response, Uri};

use crate::fetch::MAX_DOCUMENT_LEN;
use crate::{BoxFuture, Transport};

/// A [`Transport`] on a [`reqwest::Client`]: 10 s timeout, at most three
/// redirects, bodies cut off past [`MAX_DOCUMENT_LEN`].
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
            .redirect(reqwest::redirect::Policy::limited(3))
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
