//! DPoP (RFC 9449), the caller's part (feature `dpop`): a key per
//! [`TokenClient`](crate::TokenClient), a fresh proof on every token
//! request and every API request, and the nonces servers ask for,
//! remembered per origin.
//!
//! The proofs themselves are made by `clientcreds_jwt::dpop::make_proof`,
//! the code the issuer and the resource server check them with.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::time::OffsetDateTime;
use clientcreds_jwt::{Algorithm, PrivateJwk, PublicJwk, SigningKey};
use ring::rand::SecureRandom as _;

use crate::Error;

mod nonce;

pub(crate) use nonce::NonceStore;

/// The `DPoP` request header (RFC 9449 §4.1) and the `DPoP-Nonce`
/// response header (§8).
pub(crate) const DPOP: http::HeaderName = http::HeaderName::from_static("dpop");
pub(crate) const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

/// The private key a [`TokenClient`](crate::TokenClient) proves possession
/// of with DPoP (RFC 9449): tokens it gets are bound to this key (their
/// `cnf.jkt` is its [thumbprint](DpopKey::thumbprint)), and every request
/// that presents one carries a proof signed with it.
///
/// Generate one per process ([`DpopKey::generate`]: the tokens it gets
/// are useless to anyone without it, and it needs no registration), or
/// load one the host keeps ([`DpopKey::from_pkcs8_pem`],
/// [`DpopKey::from_jwk`], [`DpopKey::new`]) so that replicas, or restarts,
/// share tokens through a shared [`TokenCache`](crate::TokenCache).
///
/// Cheap to clone (the key is shared). `Debug` shows the algorithm and the
/// thumbprint, never the key.
///
/// ```
/// use clientcreds_client::DpopKey;
/// use clientcreds_client::jwt::Algorithm;
///
/// let key = DpopKey::generate()?; // EdDSA (Ed25519)
/// assert_eq!(key.algorithm(), Algorithm::EdDSA);
/// assert_eq!(key.thumbprint().len(), 43); // base64url SHA-256 (RFC 7638)
/// let p256 = DpopKey::generate_with(Algorithm::ES256)?;
/// assert!(format!("{p256:?}").contains("ES256"));
/// # Ok::<(), clientcreds_client::Error>(())
/// ```
#[derive(Clone)]
pub struct DpopKey {
    key: Arc<SigningKey>,
    thumbprint: Arc<str>,
}

