//! Getting documents from the issuer: the transport trait, URL rules,
//! RFC 8414 / `OpenID` discovery, and `Cache-Control` lifetimes.

use std::error::Error as StdError;
use std::fmt::Debug;
use std::sync::Arc;

use http::header::CACHE_CONTROL;
use http::{Response, StatusCode, Uri};
use serde::Deserialize;
use time::Duration;

use crate::{BoxFuture, Error};

/// Largest metadata or JWKS document read, in bytes (512 KiB).
pub const MAX_DOCUMENT_LEN: usize = 512 * 1024;

/// An HTTP client for fetching metadata and JWKS documents: one `GET`, the
/// response with its headers and body, or the transport's error.
///
/// The `reqwest` feature provides [`ReqwestTransport`](crate::ReqwestTransport);
/// implement this for any other client. Implementations should apply a
/// timeout and stop reading bodies past [`MAX_DOCUMENT_LEN`].
///
/// ```
/// use clientcreds_resource::{BoxFuture, Transport};
///
/// /// Serves one fixed document, whatever is asked (a test double).
/// #[derive(Debug)]
/// struct Fixed(&'static str);
///
/// impl Transport for Fixed {
///     fn get(&self, _uri: http::Uri)
///         -> BoxFuture<'static, Result<http::Response<Vec<u8>>, Box<dyn std::error::Error + Send + Sync>>>
///     {
///         let body = self.0.as_bytes().to_vec();
///         Box::pin(async move { Ok(http::Response::new(body)) })
///     }
/// }
/// ```
pub trait Transport: Send + Sync + Debug + 'static {
    /// `GET uri`. The future must not borrow `self`, so that a fetch can
    /// run in a task of its own (clone a handle to the client into it).
    ///
    /// # Errors
    /// Whatever the client reports (connection refused, timeout, ...).
    #[allow(clippy::type_complexity)]
    fn get(
        &self,
        uri: Uri,
    ) -> BoxFuture<'static, Result<Response<Vec<u8>>, Box<dyn StdError + Send + Sync>>>;
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn get(
        &self,
        uri: Uri,
    ) -> BoxFuture<'static, Result<Response<Vec<u8>>, Box<dyn StdError + Send + Sync>>> {
        (**self).get(uri)
    }
}

/// Parses `url` as an absolute `https` URL without query or fragment;
/// `http` only for loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`).
pub(crate) fn parse_url(url: &str) -> Result<Uri, Error> {
    let invalid = |reason| Error::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    let host = uri.host().ok_or_else(|| invalid("no host"))?;
    if url.contains('#') || uri.query().is_some() {
        return Err(invalid("has a query or fragment"));
    }
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        Some("http") => Err(invalid("plain http is accepted for loopback hosts only")),
        _ => Err(invalid("not an https URL")),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where RFC 8414 §3.1 puts the metadata of `issuer`: the well-known
/// segment goes between the host and the issuer's path.
pub(crate) fn rfc8414_url(issuer: &Uri) -> String {
    let path = issuer.path().trim_end_matches('/');
    let authority = issuer.authority().map_or("", http::uri::Authority::as_str);
    let scheme = issuer.scheme_str().unwrap_or("https");
    format!("{scheme}://{authority}/.well-known/oauth-authorization-server{path}")
}

/// Where `OpenID` Connect Discovery 1.0 §4 puts it: appended to the issuer.
pub(crate) fn openid_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// `GET url`: the body of a `200` response, or an [`Error::Fetch`].
pub(crate) async fn get_document(
    transport: &dyn Transport,
    url: &str,
) -> Result<Response<Vec<u8>>, Error> {
    let fail = |reason: String| Error::Fetch {
        url: url.to_owned(),
        reason,
    };
    let uri = parse_url(url)?;
    let response = transport
        .get(uri)
        .await
        .map_err(|e| fail(format!("transport: {e}")))?;
    if response.status() != StatusCode::OK {
        return Err(fail(format!("status {}", response.status().as_u16())));
    }
    if response.body().len() > MAX_DOCUMENT_LEN {
        return Err(fail(format!("document over {MAX_DOCUMENT_LEN} bytes")));
    }
    Ok(response)
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

/// The origin of an absolute URL: scheme, host and port (the default
/// port of the scheme made explicit), lowercased.
pub(crate) fn origin(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "http" { 80 } else { 443 });
    format!("{scheme}://{host}:{port}")
}

/// The `jwks_uri` of `issuer`: RFC 8414 metadata first, then `OpenID`
/// discovery. The metadata must name exactly this issuer (RFC 8414 §3.3),
/// and its `jwks_uri` must be on the issuer's own origin or on one of
/// `allowed_origins` (so a metadata document cannot point the resource
/// server at an internal or loopback address).
pub(crate) async fn discover(
    transport: &dyn Transport,
    issuer: &str,
    allowed_origins: &[String],
) -> Result<String, Error> {
    let uri = parse_url(issuer)?;
    let mut failures = Vec::new();
    for url in [rfc8414_url(&uri), openid_url(issuer)] {
        match get_document(transport, &url).await {
            Ok(response) => {
                let metadata: Metadata =
                    serde_json::from_slice(response.body()).map_err(|e| Error::Fetch {
                        url: url.clone(),
                        reason: format!("metadata is not valid: {e}"),
                    })?;
                if metadata.issuer != issuer {
                    let hint =
                        if metadata.issuer.trim_end_matches('/') == issuer.trim_end_matches('/') {
                            "; issuers compare as exact strings (RFC 8414 §3.3): configure the \
                         issuer exactly as the metadata spells it, trailing slash included"
                        } else {
                            ""
                        };
                    return Err(Error::Fetch {
                        url,
                        reason: format!("metadata names issuer `{}`{hint}", metadata.issuer),
                    });
                }
                let jwks = parse_url(&metadata.jwks_uri)?;
                let jwks_origin = origin(&jwks);
                if jwks_origin != origin(&uri) && !allowed_origins.contains(&jwks_origin) {
                    return Err(Error::Fetch {
                        url,
                        reason: format!(
                            "metadata puts the JWKS on another origin ({jwks_origin}); allow it \
                             with RemoteKeySetBuilder::allow_jwks_origin if the issuer really \
                             serves its keys there"
                        ),
                    });
                }
                return Ok(metadata.jwks_uri);
            }
            Err(error) => failures.push(error.to_string()),
        }
    }
    Err(Error::Fetch {
        url: issuer.to_owned(),
        reason: format!("no metadata found ({})", failures.join("; ")),
    })
}

/// The lifetime `Cache-Control` grants (`max-age`; `no-store`/`no-cache`
/// mean zero), or `None` when it says nothing. The caller clamps it.
pub(crate) fn max_age<B>(response: &Response<B>) -> Option<Duration> {
    let mut age = None;
    for value in response.headers().get_all(CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',').map(str::trim) {
            let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return Some(Duration::ZERO);
            }
            if name.eq_ignore_ascii_case("max-age")
                && let Ok(seconds) = argument.trim_matches('"').parse::<u32>()
            {
                age = Some(Duration::seconds(i64::from(seconds)));
            }
        }
    }
    age
}
