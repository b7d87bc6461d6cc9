//! The resource server's DPoP (RFC 9449 §7): configuration, the checks of
//! a proof against the request and the token, and why they refuse.
//!
//! The checks every receiver runs (§4.3) are `clientcreds_jwt::dpop`'s
//! [`check_proof`]; this module adds what a resource server owns: the
//! URL the client addressed (behind a proxy, the external one), the
//! token's binding (`cnf.jkt`), single use of each proof ([`ProofReplay`])
//! and optional nonces ([`DpopNonces`]).

mod nonce;
mod replay;

use std::sync::Arc;

use clientcreds_jwt::dpop::{CheckedProof, DPOP_ALGORITHMS, DpopError, ProofCheck, check_proof};
use clientcreds_jwt::{AccessContext, Algorithm, sha256};
use http::{HeaderMap, Method, Uri};
use time::{Duration, OffsetDateTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use crate::{Credentials, Error, IntoDuration, Scheme};

pub use nonce::DpopNonces;
pub use replay::{
    DEFAULT_REPLAY_CACHE_CAPACITY, MAX_REPLAY_KEY_LEN, ProofReplay, ReplayCache, ReplayUnavailable,
};

/// The `DPoP` request header.
pub const DPOP_HEADER: &str = "dpop";
/// The `DPoP-Nonce` response header.
pub const DPOP_NONCE_HEADER: &str = "dpop-nonce";

/// Why a request's DPoP (or its absence) was refused. The variant says
/// which RFC 9449 error code answers it: [`DpopRefusal::error_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopRefusal {
    /// `Authorization: DPoP` without a `DPoP` header.
    #[error("DPoP proof is missing")]
    MissingProof,
    /// More than one `DPoP` header (§4.3 step 1).
    #[error("more than one DPoP proof")]
    SeveralProofs,
    /// The proof failed a check of §4.3 (or §7.1: `ath`, replay); the
    /// variant names which. [`DpopError::Binding`] is the token's fault.
    #[error(transparent)]
    Proof(DpopError),
    /// A DPoP-bound token (`cnf.jkt`) presented as `Bearer` (§7.2).
    #[error("DPoP-bound token presented as a bearer token")]
    BoundTokenAsBearer,
    /// `Authorization: DPoP` with a token that is not DPoP-bound.
    #[error("token is not DPoP-bound")]
    UnboundToken,
    /// A token bound by a confirmation method other than `jkt` (mTLS's
    /// `x5t#S256`, ...), which this resource server cannot check.
    #[error("token is bound by an unsupported confirmation method")]
    UnsupportedBinding,
    /// The proof carried no nonce, or a stale one: retry with this nonce
    /// (`use_dpop_nonce`, §9).
    #[error("a fresh DPoP nonce is required")]
    UseNonce(String),
    /// The replay record could not be consulted: 503 (fail closed).
    #[error(transparent)]
    ReplayUnavailable(#[from] ReplayUnavailable),
}

impl DpopRefusal {
    /// The RFC 9449 §7.1 / RFC 6750 error code that answers it:
    /// `invalid_dpop_proof` for the proof's faults, `invalid_token` for
    /// the token's (its binding), `use_dpop_nonce`; `None` for
    /// [`DpopRefusal::ReplayUnavailable`] (503, no challenge).
    #[must_use]
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::Proof(DpopError::Binding)
            | Self::BoundTokenAsBearer
            | Self::UnboundToken
            | Self::UnsupportedBinding => Some("invalid_token"),
            Self::MissingProof | Self::SeveralProofs | Self::Proof(_) => Some("invalid_dpop_proof"),
            Self::UseNonce(_) => Some("use_dpop_nonce"),
            Self::ReplayUnavailable(_) => None,
        }
    }
}

