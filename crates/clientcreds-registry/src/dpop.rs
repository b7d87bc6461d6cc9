//! Sender-constrained tokens at the token endpoint (RFC 9449): the proof
//! check, server nonces, and the binding a token carries.

use std::fmt;
use std::sync::Arc;

use clientcreds_jwt::dpop::{CheckedProof, DPOP_ALGORITHMS, DpopError, ProofCheck, check_proof};
use clientcreds_jwt::{Algorithm, IntoDuration, MAX_LEEWAY};
use clientcreds_resource::DpopNonces;
use clientcreds_store::{ReplayCheck, ReplayStore};
use time::{Duration, OffsetDateTime};

use crate::Error;

/// The time step of server nonces ([`DpopNonces`]): a nonce is accepted
/// for its step and the next one, so one made just before a step boundary
/// still works.
pub const DEFAULT_NONCE_STEP: Duration = Duration::minutes(5);

/// DPoP at the token endpoint, configured on
/// [`TokenService::with_dpop`](crate::TokenService::with_dpop).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DpopConfig {
    /// The token endpoint's URL as clients address it (`htu`): the
    /// external URL when the server runs behind a proxy.
    pub token_endpoint: String,
    /// Single-use proof `jti`s, shared by replicas (the same store as
    /// client assertions').
    pub replay: Arc<dyn ReplayStore>,
    /// Accepted proof algorithms (default all asymmetric ones).
    pub algorithms: Vec<Algorithm>,
    /// How old a proof's `iat` may be (default 60 s).
    pub max_age: Duration,
    /// How far ahead a proof's `iat` may be (default 5 s, at most the
    /// verifier's [`MAX_LEEWAY`]).
    pub leeway: Duration,
    /// Server nonces (§8), when set: a proof without this server's nonce is
    /// answered `use_dpop_nonce` with a fresh one.
    pub nonces: Option<DpopNonces>,
    /// Every client must use DPoP (default: only clients registered with
    /// `dpop_bound_access_tokens`).
    pub required: bool,
}

impl DpopConfig {
    /// DPoP for the token endpoint at `token_endpoint`, with proofs'
    /// `jti`s kept in `replay`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a `token_endpoint` that is not an absolute
    /// http(s) URL.
    pub fn new(
        token_endpoint: impl Into<String>,
        replay: Arc<dyn ReplayStore>,
    ) -> Result<Self, Error> {
        let token_endpoint = token_endpoint.into();
        if clientcreds_jwt::dpop::normalize_url(&token_endpoint).is_none() {
            return Err(Error::invalid(
                "token_endpoint",
                "the token endpoint's external URL must be an absolute https URL",
            ));
        }
        Ok(Self {
            token_endpoint,
            replay,
            algorithms: DPOP_ALGORITHMS.to_vec(),
            max_age: Duration::seconds(60),
            leeway: Duration::seconds(5),
            nonces: None,
            required: false,
        })
    }

    /// Requires server nonces made with `nonces`: the resource side's
    /// stateless [`DpopNonces`], so one secret (for example
    /// `MasterKeys::derive_key("dpop-nonce")`) serves the token endpoint
    /// and the APIs alike, and every replica accepts every other's.
    #[must_use]
    pub fn with_nonces(mut self, nonces: DpopNonces) -> Self {
        self.nonces = Some(nonces);
        self
    }

    /// Requires DPoP of every client.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets how old a proof may be.
    #[must_use]
    pub fn with_max_age(mut self, max_age: impl IntoDuration) -> Self {
        self.max_age = max_age.into_duration();
        self
    }

    /// Checks a token request's proof at `now` (everything but the `jti`
    /// record, which [`DpopConfig::record`] makes once the client is
    /// authenticated).
    pub(crate) fn check(
        &self,
        proof: &str,
        now: OffsetDateTime,
    ) -> Result<CheckedProof, DpopRefusal> {
        let checked = check_proof(
            proof,
            &ProofCheck {
                method: "POST",
                url: &self.token_endpoint,
                access_token: None,
                algorithms: &self.algorithms,
                max_age: self.max_age,
                leeway: self.leeway.clamp(Duration::ZERO, MAX_LEEWAY),
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
            return Err(DpopRefusal::Nonce);
        }
        Ok(checked)
    }

    /// Records the proof's `jti` as used (one round trip on a database).
    pub(crate) async fn record(
        &self,
        proof: &CheckedProof,
        now: OffsetDateTime,
    ) -> Result<(), DpopRefusal> {
        let key = crate::assertion::replay_key(b"dpop", &proof.jkt, &proof.jti);
        match self
            .replay
            .check_and_record(&key, proof.expires_at, now)
            .await
        {
            Ok(ReplayCheck::First) => Ok(()),
            Ok(ReplayCheck::Replayed) => Err(DpopRefusal::Proof(DpopError::Replayed)),
            Err(_) => Err(DpopRefusal::Unavailable),
        }
    }

    /// The nonce to send now, when nonces are on.
    #[must_use]
    pub fn nonce(&self, now: OffsetDateTime) -> Option<String> {
        self.nonces.as_ref().map(|k| k.current(now))
    }
}

/// A `DPoP` header's proof as the token endpoint received it. Its `Debug`
/// never shows the proof.
#[derive(Clone)]
pub struct DpopProof(String);

impl DpopProof {
    /// The header's text.
    #[must_use]
    pub fn new(proof: impl Into<String>) -> Self {
        Self(proof.into())
    }

    /// The proof's text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DpopProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DpopProof([redacted])")
    }
}

/// One replay store for every party an issuer hosts: a
/// [`ReplayStore`] (memory, PostgreSQL, SQLite) as the resource side's
/// [`ProofReplay`](clientcreds_resource::ProofReplay), so the APIs an
/// issuer serves record DPoP proofs where the token endpoint records
/// proofs and client assertions, shared by every replica.
#[derive(Debug, Clone)]
pub struct SharedProofReplay(pub Arc<dyn ReplayStore>);

impl clientcreds_resource::ProofReplay for SharedProofReplay {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> clientcreds_resource::BoxFuture<'a, Result<bool, clientcreds_resource::ReplayUnavailable>>
    {
        Box::pin(async move {
            match self.0.check_and_record(key, expires_at, now).await {
                Ok(ReplayCheck::First) => Ok(true),
                Ok(ReplayCheck::Replayed) => Ok(false),
                // Fail closed: a store that cannot answer refuses.
                Err(_) => Err(clientcreds_resource::ReplayUnavailable),
            }
        })
    }
}

/// Why the token endpoint refused a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DpopRefusal {
    /// `invalid_dpop_proof`.
    Proof(DpopError),
    /// `use_dpop_nonce`.
    Nonce,
    /// The replay store failed: refused, fail closed.
    Unavailable,
}

impl DpopRefusal {
    /// The activity log's reason.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Proof(DpopError::Replayed) => "dpop_replayed",
            Self::Proof(DpopError::Signature) => "dpop_signature",
            Self::Proof(DpopError::Url) => "dpop_htu",
            Self::Proof(DpopError::Method) => "dpop_htm",
            Self::Proof(DpopError::IssuedAt) => "dpop_iat",
            Self::Proof(DpopError::Key | DpopError::Algorithm) => "dpop_key",
            Self::Proof(_) => "dpop_invalid",
            Self::Nonce => "dpop_nonce",
            Self::Unavailable => "dpop_unavailable",
        }
    }
}
