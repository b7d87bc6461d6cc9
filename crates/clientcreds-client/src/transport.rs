//! The HTTP transport behind the token cache: a small trait on the `http`
//! crate's types, with `reqwest::Client` as the default implementation
//! (feature `reqwest`).

use std::fmt;
use std::sync::Arc;

use crate::TransportError;

/// Largest response body read from the token or metadata endpoint (64 KiB):
/// a token response is a few hundred bytes.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Sends one HTTP request and returns the whole response.
///
/// The cache calls it for token requests (`POST`, form body, possibly the
/// client secret in the `Authorization` header or the body) and metadata
/// discovery (`GET`). An implementation must not follow redirects (a token
/// request must not be replayed to another origin), must not log the
/// request's headers or body, and should bound the response size (see
/// [`MAX_RESPONSE_BYTES`]) and the time taken.
///
/// Object safe: the cache holds an `Arc<dyn Transport>`.
///
/// ```
/// use clientcreds_client::{Transport, TransportError};
///
/// /// Answers every request with a canned token response.
/// #[derive(Debug)]
/// struct Canned;
///
/// #[async_trait::async_trait]
/// impl Transport for Canned {
///     async fn send(
///         &self,
///         _request: http::Request<Vec<u8>>,
///     ) -> Result<http::Response<Vec<u8>>, TransportError> {
///         let body = br#"{"access_token":"t","token_type":"Bearer","expires_in":60}"#;
///         Ok(http::Response::new(body.to_vec()))
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Exchanges `request` for a response.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] when no response arrived (connection, timeout,
    /// TLS, I/O); an HTTP error status is a response, not an error.
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError>;
}

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        (**self).send(request).await
    }
}

#[async_trait::async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        (**self).send(request).await
    }
}

/// The default transport's client: no redirects, 10 s to connect, 30 s in
/// all.
///
/// # Errors
///
/// [`Error::Config`](crate::Error::Config) if reqwest cannot build a client
/// (no TLS backend available).
#[cfg(feature = "reqwest")]
pub fn default_reqwest_client() -> Result<reqwest::Client, crate::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|_| crate::Error::Config {
            field: "transport",
            reason: "reqwest could not build a client",
        })
}

/// `reqwest::Client` is a transport. Build it without redirects (as
/// [`default_reqwest_client`] does) when you pass your own.
#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl Transport for reqwest::Client {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| TransportError::new(e.without_url().to_string()))?;
        let mut response = self
            .execute(request)
            .await
            .map_err(|e| TransportError::new(e.to_string()))?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| TransportError::new(e.to_string()))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(TransportError::new(format!(
                    "response body larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(body);
        *out.status_mut() = response.status();
        *out.headers_mut() = std::mem::take(response.headers_mut());
        Ok(out)
    }
}