/// How the resource server checks DPoP proofs. Secure defaults: the
/// asymmetric algorithms of [`DPOP_ALGORITHMS`], proofs at most 60 s old
/// and 5 s ahead of the clock, an in-memory [`ReplayCache`] of its own, no
/// nonces, and the request URL taken from the request itself (set
/// [`DpopConfig::external_url`] behind a proxy).
///
/// Clones share the replay record: give one configuration to every layer
/// of a process (or one shared [`ProofReplay`] to every replica).
///
/// ```
/// use std::sync::Arc;
/// use clientcreds_resource::{DpopConfig, DpopNonces, ReplayCache};
/// use time::Duration;
///
/// let config = DpopConfig::default()
///     .external_url("https://api.example.com/v1")?
///     .proof_window(Duration::seconds(30), Duration::seconds(5))
///     .replay(Arc::new(ReplayCache::with_capacity(10_000)))
///     .nonces(DpopNonces::new(&[7u8; 32], Duration::minutes(5))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct DpopConfig {
    algorithms: Arc<[Algorithm]>,
    max_age: Duration,
    leeway: Duration,
    external_url: Option<Arc<str>>,
    replay: Arc<dyn ProofReplay>,
    nonces: Option<DpopNonces>,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            algorithms: Arc::new(DPOP_ALGORITHMS),
            max_age: Duration::seconds(60),
            leeway: Duration::seconds(5),
            external_url: None,
            replay: Arc::new(ReplayCache::default()),
            nonces: None,
        }
    }
}

impl DpopConfig {
    /// Accepts proofs signed with `algorithms` only (symmetric ones are
    /// refused whatever this says). Default: [`DPOP_ALGORITHMS`].
    #[must_use]
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms
            .iter()
            .copied()
            .filter(|a| !a.is_symmetric())
            .collect();
        self
    }

    /// How old a proof's `iat` may be, and how far ahead of the clock
    /// (default 60 s and 5 s). Replayed proofs are remembered this long.
    #[must_use]
    pub fn proof_window(mut self, max_age: impl IntoDuration, leeway: impl IntoDuration) -> Self {
        self.max_age = max_age.into_duration();
        self.leeway = leeway.into_duration();
        self
    }

    /// The URL clients address this service by, for `htu`: scheme, host,
    /// optional port and an optional path prefix the proxy strips (a
    /// request for `/orders` behind `https://api.example.com/v1` must be
    /// proven for `https://api.example.com/v1/orders`).
    ///
    /// Without it the URL is the request's own: its URI when absolute
    /// (HTTP/2), else `https://` + its `Host` + its path. Behind a proxy
    /// that rewrites `Host` or terminates TLS, set this.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for anything but an absolute `http`/`https`
    /// URL without query or fragment.
    pub fn external_url(mut self, url: &str) -> Result<Self, Error> {
        let invalid = |reason| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        if url.contains(['?', '#']) {
            return Err(invalid("a query or fragment"));
        }
        let normalized = clientcreds_jwt::dpop::normalize_url(url)
            .ok_or_else(|| invalid("not an absolute http(s) URL"))?;
        self.external_url = Some(Arc::from(normalized.trim_end_matches('/')));
        Ok(self)
    }

    /// Records proofs in `replay` (default: a [`ReplayCache`] of this
    /// configuration's own). Share one between replicas.
    #[must_use]
    pub fn replay(mut self, replay: Arc<dyn ProofReplay>) -> Self {
        self.replay = replay;
        self
    }

    /// Requires a nonce of `nonces` in every proof (default: none). A
    /// proof without one, or with a stale one, is answered
    /// `use_dpop_nonce` with a fresh nonce in `DPoP-Nonce`.
    #[must_use]
    pub fn nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// The accepted algorithms (the challenge's `algs`).
    #[must_use]
    pub fn accepted_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The nonces, when required.
    #[must_use]
    pub fn nonce_source(&self) -> Option<&DpopNonces> {
        self.nonces.as_ref()
    }

    /// The URL a proof for this request must name in `htu`: the external
    /// URL and the request's path, or the request's own URL; `None` when
    /// it cannot be told (no `Host`).
    #[must_use]
    pub fn request_url(&self, uri: &Uri, headers: &HeaderMap) -> Option<String> {
        let path = uri.path();
        let path = if path.is_empty() { "/" } else { path };
        if let Some(base) = &self.external_url {
            return Some(format!("{base}{path}"));
        }
        if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
            return Some(format!("{scheme}://{authority}{path}"));
        }
        let host = headers.get(http::header::HOST)?.to_str().ok()?;
        (!host.is_empty() && !host.contains(['/', '@', '?', '#', ' ']))
            .then(|| format!("https://{host}{path}"))
    }

    /// Checks the proof of a `DPoP` request (everything but the token's
    /// binding and single use, which need the verified token): one `DPoP`
    /// header, [`check_proof`] against this request (method, URL, `ath`
    /// of `token`), and the nonce when required.
    ///
    /// # Errors
    /// The [`DpopRefusal`] of the first failed check.
    pub fn check_request(
        &self,
        method: &Method,
        url: Option<&str>,
        headers: &HeaderMap,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<CheckedProof, DpopRefusal> {
        let mut proofs = headers.get_all(DPOP_HEADER).iter();
        let proof = match (proofs.next(), proofs.next()) {
            (Some(proof), None) => proof,
            (None, _) => return Err(DpopRefusal::MissingProof),
            (Some(_), Some(_)) => return Err(DpopRefusal::SeveralProofs),
        };
        let proof = proof
            .to_str()
            .map_err(|_| DpopRefusal::Proof(DpopError::Malformed))?;
        let url = url.ok_or(DpopRefusal::Proof(DpopError::Url))?;
        let checked = check_proof(
            proof,
            &ProofCheck {
                method: method.as_str(),
                url,
                access_token: Some(token),
                algorithms: &self.algorithms,
                max_age: self.max_age,
                leeway: self.leeway,
                now,
            },
        )
        .map_err(DpopRefusal::Proof)?;
        if let Some(nonces) = &self.nonces
            && !checked
                .nonce
                .as_deref()
                .is_some_and(|n| nonces.accepts(n, now))
        {
            return Err(DpopRefusal::UseNonce(nonces.current(now)));
        }
        Ok(checked)
    }

    /// Records the proof as used: refused if it was used before.
    ///
    /// # Errors
    /// [`DpopRefusal::Proof`]`(`[`DpopError::Replayed`]`)`, or
    /// [`DpopRefusal::ReplayUnavailable`].
    pub async fn record(
        &self,
        proof: &CheckedProof,
        now: OffsetDateTime,
    ) -> Result<(), DpopRefusal> {
        self.record_key(&replay_key(proof), proof.expires_at, now)
            .await
    }

    /// [`DpopConfig::record`] with the proof's replay key already made
    /// (the layer keeps it, so it is digested once per request).
    pub(crate) async fn record_key(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), DpopRefusal> {
        if self.replay.first_use(key, expires_at, now).await? {
            Ok(())
        } else {
            Err(DpopRefusal::Proof(DpopError::Replayed))
        }
    }
}

