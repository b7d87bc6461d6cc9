//! Keys instead of secrets: client assertions (RFC 7523 `private_key_jwt`)
//! and federated workload identity, configured with [`ClientAssertions`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use clientcreds_jwt::{Algorithm, IntoDuration, MAX_LEEWAY, Validation};
use clientcreds_resource::{RemoteConfig, RemoteKeySet, Transport};
use clientcreds_store::ReplayStore;
use time::Duration;

use crate::Error;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The explicit `typ` of a client assertion (draft-ietf-oauth-rfc7523bis).
pub const CLIENT_AUTHENTICATION_TYP: &str = "client-authentication+jwt";

/// The algorithms an assertion may be signed with by default: asymmetric
/// only (never `none` or HMAC). `Ed25519` (RFC 9864) is read as `EdDSA`.
pub const ASSERTION_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
    Algorithm::RS256,
];

/// The longest assertion read, in bytes (8 KiB; a federated token with
/// many claims fits).
pub const DEFAULT_MAX_ASSERTION_LEN: usize = 8 * 1024;

/// A client assertion as presented at the token endpoint. Its `Debug`
/// never shows the assertion (until it expires, it is a credential).
#[derive(Clone)]
pub struct ClientAssertion {
    /// The `client_id` parameter, when sent (required for federated
    /// credentials; for `private_key_jwt` the assertion's `iss` names it).
    pub client_id: Option<String>,
    assertion: String,
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAssertion")
            .field("client_id", &self.client_id)
            .field("assertion", &"[redacted]")
            .finish()
    }
}

impl ClientAssertion {
    /// An assertion of `client_id` (if given).
    #[must_use]
    pub fn new(client_id: Option<String>, assertion: impl Into<String>) -> Self {
        Self {
            client_id,
            assertion: assertion.into(),
        }
    }

    /// The assertion's text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.assertion
    }
}

/// The rules for client assertions; every default is on its field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssertionPolicy {
    /// Accepted signature algorithms (default [`ASSERTION_ALGORITHMS`];
    /// symmetric ones are refused when the policy is applied).
    pub algorithms: Vec<Algorithm>,
    /// Longest validity of a `private_key_jwt` assertion, `exp` minus its
    /// `iat` (or minus now without `iat`) (default 5 minutes): a
    /// long-lived assertion is a secret by another name.
    pub max_lifetime: Duration,
    /// Longest remaining validity of a federated token (default 24 hours:
    /// Kubernetes projects service-account tokens for an hour by default,
    /// CI tokens live minutes).
    pub max_federated_lifetime: Duration,
    /// Clock leeway for `exp`, `nbf` and `iat` (default 30 s, at most the
    /// verifier's [`MAX_LEEWAY`]).
    pub leeway: Duration,
    /// Longest assertion read, in bytes (default
    /// [`DEFAULT_MAX_ASSERTION_LEN`]).
    pub max_len: usize,
    /// The token endpoint's URL, accepted as a `private_key_jwt`
    /// assertion's `aud` beside the issuer identifier (default `None`:
    /// the issuer identifier only, as draft-ietf-oauth-rfc7523bis asks).
    /// A compatibility switch for clients written to RFC 7523's original
    /// wording.
    pub token_endpoint_audience: Option<String>,
    /// External issuers a federated credential may name (default none):
    /// the platform's allow-list, so a tenant administrator cannot make the
    /// server fetch an arbitrary URL. Exact identifiers, as each issuer's
    /// tokens spell `iss`.
    pub federated_issuers: Vec<String>,
    /// Accept `http://` URLs on loopback hosts for `jwks_uri` and federated
    /// issuers (default `false`: `https` only). For tests.
    pub allow_loopback_http: bool,
    /// Cache lifetimes and limits of fetched key sets (`jwks_uri` and
    /// federated issuers): `Cache-Control` clamped between a floor and a
    /// ceiling, one refetch per cooldown on an unknown `kid`.
    pub remote: RemoteConfig,
}

