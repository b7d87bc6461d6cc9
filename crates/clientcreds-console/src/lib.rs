//! A mountable admin console for a clientcreds authorization server.
//!
//! [`Console`] is an axum [`Router`] of server-rendered HTML pages over the
//! same [`Registry`] calls the JSON admin API
//! ([`clientcreds_axum::AdminApi`]) makes, behind the same host-supplied
//! [`AdminAuth`]: the host decides who the administrator is (its session
//! cookie, its identity provider); the console keeps no user database.
//!
//! It works with JavaScript disabled; a small script (shipped by the crate
//! at `assets/console.js`) only adds copy buttons and confirm dialogs. The
//! templates are [maud](https://maud.lambda.xyz) macros, compiled into the
//! crate and escaped by default: no Node build step, no template files to
//! ship, and a typo in a template is a compile error. (maud rather than
//! askama: its only dependencies are a proc-macro on `syn`/`quote`, which
//! every axum host already builds, and `itoa`; the pages are Rust code, so
//! they share the helpers that format dates and badges.)
//!
//! # Pages
//!
//! | path (under the mount point) | what |
//! |---|---|
//! | `GET /` | the administrator's tenant, or the tenant picker for platform admins |
//! | `GET /tenants` | platform admins: pick a tenant |
//! | `GET /t/{tenant}/clients` | the clients table: `q` (name or id), `status`, `cursor` |
//! | `GET /t/{tenant}/clients/new`, `POST /t/{tenant}/clients` | create; the answer is the one-time reveal |
//! | `GET /t/{tenant}/clients/{id}` | one client: secrets, expiry warnings, every action |
//! | `POST …/{id}/rotate` | rotate (same client id, or a new client) with a grace window; the answer is the reveal |
//! | `POST …/{id}/end-grace` | "Revoke now": the rotated-out credential stops at once |
//! | `POST …/{id}/status` | deactivate / reactivate |
//! | `POST …/{id}/revoke`, `POST …/{id}/delete` | revoke (terminal); delete with a typed confirmation |
//! | `GET …/{id}/activity` | the client's token activity |
//! | `GET /t/{tenant}/audit`, `GET /t/{tenant}/warnings` | the tenant's audit trail; expiry warnings due and sent |
//! | `GET /keys`, `POST /keys/rotate`, `POST /keys/{kid}/withdraw` | platform admins: the signing keys |
//!
//! # Security
//!
//! - Every state change is a `POST` whose form carries a CSRF token: an
//!   HMAC, under a key made for this console, of a random value kept in an
//!   `HttpOnly; SameSite=Strict` cookie and of the administrator's id (a
//!   signed double submit). `POST`s a browser marks as cross-site
//!   (`Sec-Fetch-Site`) or from another origin (`Origin`) are refused too.
//! - Every answer carries `Cache-Control: no-store`, a
//!   `Content-Security-Policy` without inline script and with
//!   `frame-ancestors 'none'`, `X-Frame-Options: DENY`,
//!   `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.
//! - A secret appears only in the body of the answer to the `POST` that
//!   made it: never in a URL, a cookie, a redirect or a log. Each create or
//!   rotate form can be submitted once, so the browser's back and forward
//!   buttons cannot make a second client or show a secret again.
//! - Tenancy is the registry's, as in the admin API: another tenant's
//!   client looks exactly like a missing one (404).
//! - The console adds no failure throttle of its own: a browser's
//!   [`AdminAuth`] is a session whose id nobody can guess, and the place to
//!   throttle is the host's sign-in (the reference server's does).
//!
//! # Quick start
//!
//! ```
//! # use std::sync::Arc;
//! # use clientcreds_registry::{Actor, Policy, Registry};
//! # use clientcreds_secret::{PepperKey, SecretHasher};
//! # use clientcreds_store::MemoryStore;
//! use clientcreds_axum::ActorExtension;
//! use clientcreds_console::Console;
//!
//! # let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[7; 32])?)?;
//! let registry = Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default())?);
//! // The host's session middleware puts the signed-in `Actor` into the
//! // request's extensions; `ActorExtension` reads it.
//! let console = Console::new(registry, ActorExtension)?.with_secure_cookies(true);
//! let app: axum::Router = axum::Router::new().nest("/console", console.router());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

mod csrf;
mod error;
mod form;
mod layout;
mod pages;
mod security;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use clientcreds_axum::AdminAuth;
use clientcreds_registry::{KeyManager, Registry};
use clientcreds_store::{TenantId, WarningLedger};

pub use error::Error;
pub use security::CONTENT_SECURITY_POLICY;

/// The path of a client's page under the console's mount point, with the
/// `{tenant}` and `{client_id}` placeholders the expiry-warning runner
/// fills in ([`WarningConfig::with_action_url`]).
///
/// [`WarningConfig::with_action_url`]: clientcreds_registry::warnings::WarningConfig::with_action_url
pub const CLIENT_PAGE_TEMPLATE: &str = "/t/{tenant}/clients/{client_id}";

/// The largest form body the console reads (64 KiB); larger is 413.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The link expiry-warning e-mails should carry when the console is
/// mounted at `base_url` (for example `https://auth.example.com/console`):
/// the client's console page, for [`WarningConfig::with_action_url`].
///
/// ```
/// assert_eq!(
///     clientcreds_console::warning_link("https://auth.example.com/console/"),
///     "https://auth.example.com/console/t/{tenant}/clients/{client_id}",
/// );
/// ```
///
/// [`WarningConfig::with_action_url`]: clientcreds_registry::warnings::WarningConfig::with_action_url
#[must_use]
pub fn warning_link(base_url: &str) -> String {
    format!("{}{CLIENT_PAGE_TEMPLATE}", base_url.trim_end_matches('/'))
}

