//! Client authentication without a shared secret: a client assertion (RFC
//! 7521 §4.2, RFC 7523 §2.2) sent as `client_assertion` with every token
//! request.
//!
//! Two kinds:
//! - [`AssertionKey`] (feature `private-key-jwt`): the client holds a
//!   private key and signs a fresh assertion per request (`private_key_jwt`);
//! - [`AssertionSource`]: the workload already holds a signed identity (a
//!   Kubernetes projected service-account token, a CI job's OIDC token, a
//!   SPIFFE JWT-SVID) that some other issuer minted; it is read afresh for
//!   every request, from a file or from the host's callback.

use std::fmt;
use std::future::Future;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use zeroize::Zeroizing;

#[cfg(feature = "private-key-jwt")]
mod key;

#[cfg(feature = "private-key-jwt")]
pub use key::{AssertionKey, AssertionTyp};

use crate::{AuthMethod, ClientSecret, Error};

/// `client_assertion_type` for a JWT assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Largest assertion an [`AssertionSource`] accepts (16 KiB, after
/// trimming): a Kubernetes service-account token is about 1 KiB.
pub const MAX_ASSERTION_BYTES: usize = 16 * 1024;

type Callback = dyn Fn() -> Pin<Box<dyn Future<Output = Result<Zeroizing<String>, String>> + Send>>
    + Send
    + Sync;

/// Where a federated client's assertion comes from: a JWT that another
/// issuer minted for this workload, sent as `client_assertion` with the
/// client's `client_id` (no secret, no private key).
///
/// The assertion is fetched again for every token request (never cached
/// here: the platform rotates it, and the token cache already limits how
/// often a request is made). What it yields is trimmed, must not be empty,
/// at most [`MAX_ASSERTION_BYTES`] long, and shaped like a compact JWS
/// (three base64url parts); otherwise the refresh fails with a typed
/// error and is retried with the usual backoff.
///
/// ```
/// use clientcreds_client::AssertionSource;
///
/// // Kubernetes: a projected service-account token with the authorization
/// // server as its audience, rotated in place by the kubelet.
/// let k8s = AssertionSource::file("/var/run/secrets/tokens/clientcreds");
///
/// // Anything else: the host fetches the assertion itself.
/// let ci = AssertionSource::callback(|| async {
///     std::env::var("CI_JOB_JWT").map_err(|e| format!("CI_JOB_JWT: {e}"))
/// });
/// assert_eq!(format!("{ci:?}"), "AssertionSource::Callback");
/// # let _ = k8s;
/// ```
#[derive(Clone)]
pub struct AssertionSource(Origin);

#[derive(Clone)]
enum Origin {
    File(PathBuf),
    Callback(Arc<Callback>),
}

impl AssertionSource {
    /// An assertion read from `path` on every token request: the
    /// Kubernetes projected service-account token pattern (the kubelet
    /// replaces the file before the token expires). Surrounding
    /// whitespace, such as a trailing newline, is trimmed.
    ///
    /// A missing, unreadable, empty or oversized file fails the refresh
    /// with [`Error::AssertionFile`] naming the path.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self(Origin::File(path.into()))
    }

    /// An assertion the host supplies: `callback` runs on every token
    /// request and returns the assertion's text (trimmed), or an error
    /// whose `Display` becomes [`Error::AssertionCallback`] (keep secrets
    /// out of it: it ends up in logs).
    pub fn callback<F, Fut, E>(callback: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: fmt::Display,
    {
        let callback: Arc<Callback> = Arc::new(move || {
            let future = callback();
            Box::pin(async move {
                future
                    .await
                    .map(Zeroizing::new)
                    .map_err(|error| error.to_string())
            })
        });
        Self(Origin::Callback(callback))
    }

    /// The token file, for a file source.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Origin::File(path) => Some(path),
            Origin::Callback(_) => None,
        }
    }

    /// The current assertion, checked.
    pub(crate) async fn assertion(&self) -> Result<Zeroizing<String>, Error> {
        match &self.0 {
            Origin::File(path) => {
                let file_error = |reason: String| Error::AssertionFile {
                    path: path.clone(),
                    reason,
                };
                let text = read_bounded(path).map_err(file_error)?;
                checked(text).map_err(|reason| file_error(reason.to_owned()))
            }
            Origin::Callback(callback) => {
                let text = callback().await.map_err(|message| {
                    // Bounded and printable: it ends up in logs.
                    let message: String = message
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(200)
                        .collect();
                    Error::AssertionCallback(format!("failed: {message}"))
                })?;
                checked(text).map_err(|reason| {
                    Error::AssertionCallback(format!("returned an assertion that {reason}"))
                })
            }
        }
    }
}

