//! Sender-constrained tokens at the token endpoint (RFC 9449): the proof
//! check, server nonces, and the binding a token carries.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::dpop::{CheckedProof, DPOP_ALGORITHMS, DpopError, ProofCheck, check_proof};
use clientcreds_jwt::{Algorithm, IntoDuration, MAX_LEEWAY};
use clientcreds_store::{ReplayCheck, ReplayStore};
use ring::hmac;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::Error;

/// How long a server nonce is accepted: the time step it is made for and
/// the one before (so a nonce handed out just before a step boundary still
/// works).
pub const DEFAULT_NONCE_STEP: Duration = Duration::minutes(5);

/// A key for stateless DPoP nonces: every replica with the same key (for
/// example derived from the same master keys with
/// `MasterKeys::derive_key`) makes and accepts the same nonces, and no
/// nonce is stored anywhere.
#[derive(Clone)]
pub struct NonceKey {
    key: hmac::Key,
    step: Duration,
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceKey")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl NonceKey {
    /// A nonce key from 32 secret bytes.
    #[must_use]
    pub fn new(secret: &Zeroizing<[u8; 32]>) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_ref()),
            step: DEFAULT_NONCE_STEP,
        }
    }

    /// Sets the time step (at least one second; default five minutes).
    #[must_use]
    pub fn with_step(mut self, step: impl IntoDuration) -> Self {
        self.step = step.into_duration().max(Duration::SECOND);
        self
    }

    fn step_of(&self, at: OffsetDateTime) -> i64 {
        at.unix_timestamp()
            .div_euclid(self.step.whole_seconds().max(1))
    }

    fn for_step(&self, step: i64) -> String {
        let tag = hmac::sign(&self.key, &step.to_be_bytes());
        B64URL.encode(tag.as_ref())
    }

    /// The nonce to hand out at `now`.
    #[must_use]
    pub fn nonce(&self, now: OffsetDateTime) -> String {
        self.for_step(self.step_of(now))
    }

    /// Whether `nonce` is this step's or the previous one's.
    #[must_use]
    pub fn accepts(&self, nonce: &str, now: OffsetDateTime) -> bool {
        let step = self.step_of(now);
        [step, step - 1].into_iter().any(|s| {
            // Constant-time: recompute the tag and let ring compare.
            B64URL
                .decode(nonce)
                .is_ok_and(|tag| hmac::verify(&self.key, &s.to_be_bytes(), &tag).is_ok())
        })
    }
}

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
    pub nonces: Option<NonceKey>,
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

    /// Requires server nonces made with `key`.
    #[must_use]
    pub fn with_nonces(mut self, key: NonceKey) -> Self {
        self.nonces = Some(key);
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
        let mut input = Vec::with_capacity(proof.jkt.len() + proof.jti.len() + 8);
        input.extend_from_slice(b"dpop\0");
        input.extend_from_slice(proof.jkt.as_bytes());
        input.push(0);
        input.extend_from_slice(proof.jti.as_bytes());
        let key = B64URL.encode(clientcreds_jwt::sha256(&input));
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
        self.nonces.as_ref().map(|k| k.nonce(now))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_work_for_two_steps_and_across_replicas() {
        let secret = Zeroizing::new([7u8; 32]);
        let (a, b) = (NonceKey::new(&secret), NonceKey::new(&secret));
        let t = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let nonce = a.nonce(t);
        assert!(b.accepts(&nonce, t));
        assert!(b.accepts(&nonce, t + Duration::minutes(5)));
        assert!(!b.accepts(&nonce, t + Duration::minutes(11)));
        assert!(!b.accepts("garbage", t));
        let other = NonceKey::new(&Zeroizing::new([8u8; 32]));
        assert!(!other.accepts(&nonce, t));
    }
}