/// The admin console over a [`Registry`], behind the host's [`AdminAuth`].
/// See the [crate docs](crate) for its pages and its security.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

#[derive(Clone)]
pub(crate) struct Inner {
    pub(crate) registry: Arc<Registry>,
    pub(crate) auth: Arc<dyn AdminAuth>,
    pub(crate) key_manager: Option<Arc<KeyManager>>,
    pub(crate) ledger: Option<Arc<dyn WarningLedger>>,
    pub(crate) tenants: Vec<TenantId>,
    pub(crate) secure_cookies: bool,
    pub(crate) sign_out: Option<String>,
    pub(crate) csrf: Arc<csrf::Csrf>,
    pub(crate) forms: Arc<csrf::UsedForms>,
}

impl Console {
    /// The console over `registry`, for the administrators `auth`
    /// recognises, with a fresh CSRF key.
    ///
    /// # Errors
    /// [`Error::Unavailable`] if the system's random source fails.
    pub fn new(registry: Arc<Registry>, auth: impl AdminAuth) -> Result<Self, Error> {
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                auth: Arc::new(auth),
                key_manager: None,
                ledger: None,
                tenants: Vec::new(),
                secure_cookies: false,
                sign_out: None,
                csrf: Arc::new(csrf::Csrf::new()?),
                forms: Arc::new(csrf::UsedForms::default()),
            }),
        })
    }

    /// Signs CSRF tokens with `key` (at least 32 bytes, from the host's
    /// secret manager) instead of a key made for this process: replicas
    /// sharing it accept each other's forms.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a key shorter than 32 bytes.
    pub fn with_csrf_key(mut self, key: &[u8]) -> Result<Self, Error> {
        Arc::make_mut(&mut self.inner).csrf = Arc::new(csrf::Csrf::with_key(key)?);
        Ok(self)
    }

    /// Adds the signing-keys page (platform admins only).
    #[must_use]
    pub fn with_key_manager(mut self, manager: Arc<KeyManager>) -> Self {
        Arc::make_mut(&mut self.inner).key_manager = Some(manager);
        self
    }

    /// Shows the expiry warnings recorded for each client (sent, pending,
    /// undeliverable) next to the ones due.
    #[must_use]
    pub fn with_warning_ledger(mut self, ledger: Arc<dyn WarningLedger>) -> Self {
        Arc::make_mut(&mut self.inner).ledger = Some(ledger);
        self
    }

    /// The tenants a platform admin's tenant picker lists (any other can
    /// still be typed in).
    #[must_use]
    pub fn with_tenants(mut self, tenants: impl IntoIterator<Item = TenantId>) -> Self {
        Arc::make_mut(&mut self.inner).tenants = tenants.into_iter().collect();
        self
    }

    /// Marks the console's CSRF cookie `Secure` (set it whenever the
    /// console is served over TLS).
    #[must_use]
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        Arc::make_mut(&mut self.inner).secure_cookies = secure;
        self
    }

    /// Adds a "Sign out" button that posts (with the CSRF field `csrf`) to
    /// the host's sign-out path.
    #[must_use]
    pub fn with_sign_out(mut self, path: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).sign_out = Some(path.into());
        self
    }

    /// The registry.
    #[must_use]
    pub fn registry(&self) -> &Arc<Registry> {
        &self.inner.registry
    }

    /// The pages, to mount under any prefix with [`Router::nest`].
    pub fn router(&self) -> Router {
        use pages::{actions, clients, logs, platform};
        let client = "/t/{tenant}/clients/{client_id}";
        let mut router = Router::new()
            .route("/", get(platform::home))
            .route("/tenants", get(platform::tenants))
            .route(
                "/t/{tenant}/clients",
                get(clients::list).post(clients::create),
            )
            .route("/t/{tenant}/clients/new", get(clients::new_form))
            .route(client, get(clients::detail))
            .route(&format!("{client}/rotate"), post(actions::rotate))
            .route(&format!("{client}/end-grace"), post(actions::end_grace))
            .route(&format!("{client}/status"), post(actions::status))
            .route(&format!("{client}/revoke"), post(actions::revoke))
            .route(&format!("{client}/delete"), post(actions::delete))
            .route(&format!("{client}/activity"), get(logs::activity))
            .route("/t/{tenant}/audit", get(logs::audit))
            .route("/t/{tenant}/warnings", get(logs::warnings));
        if self.inner.key_manager.is_some() {
            router = router
                .route("/keys", get(platform::keys))
                .route("/keys/rotate", post(platform::rotate_key))
                .route("/keys/{kid}/withdraw", post(platform::withdraw_key));
        }
        router
            .fallback(|| async { Error::NotFound })
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                security::headers,
            ))
            .route("/assets/console.css", get(security::stylesheet))
            .route("/assets/console.js", get(security::script))
            .with_state(self.clone())
    }
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("signing_keys", &self.inner.key_manager.is_some())
            .field("warnings", &self.inner.ledger.is_some())
            .field("tenants", &self.inner.tenants)
            .field("secure_cookies", &self.inner.secure_cookies)
            .finish_non_exhaustive()
    }
}