impl fmt::Debug for AssertionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Origin::File(path) => f
                .debug_tuple("AssertionSource::File")
                .field(&path.display())
                .finish(),
            Origin::Callback(_) => f.write_str("AssertionSource::Callback"),
        }
    }
}

/// Reads at most [`MAX_ASSERTION_BYTES`] plus some whitespace from `path`.
///
/// A plain blocking read: the file is a few hundred bytes on a local
/// (usually in-memory) volume, read once per token refresh.
fn read_bounded(path: &Path) -> Result<Zeroizing<String>, String> {
    let file = std::fs::File::open(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => {
            "does not exist (is the token volume mounted at this path?)".to_owned()
        }
        _ => format!("cannot be opened: {error}"),
    })?;
    // Room for the limit, some whitespace, and one byte to see it is over.
    let limit = MAX_ASSERTION_BYTES + 1024;
    let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot be read: {error}"))?;
    if bytes.len() > limit {
        return Err(format!("is larger than {MAX_ASSERTION_BYTES} bytes"));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    Ok(Zeroizing::new(text.to_owned()))
}

/// Trims `text` and checks that it can be an assertion.
fn checked(text: Zeroizing<String>) -> Result<Zeroizing<String>, &'static str> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("is empty");
    }
    if trimmed.len() > MAX_ASSERTION_BYTES {
        return Err("is larger than the assertion limit (16 KiB)");
    }
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = trimmed.split('.');
    let shaped = matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(h), Some(p), Some(s), None) if base64url(h) && base64url(p) && base64url(s)
    );
    if !shaped {
        return Err("is not a JWT (a compact JWS: three base64url parts separated by dots)");
    }
    if trimmed.len() == text.len() {
        Ok(text)
    } else {
        Ok(Zeroizing::new(trimmed.to_owned()))
    }
}

/// What a [`TokenClient`](crate::TokenClient) proves its identity with.
#[derive(Clone)]
pub(crate) enum Credential {
    /// A client secret, sent as `auth` says.
    Secret(ClientSecret),
    /// A private key that signs an assertion per request.
    #[cfg(feature = "private-key-jwt")]
    Key(AssertionKey),
    /// An assertion from elsewhere.
    Assertion(AssertionSource),
}

impl Credential {
    /// The `token_endpoint_auth_method` name (RFC 7591), for logs and
    /// `Debug`.
    pub(crate) fn method_name(&self, auth: AuthMethod) -> &'static str {
        match (self, auth) {
            (Self::Secret(_), AuthMethod::Body) => "client_secret_post",
            (Self::Secret(_), _) => "client_secret_basic",
            #[cfg(feature = "private-key-jwt")]
            (Self::Key(_), _) => "private_key_jwt",
            (Self::Assertion(_), _) => "client_assertion",
        }
    }

    /// What the cache key adds for this credential: nothing for a secret
    /// (keys stay as they were before assertions existed), the public key's
    /// RFC 7638 thumbprint for a private key, a fixed word for a federated
    /// assertion. Never secret.
    pub(crate) fn cache_identity(&self) -> String {
        match self {
            Self::Secret(_) => String::new(),
            #[cfg(feature = "private-key-jwt")]
            Self::Key(key) => format!("private_key_jwt:{}", key.thumbprint()),
            Self::Assertion(_) => "client_assertion".to_owned(),
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(secret) => secret.fmt(f),
            #[cfg(feature = "private-key-jwt")]
            Self::Key(key) => key.fmt(f),
            Self::Assertion(source) => source.fmt(f),
        }
    }
}

/// The credential of one token request, made just before it is sent.
pub(crate) enum Proof<'a> {
    /// The client secret, placed as `AuthMethod` says.
    Secret(&'a ClientSecret, AuthMethod),
    /// A `client_assertion` (signed now, or fetched now).
    Assertion(Zeroizing<String>),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn assertions_are_trimmed_and_shape_checked() {
        let ok = checked(Zeroizing::new(" a.b.c\n".to_owned())).unwrap();
        assert_eq!(ok.as_str(), "a.b.c");
        for bad in [
            "", " \n", "a.b", "a.b.c.d", "a..c", "a.b.c d", "a.b.c=", "{}",
        ] {
            assert!(checked(Zeroizing::new(bad.to_owned())).is_err(), "{bad:?}");
        }
        let long = format!("a.{}.c", "b".repeat(MAX_ASSERTION_BYTES));
        assert_eq!(
            checked(Zeroizing::new(long)).unwrap_err(),
            "is larger than the assertion limit (16 KiB)"
        );
    }
}
