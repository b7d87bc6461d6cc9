//! RFC 9728 protected resource metadata: what a client (or an MCP host)
//! reads to learn which authorization servers, scopes and token schemes
//! a resource accepts.

use clientcreds_jwt::Algorithm;
use serde::{Deserialize, Serialize};

use crate::{Error, Schemes};

/// The well-known path of protected resource metadata (RFC 9728 §3).
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata document (RFC 9728 §2). Serializes to
/// the JSON that [`ProtectedResourceMetadata::router`] serves.
///
/// ```
/// use clientcreds_resource::{DPOP_ALGORITHMS, ProtectedResourceMetadata, Schemes};
///
/// let metadata = ProtectedResourceMetadata::new("https://api.example.com")?
///     .authorization_server("https://auth.example.com")
///     .scopes(["invoices:read", "invoices:write"])
///     .dpop(Schemes::Both, &DPOP_ALGORITHMS);
/// assert_eq!(
///     metadata.metadata_url(),
///     "https://api.example.com/.well-known/oauth-protected-resource"
/// );
/// let json = serde_json::to_value(&metadata)?;
/// assert_eq!(json["authorization_servers"][0], "https://auth.example.com");
/// assert_eq!(json["dpop_bound_access_tokens_required"], false);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The resource identifier: the `https` URL tokens are issued for
    /// (RFC 8707), as `aud`.
    pub resource: String,
    /// The issuers whose tokens the resource accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// The scopes the resource uses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How a token may be sent: `header` only (never the body or query).
    pub bearer_methods_supported: Vec<String>,
    /// The algorithms accepted for DPoP proofs; empty (absent) when the
    /// resource does not accept DPoP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Whether every token must be DPoP-bound.
    #[serde(default)]
    pub dpop_bound_access_tokens_required: bool,
    /// A human-readable name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
}

impl ProtectedResourceMetadata {
    /// The metadata of `resource`, a Bearer-only resource until
    /// [`ProtectedResourceMetadata::dpop`] says otherwise.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for anything but an absolute `https` URL
    /// (`http` for loopback hosts) without query or fragment.
    pub fn new(resource: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidUrl {
            url: resource.to_owned(),
            reason,
        };
        if resource.contains(['?', '#']) {
            return Err(invalid("a query or fragment"));
        }
        let (scheme, rest) = resource
            .split_once("://")
            .ok_or_else(|| invalid("not an absolute URL"))?;
        let host = rest.split('/').next().unwrap_or_default();
        let loopback = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|h| host == *h || host.starts_with(&format!("{h}:")));
        match scheme {
            "https" if !host.is_empty() => {}
            "http" if loopback => {}
            _ => return Err(invalid("not https (http only for loopback hosts)")),
        }
        Ok(Self {
            resource: resource.to_owned(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
            resource_name: None,
        })
    }

    /// Adds an issuer whose tokens the resource accepts.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// Lists the scopes the resource uses.
    #[must_use]
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Says what the layer is configured with: the proof algorithms when
    /// `schemes` accepts DPoP, and whether DPoP is required.
    #[must_use]
    pub fn dpop(mut self, schemes: Schemes, algorithms: &[Algorithm]) -> Self {
        self.dpop_signing_alg_values_supported = if schemes.accepts(crate::Scheme::Dpop) {
            algorithms.iter().map(|a| a.name().to_owned()).collect()
        } else {
            Vec::new()
        };
        self.dpop_bound_access_tokens_required = schemes.dpop_required();
        self
    }

    /// Sets the human-readable name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The path the document is served at (RFC 9728 §3.1): the
    /// well-known path, followed by the resource's own path if it has one
    /// (`https://api.example.com/v1` → `/.well-known/oauth-protected-resource/v1`).
    #[must_use]
    pub fn metadata_path(&self) -> String {
        let rest = self.resource.split_once("://").map_or("", |(_, rest)| rest);
        let path = rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("");
        let path = path.trim_end_matches('/');
        format!("{WELL_KNOWN_PATH}{path}")
    }

    /// The document's URL, for the `resource_metadata` parameter of the
    /// challenges ([`BearerAuthLayer::with_resource_metadata`](crate::BearerAuthLayer)).
    #[must_use]
    pub fn metadata_url(&self) -> String {
        let (scheme, rest) = self.resource.split_once("://").unwrap_or(("https", ""));
        let host = rest.split('/').next().unwrap_or_default();
        format!("{scheme}://{host}{}", self.metadata_path())
    }

    /// A router serving the document at [`metadata_path`](Self::metadata_path)
    /// (feature `axum`): `GET` answers the JSON with `Cache-Control:
    /// max-age=3600`; merge it into the service's router, outside the
    /// authentication layer.
    #[cfg(feature = "axum")]
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> axum::Router<S> {
        use axum::response::IntoResponse;
        let body = serde_json::to_string(self).unwrap_or_default();
        let path = self.metadata_path();
        axum::Router::new().route(
            &path,
            axum::routing::get(move || {
                let body = body.clone();
                async move {
                    (
                        [
                            (http::header::CONTENT_TYPE, "application/json"),
                            (http::header::CACHE_CONTROL, "max-age=3600"),
                        ],
                        body,
                    )
                        .into_response()
                }
            }),
        )
    }
}