/// The token's DPoP binding: `Some(jkt)` for `cnf.jkt`, `None` for an
/// unbound token.
///
/// # Errors
/// [`DpopRefusal::UnsupportedBinding`] for a `cnf` without a string `jkt`.
pub fn token_binding(context: &AccessContext) -> Result<Option<&str>, DpopRefusal> {
    match context.extra.get("cnf") {
        None => Ok(None),
        Some(cnf) => cnf
            .get("jkt")
            .and_then(serde_json::Value::as_str)
            .map(Some)
            .ok_or(DpopRefusal::UnsupportedBinding),
    }
}

/// Checks that the token may be used with the scheme it came with: a
/// bound token only as `DPoP` with a proof of its key, an unbound one
/// only as `Bearer`.
///
/// # Errors
/// [`DpopRefusal::BoundTokenAsBearer`], [`DpopRefusal::UnboundToken`],
/// [`DpopRefusal::UnsupportedBinding`], or
/// [`DpopRefusal::Proof`]`(`[`DpopError::Binding`]`)`.
pub fn check_binding(
    credentials: Credentials<'_>,
    context: &AccessContext,
    proof: Option<&CheckedProof>,
) -> Result<(), DpopRefusal> {
    match (credentials.scheme, token_binding(context)?, proof) {
        (Scheme::Bearer, None, _) => Ok(()),
        (Scheme::Bearer, Some(_), _) => Err(DpopRefusal::BoundTokenAsBearer),
        (Scheme::Dpop, None, _) => Err(DpopRefusal::UnboundToken),
        (Scheme::Dpop, Some(jkt), Some(proof))
            if constant_time_eq(jkt.as_bytes(), proof.jkt.as_bytes()) =>
        {
            Ok(())
        }
        (Scheme::Dpop, Some(_), _) => Err(DpopRefusal::Proof(DpopError::Binding)),
    }
}

/// The replay record's key of a proof: `dpop-rs:` and the base64url
/// SHA-256 of its key's thumbprint and its `jti` (51 bytes).
pub(crate) fn replay_key(proof: &CheckedProof) -> String {
    let mut material = Vec::with_capacity(proof.jkt.len() + proof.jti.len() + 1);
    material.extend_from_slice(proof.jkt.as_bytes());
    material.push(b'\n');
    material.extend_from_slice(proof.jti.as_bytes());
    let mut key = String::from("dpop-rs:");
    B64URL.encode_string(sha256(&material), &mut key);
    key
}

/// Equality in time that depends on the length only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