impl DpopKey {
    /// A new random Ed25519 key (`EdDSA`), the default.
    ///
    /// # Errors
    ///
    /// [`Error::Dpop`] if the random number generator fails.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_with(Algorithm::EdDSA)
    }

    /// A new random key for `algorithm`: `EdDSA` or `ES256` (the two every
    /// DPoP server takes), `ES384`; `RS256` and `PS256` with the
    /// `aws-lc-rs` backend of `clientcreds-jwt` only.
    ///
    /// # Errors
    ///
    /// [`Error::Dpop`] for HS256 (a shared secret proves nothing to a
    /// server that does not hold it), or an algorithm this backend cannot
    /// generate keys for.
    pub fn generate_with(algorithm: Algorithm) -> Result<Self, Error> {
        if algorithm.is_symmetric() {
            return Err(symmetric());
        }
        let key = SigningKey::generate(algorithm)
            .map_err(|error| Error::Dpop(format!("generating a {algorithm} key: {error}")))?;
        Self::new(key)
    }

    /// Wraps a loaded asymmetric key (`EdDSA`, `ES256`, `ES384`, `PS256`,
    /// `RS256`).
    ///
    /// # Errors
    ///
    /// [`Error::Dpop`] for an HS256 key.
    pub fn new(key: SigningKey) -> Result<Self, Error> {
        if key.algorithm().is_symmetric() {
            return Err(symmetric());
        }
        let thumbprint = key_thumbprint(&key)
            .map_err(|error| Error::Dpop(format!("the key has no public JWK: {error}")))?;
        Ok(Self {
            key: Arc::new(key),
            thumbprint: thumbprint.into(),
        })
    }

    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) for
    /// `algorithm`.
    ///
    /// # Errors
    ///
    /// [`Error::Dpop`] when the text is not a PKCS#8 PEM key of that
    /// algorithm (the reason says which); never the key's bytes.
    pub fn from_pkcs8_pem(algorithm: Algorithm, pem: &str) -> Result<Self, Error> {
        if algorithm.is_symmetric() {
            return Err(symmetric());
        }
        let key = SigningKey::from_pkcs8_pem(algorithm, pem)
            .map_err(|error| Error::Dpop(format!("PKCS#8 PEM {algorithm} key: {error}")))?;
        Self::new(key)
    }

    /// Loads a private JWK (RFC 7517): `OKP`/`Ed25519`, `EC`/`P-256` or
    /// `P-384`, `RSA`.
    ///
    /// # Errors
    ///
    /// [`Error::Dpop`] naming the member that is missing or wrong; never
    /// the key's values.
    pub fn from_jwk(json: &str) -> Result<Self, Error> {
        let bad = |error: clientcreds_jwt::KeyError| Error::Dpop(format!("JWK: {error}"));
        let jwk = PrivateJwk::from_json(json).map_err(bad)?;
        Self::new(SigningKey::from_jwk(&jwk).map_err(bad)?)
    }

    /// The signing algorithm (the proofs' `alg`).
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The RFC 7638 thumbprint of the public key: the `cnf.jkt` of the
    /// tokens bound to this key, and part of their cache key.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public key, as every proof's `jwk` header carries it.
    #[must_use]
    pub fn public_jwk(&self) -> Option<&PublicJwk> {
        self.key.verifying_key().public_jwk()
    }

    /// A new proof for `method` on `url` (`htu`: without query and
    /// fragment), issued `now`, with `ath` for `access_token` and the
    /// server's `nonce`; `jti` is 128 random bits, base64url.
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<http::HeaderValue, Error> {
        let mut jti = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut jti)
            .map_err(|_| Error::Dpop("the random number generator failed".into()))?;
        let jti = B64URL.encode(jti);
        let proof = make_proof(
            &self.key,
            &ProofRequest {
                method,
                url,
                access_token,
                nonce,
                now: OffsetDateTime::from(now),
                jti: &jti,
            },
        )
        .map_err(|error| Error::Dpop(format!("signing a proof: {error}")))?;
        let mut value = http::HeaderValue::try_from(proof)
            .map_err(|_| Error::Dpop("the proof is not a valid header value".into()))?;
        // Not a secret, but bound to the token: keep it out of `Debug`.
        value.set_sensitive(true);
        Ok(value)
    }
}

fn symmetric() -> Error {
    Error::Dpop("an HS256 secret cannot sign DPoP proofs; use an asymmetric key".into())
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("algorithm", &self.key.algorithm())
            .field("thumbprint", &&*self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// A client's DPoP settings and state.
pub(crate) struct Dpop {
    pub(crate) key: DpopKey,
    /// Whether a `Bearer` answer to a request with a proof is accepted.
    pub(crate) allow_bearer: bool,
    pub(crate) nonces: NonceStore,
}

impl Dpop {
    pub(crate) fn new(key: DpopKey, allow_bearer: bool) -> Self {
        Self {
            key,
            allow_bearer,
            nonces: NonceStore::default(),
        }
    }

    /// A proof for a request to `url`, with the nonce last seen from its
    /// origin.
    pub(crate) fn proof_for(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        now: SystemTime,
    ) -> Result<http::HeaderValue, Error> {
        let nonce = self.nonces.get(url);
        self.key
            .proof(method, url, access_token, nonce.as_deref(), now)
    }

    /// Remembers the `DPoP-Nonce` of a response from `url`, if it has one.
    /// Whether it had one.
    pub(crate) fn observe(&self, url: &str, headers: &http::HeaderMap) -> bool {
        match headers.get(DPOP_NONCE) {
            Some(nonce) => self.nonces.remember(url, nonce),
            None => false,
        }
    }
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("key", &self.key)
            .field("allow_bearer", &self.allow_bearer)
            .finish_non_exhaustive()
    }
}