impl Default for AssertionPolicy {
    fn default() -> Self {
        Self {
            algorithms: ASSERTION_ALGORITHMS.to_vec(),
            max_lifetime: Duration::minutes(5),
            max_federated_lifetime: Duration::hours(24),
            leeway: Duration::seconds(30),
            max_len: DEFAULT_MAX_ASSERTION_LEN,
            token_endpoint_audience: None,
            federated_issuers: Vec::new(),
            allow_loopback_http: false,
            remote: RemoteConfig::default(),
        }
    }
}

impl AssertionPolicy {
    /// Sets the longest validity of a `private_key_jwt` assertion.
    #[must_use]
    pub fn with_max_lifetime(mut self, lifetime: impl IntoDuration) -> Self {
        self.max_lifetime = lifetime.into_duration();
        self
    }

    /// Sets the longest remaining validity of a federated token.
    #[must_use]
    pub fn with_max_federated_lifetime(mut self, lifetime: impl IntoDuration) -> Self {
        self.max_federated_lifetime = lifetime.into_duration();
        self
    }

    /// Sets the clock leeway (clamped to the verifier's maximum).
    #[must_use]
    pub fn with_leeway(mut self, leeway: impl IntoDuration) -> Self {
        self.leeway = leeway.into_duration();
        self
    }

    /// Also accepts the token endpoint's URL as `aud` (compatibility).
    #[must_use]
    pub fn accept_token_endpoint_audience(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint_audience = Some(url.into());
        self
    }

    /// Allows federated credentials to name `issuer`.
    #[must_use]
    pub fn allow_federated_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.federated_issuers.push(issuer.into());
        self
    }

    /// Accepts `http://` loopback URLs (tests).
    #[must_use]
    pub fn danger_allow_loopback_http(mut self) -> Self {
        self.allow_loopback_http = true;
        self
    }

    /// Sets the remote key sets' cache rules.
    #[must_use]
    pub fn with_remote(mut self, remote: RemoteConfig) -> Self {
        self.remote = remote;
        self
    }

    /// Sets the accepted algorithms.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    pub(crate) fn effective_leeway(&self) -> Duration {
        self.leeway.clamp(Duration::ZERO, MAX_LEEWAY)
    }

    /// Checks that `url` may be fetched: `https`, or `http` on a loopback
    /// host when allowed; no query, fragment or user info.
    pub(crate) fn check_url(&self, field: &'static str, url: &str) -> Result<(), Error> {
        let invalid = |reason: &str| Err(Error::invalid(field, reason.to_owned()));
        let Some((scheme, rest)) = url.split_once("://") else {
            return invalid("not an absolute URL");
        };
        if url.len() > 2048 || url.contains(['#', '?', ' ']) || url.chars().any(char::is_control) {
            return invalid("has a query, a fragment, spaces or is over 2048 bytes");
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return invalid("needs a host and no user info");
        }
        let host = if authority.starts_with('[') {
            authority.split(']').next().map(|h| format!("{h}]"))
        } else {
            authority.split(':').next().map(str::to_owned)
        }
        .unwrap_or_default();
        let loopback = host == "localhost" || host == "[::1]" || host.starts_with("127.");
        match scheme {
            "https" => Ok(()),
            "http" if loopback && self.allow_loopback_http => Ok(()),
            "http" if loopback => invalid(
                "plain http; https is required (AssertionPolicy::danger_allow_loopback_http allows loopback http for tests)",
            ),
            _ => invalid("https is required"),
        }
    }
}

/// What a registry needs to accept client assertions: the policy, the
/// replay store shared by every replica (one `jti` authenticates once),
/// and an HTTP transport for `jwks_uri` and federated issuers (without
/// one, only inline keys work and registering a `jwks_uri` or a federated
/// credential is refused).
#[derive(Debug, Clone)]
pub struct ClientAssertions {
    pub(crate) policy: AssertionPolicy,
    pub(crate) replay: Arc<dyn ReplayStore>,
    pub(crate) transport: Option<Arc<dyn Transport>>,
    remote: Arc<RemoteSets>,
}

