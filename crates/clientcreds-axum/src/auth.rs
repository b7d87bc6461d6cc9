//! Who may call the admin API: the host's authentication, as an [`Actor`].

use std::fmt;

use async_trait::async_trait;
use axum::http::header;
use axum::http::request::Parts;
use clientcreds_registry::Actor;

use crate::Error;

/// The host's administrator authentication: from a request's head to the
/// [`Actor`] the registry authorizes (a tenant admin sees one tenant, a
/// platform admin every tenant and the signing keys), or `None` (401).
///
/// Implement it over your session cookies, your identity provider's
/// tokens, or mTLS; or use [`BearerTokens`] (fixed tokens, as the
/// reference server does) or [`ActorExtension`] (your own middleware
/// already put an `Actor` into the request's extensions).
///
/// ```
/// use async_trait::async_trait;
/// use axum::http::request::Parts;
/// use clientcreds_axum::AdminAuth;
/// use clientcreds_registry::Actor;
///
/// /// Trusts a gateway that authenticated the user and set `x-admin-user`.
/// struct Gateway;
///
/// #[async_trait]
/// impl AdminAuth for Gateway {
///     async fn actor(&self, request: &Parts) -> Option<Actor> {
///         let user = request.headers.get("x-admin-user")?.to_str().ok()?;
///         Some(Actor::platform_admin(user))
///     }
/// }
/// ```
#[async_trait]
pub trait AdminAuth: Send + Sync + 'static {
    /// The administrator who sent `request`, or `None` for anyone else.
    async fn actor(&self, request: &Parts) -> Option<Actor>;
}

/// Administrators by fixed `Authorization: Bearer` tokens.
///
/// The tokens are not kept: only their HMAC-SHA256 tags under a key made
/// for this process, compared in constant time. `Debug` shows how many
/// administrators there are, nothing else.
///
/// ```
/// use clientcreds_axum::BearerTokens;
/// use clientcreds_registry::Actor;
/// use clientcreds_store::TenantId;
///
/// let admins = BearerTokens::new()?
///     .with("root-token", Actor::platform_admin("root"))
///     .with("acme-token", Actor::tenant_admin(TenantId::new("acme")?, "admin@acme"));
/// assert_eq!(format!("{admins:?}"), "BearerTokens { admins: 2 }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BearerTokens {
    key: ring::hmac::Key,
    admins: Vec<(ring::hmac::Tag, Actor)>,
}

impl BearerTokens {
    /// No administrators yet, and a fresh tag key.
    ///
    /// # Errors
    /// [`Error::Unavailable`] if the system's random source fails.
    pub fn new() -> Result<Self, Error> {
        let key =
            ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
                .map_err(|_| Error::Unavailable)?;
        Ok(Self {
            key,
            admins: Vec::new(),
        })
    }

    /// Adds an administrator who presents `token`.
    #[must_use]
    pub fn with(mut self, token: &str, actor: Actor) -> Self {
        let tag = ring::hmac::sign(&self.key, token.as_bytes());
        self.admins.push((tag, actor));
        self
    }

    /// The administrator `presented` belongs to.
    #[must_use]
    pub fn find(&self, presented: &str) -> Option<&Actor> {
        self.admins
            .iter()
            .find(|(tag, _)| {
                ring::hmac::verify(&self.key, presented.as_bytes(), tag.as_ref()).is_ok()
            })
            .map(|(_, actor)| actor)
    }
}

impl fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokens")
            .field("admins", &self.admins.len())
            .finish()
    }
}

#[async_trait]
impl AdminAuth for BearerTokens {
    async fn actor(&self, request: &Parts) -> Option<Actor> {
        let value = request.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.find(token.trim()).cloned()
    }
}

/// The [`Actor`] the host's own middleware put into the request's
/// extensions (`request.extensions_mut().insert(actor)`), for hosts whose
/// authentication already runs as a layer in front of the admin router.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActorExtension;

#[async_trait]
impl AdminAuth for ActorExtension {
    async fn actor(&self, request: &Parts) -> Option<Actor> {
        request.extensions.get::<Actor>().cloned()
    }
}

#[async_trait]
impl<T: AdminAuth + ?Sized> AdminAuth for std::sync::Arc<T> {
    async fn actor(&self, request: &Parts) -> Option<Actor> {
        (**self).actor(request).await
    }
}
