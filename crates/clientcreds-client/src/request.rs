//! What a caller asks for (scopes, audience, resources) and the cache key
//! it becomes.

use std::collections::BTreeSet;
use std::fmt;

use crate::Error;

/// The scopes and target of a token: one cache entry per distinct value.
///
/// Scopes are a set: `["a", "b"]` and `["b", "a"]` are the same request.
/// `audience` is sent as the `audience` parameter (RFC 8693 style, what
/// products B and C call it); `resource` values as RFC 8707 `resource`
/// parameters.
///
/// ```
/// use clientcreds_client::TokenRequest;
/// let a = TokenRequest::new().scope("read").scope("echo");
/// let b = TokenRequest::new().scopes(["echo", "read"]);
/// assert_eq!(a, b);
/// assert_ne!(a, b.clone().audience("https://api.example"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TokenRequest {
    scopes: BTreeSet<String>,
    audience: Option<String>,
    resources: BTreeSet<String>,
}

impl TokenRequest {
    /// No scope (the server's default) and no target.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a scope.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.insert(scope.into());
        self
    }

    /// Adds scopes.
    #[must_use]
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Sets the `audience` parameter.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Adds an RFC 8707 `resource` parameter.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.insert(resource.into());
        self
    }

    /// The requested scopes, sorted.
    pub fn scope_set(&self) -> impl Iterator<Item = &str> {
        self.scopes.iter().map(String::as_str)
    }

    /// The `scope` parameter: the scopes, sorted, space separated; `None`
    /// when no scope is requested.
    #[must_use]
    pub fn scope_param(&self) -> Option<String> {
        (!self.scopes.is_empty()).then(|| {
            self.scopes
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
    }

    /// The `audience` parameter.
    #[must_use]
    pub fn audience_param(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The `resource` parameters, sorted.
    pub fn resource_params(&self) -> impl Iterator<Item = &str> {
        self.resources.iter().map(String::as_str)
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        // RFC 6749 §3.3: scope-token = 1*NQCHAR.
        let nqchar = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
        if self
            .scopes
            .iter()
            .any(|s| s.is_empty() || !s.chars().all(nqchar))
        {
            return Err(Error::Config {
                field: "scope",
                reason: "must be non-empty RFC 6749 scope tokens (printable ASCII without space, quote or backslash)",
            });
        }
        let target =
            |s: &String| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !self.audience.iter().all(target) {
            return Err(Error::Config {
                field: "audience",
                reason: "must be non-empty, without whitespace or control characters",
            });
        }
        if !self.resources.iter().all(target) {
            return Err(Error::Config {
                field: "resource",
                reason: "must be non-empty, without whitespace or control characters",
            });
        }
        Ok(())
    }
}

/// The identity of a cache entry: token endpoint, client id, scope set,
/// audience and resources, and for a client without a secret its kind of
/// credential. Two requests share a token only when all are equal.
///
/// The credential part is empty for a client secret (so keys are what they
/// were before assertions existed), `private_key_jwt:` and the public key's
/// RFC 7638 thumbprint for a [`AssertionKey`](crate::AssertionKey) client,
/// and `client_assertion` for an [`AssertionSource`](crate::AssertionSource)
/// client: a shared cache never serves a token obtained with one key to a
/// client configured with another key or with a secret. A DPoP client
/// (feature `dpop`) adds `dpop:` and its DPoP key's thumbprint, after a
/// space when the credential part is not empty: tokens bound to one DPoP
/// key are never served to a client with another key or none.
///
/// [`CacheKey::as_str`] is an unambiguous text form (fields cannot contain
/// the separator), for shared caches that key by string. It holds no secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    text: String,
}

impl CacheKey {
    pub(crate) fn new(
        endpoint: &str,
        client_id: &str,
        credential: &str,
        request: &TokenRequest,
    ) -> Self {
        let mut text = String::with_capacity(endpoint.len() + client_id.len() + 32);
        text.push_str(endpoint);
        text.push('\n');
        text.push_str(client_id);
        text.push('\n');
        text.push_str(&request.scope_param().unwrap_or_default());
        text.push('\n');
        text.push_str(request.audience_param().unwrap_or_default());
        text.push('\n');
        text.push_str(&request.resource_params().collect::<Vec<_>>().join(" "));
        if !credential.is_empty() {
            text.push('\n');
            text.push_str(credential);
        }
        Self { text }
    }

    /// The key as one string: endpoint, client id, scopes, audience and
    /// resources, then the credential part when it is not empty, separated
    /// by newlines (none of them may contain one).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CacheKey").field(&self.text).finish()
    }
}