impl ClientAssertions {
    /// Assertions under `policy`, with single use kept in `replay`.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the policy field out of range
    /// (`algorithms` empty or symmetric, a non-positive lifetime, a
    /// federated issuer that is not an allowed URL).
    pub fn new(policy: AssertionPolicy, replay: Arc<dyn ReplayStore>) -> Result<Self, Error> {
        if policy.algorithms.is_empty() || policy.algorithms.iter().any(|a| a.is_symmetric()) {
            return Err(Error::invalid(
                "algorithms",
                "name at least one algorithm, all asymmetric (HS256 is never accepted)".to_owned(),
            ));
        }
        if !policy.max_lifetime.is_positive() || !policy.max_federated_lifetime.is_positive() {
            return Err(Error::invalid(
                "max_lifetime",
                "assertion lifetimes must be positive".to_owned(),
            ));
        }
        if policy.max_len < 256 {
            return Err(Error::invalid(
                "max_len",
                "at least 256 bytes are needed for any signed assertion".to_owned(),
            ));
        }
        for issuer in &policy.federated_issuers {
            policy.check_url("federated_issuers", issuer)?;
        }
        Ok(Self {
            policy,
            replay,
            transport: None,
            remote: Arc::new(RemoteSets::default()),
        })
    }

    /// Fetches `jwks_uri` key sets and federated issuers' keys with
    /// `transport` (for example clientcreds-resource's `ReqwestTransport`,
    /// which follows same-origin redirects only and limits size and time).
    #[must_use]
    pub fn with_transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The policy in force.
    #[must_use]
    pub fn policy(&self) -> &AssertionPolicy {
        &self.policy
    }

    /// The remote key set for `url`: a client's `jwks_uri` (`direct`) or a
    /// federated issuer (discovered). Built once per URL and shared; the
    /// map's lock is never held while fetching.
    pub(crate) fn remote_set(&self, url: &str, direct: bool) -> Option<RemoteKeySet> {
        let transport = self.transport.clone()?;
        let key = (direct, url.to_owned());
        let mut sets = self
            .remote
            .sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(set) = sets.get(&key) {
            return Some(set.clone());
        }
        // "-": these sets check signatures only, never access tokens.
        let validation =
            Validation::new(url, "-").with_algorithms(self.policy.algorithms.iter().copied());
        let mut builder = RemoteKeySet::builder(validation).config(self.policy.remote.clone());
        if direct {
            builder = builder.jwks_url(url);
        }
        let set = builder.build(transport).ok()?;
        if sets.len() >= MAX_REMOTE_SETS {
            sets.clear();
        }
        sets.insert(key, set.clone());
        Some(set)
    }
}

/// At most this many remote key sets are kept; past it, the map starts
/// over (each set refetches on its next use).
const MAX_REMOTE_SETS: usize = 4096;

#[derive(Default)]
struct RemoteSets {
    sets: Mutex<HashMap<(bool, String), RemoteKeySet>>,
}

impl fmt::Debug for RemoteSets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSets").finish_non_exhaustive()
    }
}

/// A key for the [`ReplayStore`]: the SHA-256 of `kind` (what is single
/// use: `client-assertion`, `dpop`), who vouches for the id (a client id,
/// an external issuer, a key thumbprint) and the id, base64url (43 bytes).
/// The store never holds caller text, every key has one length, and the
/// kinds never collide. The one rule for every replay key the issuer makes.
pub(crate) fn replay_key(kind: &[u8], who: &str, id: &str) -> String {
    let mut input = Vec::with_capacity(kind.len() + who.len() + id.len() + 2);
    input.extend_from_slice(kind);
    input.push(0);
    input.extend_from_slice(who.as_bytes());
    input.push(0);
    input.extend_from_slice(id.as_bytes());
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        clientcreds_jwt::sha256(&input),
    )
}
