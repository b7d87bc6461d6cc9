//! [`AssertionKey`]: `private_key_jwt` (RFC 7523 §2.2, RFC 7521 §4.2,
//! draft-ietf-oauth-rfc7523bis), a fresh signed assertion per token request.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{Algorithm, PrivateJwk, SigningKey};
use ring::rand::SecureRandom as _;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::Error;

/// The longest assertion lifetime [`AssertionKey::with_lifetime`] accepts
/// (5 minutes, the issuer's default maximum).
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(300);

/// The `typ` header of a signed client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionTyp {
    /// `client-authentication+jwt`: explicit typing from
    /// draft-ietf-oauth-rfc7523bis, so that the assertion cannot be
    /// mistaken for another kind of JWT (the default).
    #[default]
    ClientAuthentication,
    /// `JWT`, for servers that refuse the explicit type.
    Jwt,
}

impl AssertionTyp {
    /// The header value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientAuthentication => "client-authentication+jwt",
            Self::Jwt => "JWT",
        }
    }
}

/// A private key for `private_key_jwt`: the client signs a new assertion
/// for every token request.
///
/// The assertion's claims (RFC 7523 §3): `iss` and `sub` are the client
/// id; `aud` is the authorization server's issuer identifier (see
/// [`AssertionKey::with_audience`]); `iat` is now and `exp` is now plus
/// the [lifetime](AssertionKey::with_lifetime) (60 s); `jti` is 128
/// random bits, base64url. The header carries `alg`, `typ`
/// ([`AssertionTyp`]) and `kid`. `iat` is read from the client's
/// [`Clock`](crate::Clock), like every other time rule of the cache.
///
/// Cheap to clone (the parsed key is shared). `Debug` shows the algorithm
/// and key id, never the key.
///
/// ```
/// use clientcreds_client::{AssertionKey, TokenClient};
/// use clientcreds_client::jwt::{Algorithm, SigningKey, pkcs8_pem};
///
/// // A key the client keeps (its public half is registered at the server).
/// let pem = pkcs8_pem(&SigningKey::generate_pkcs8(Algorithm::EdDSA)?);
/// let key = AssertionKey::from_pkcs8_pem(Algorithm::EdDSA, &pem)?;
/// assert!(!format!("{key:?}").contains("PRIVATE"));
///
/// let tokens = TokenClient::builder_with_key("svc_123", key)
///     .issuer("https://auth.example")
///     .token_endpoint("https://auth.example/oauth/token")
///     .build()?;
/// # let _ = tokens;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AssertionKey {
    key: Arc<SigningKey>,
    kid: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
    typ: AssertionTyp,
}

impl AssertionKey {
    /// Wraps a loaded key (EdDSA, ES256, ES384, PS256 or RS256).
    ///
    /// # Errors
    ///
    /// [`Error::AssertionKey`] for an HS256 key: a shared secret is not a
    /// private key.
    pub fn new(key: SigningKey) -> Result<Self, Error> {
        if key.algorithm().is_symmetric() {
            return Err(Error::AssertionKey(
                "an HS256 secret cannot sign private_key_jwt assertions; use an asymmetric key"
                    .into(),
            ));
        }
        Ok(Self {
            key: Arc::new(key),
            kid: None,
            audience: None,
            lifetime: Duration::from_secs(60),
            typ: AssertionTyp::default(),
        })
    }

    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) for
    /// `algorithm`. The `kid` is the key's RFC 7638 thumbprint unless
    /// [`AssertionKey::with_kid`] says otherwise. RSA keys (RS256, PS256)
    /// load with either crypto backend.
    ///
    /// # Errors
    ///
    /// [`Error::AssertionKey`] when the text is not a PKCS#8 PEM key of
    /// that algorithm (the reason says which); never the key's bytes.
    pub fn from_pkcs8_pem(algorithm: Algorithm, pem: &str) -> Result<Self, Error> {
        let key = SigningKey::from_pkcs8_pem(algorithm, pem)
            .map_err(|error| Error::AssertionKey(format!("PKCS#8 PEM {algorithm} key: {error}")))?;
        Self::new(key)
    }

    /// Loads a private JWK (RFC 7517): `OKP`/`Ed25519` (EdDSA), `EC`/`P-256`
    /// (ES256) or `P-384` (ES384), `RSA` (RS256, or PS256 when `alg` says
    /// so). The JWK's own `kid`, when it has one, is the header `kid` (the
    /// server finds the registered key by it); otherwise the thumbprint.
    ///
    /// # Errors
    ///
    /// [`Error::AssertionKey`] naming the member that is missing or wrong;
    /// never the key's values.
    pub fn from_jwk(json: &str) -> Result<Self, Error> {
        let bad = |error: clientcreds_jwt::KeyError| Error::AssertionKey(format!("JWK: {error}"));
        let jwk = PrivateJwk::from_json(json).map_err(bad)?;
        let key = SigningKey::from_jwk(&jwk).map_err(bad)?;
        #[derive(serde::Deserialize)]
        struct Kid {
            kid: Option<String>,
        }
        let kid = serde_json::from_str::<Kid>(json)
            .map_err(|_| Error::AssertionKey("JWK: kid is not a string".into()))?
            .kid;
        let mut key = Self::new(key)?;
        key.kid = kid;
        Ok(key)
    }

    /// The `kid` header to send, when the server registered the key under
    /// an id of its own (default: the JWK's `kid`, else the RFC 7638
    /// thumbprint).
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The `aud` claim. By default it is the authorization server's issuer
    /// identifier: the [issuer](crate::TokenClientBuilder::issuer) the
    /// client was built with (discovery checks that the metadata names
    /// exactly that issuer). Without an issuer, the token endpoint URL is
    /// the audience (RFC 7523 allows it; draft-ietf-oauth-rfc7523bis
    /// prefers the issuer, and a server may accept only that): configure
    /// the issuer, or set it here.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How long each assertion is valid: `exp` = `iat` + this (default 60
    /// s; whole seconds, at least 1 s and at most 5 minutes, checked when
    /// the client is built).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The `typ` header (default [`AssertionTyp::ClientAuthentication`]).
    #[must_use]
    pub fn with_typ(mut self, typ: AssertionTyp) -> Self {
        self.typ = typ;
        self
    }

    /// The signing algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm()
    }

    /// The `kid` header sent.
    #[must_use]
    pub fn kid(&self) -> &str {
        self.kid.as_deref().unwrap_or_else(|| self.key.kid())
    }

    /// The RFC 7638 thumbprint of the public key.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        self.key.verifying_key().kid()
    }

    /// The public key, to register at the authorization server (its JWK
    /// through [`VerifyingKey::public_jwk`](clientcreds_jwt::VerifyingKey::public_jwk)).
    #[must_use]
    pub fn verifying_key(&self) -> &clientcreds_jwt::VerifyingKey {
        self.key.verifying_key()
    }

    /// The configured audience, if any.
    pub(crate) fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// Checks the settings [`AssertionKey`]'s builders take unchecked.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.lifetime < Duration::from_secs(1) || self.lifetime > MAX_LIFETIME {
            return Err(Error::Config {
                field: "assertion lifetime",
                reason: "must be between 1 s and 5 minutes",
            });
        }
        let kid = self.kid();
        if kid.is_empty() || kid.len() > 256 || kid.chars().any(char::is_control) {
            return Err(Error::Config {
                field: "assertion kid",
                reason: "must be 1 to 256 bytes without control characters",
            });
        }
        let audience_ok = |aud: &str| !aud.is_empty() && !aud.chars().any(char::is_control);
        if !self.audience.as_deref().is_none_or(audience_ok) {
            return Err(Error::Config {
                field: "assertion audience",
                reason: "must be non-empty, without control characters",
            });
        }
        Ok(())
    }

    /// A new signed assertion for `client_id` at `audience`, issued `now`.
    pub(crate) fn sign(
        &self,
        client_id: &str,
        audience: &str,
        now: SystemTime,
    ) -> Result<Zeroizing<String>, Error> {
        let mut jti = [0u8; 16];
        ring::rand::SystemRandom::new()
            .fill(&mut jti)
            .map_err(|_| Error::AssertionKey("the random number generator failed".into()))?;
        let iat = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::AssertionKey("the clock is before 1970".into()))?
            .as_secs();
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            iat,
            exp: iat.saturating_add(self.lifetime.as_secs()),
            jti: B64URL.encode(jti),
        };
        let signed = match self.kid.as_deref() {
            Some(kid) if kid != self.key.kid() => self.sign_with_kid(kid, &claims),
            _ => clientcreds_jwt::sign_jws(&self.key, self.typ.as_str(), false, &claims)
                .map_err(|error| Error::AssertionKey(format!("signing failed: {error}"))),
        }?;
        Ok(Zeroizing::new(signed))
    }

    /// As `sign_jws`, with a `kid` other than the key's own.
    fn sign_with_kid(&self, kid: &str, claims: &Claims<'_>) -> Result<String, Error> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'static str,
            typ: &'static str,
            kid: &'a str,
        }
        let header = serde_json::to_vec(&Header {
            alg: self.key.algorithm().name(),
            typ: self.typ.as_str(),
            kid,
        })
        .map_err(|_| Error::AssertionKey("the header does not serialize".into()))?;
        let payload = serde_json::to_vec(claims)
            .map_err(|_| Error::AssertionKey("the claims do not serialize".into()))?;
        let mut text = B64URL.encode(header);
        text.push('.');
        B64URL.encode_string(payload, &mut text);
        let signature = self
            .key
            .sign(text.as_bytes())
            .map_err(|error| Error::AssertionKey(format!("signing failed: {error}")))?;
        text.push('.');
        B64URL.encode_string(signature, &mut text);
        Ok(text)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionKey")
            .field("algorithm", &self.key.algorithm())
            .field("kid", &self.kid())
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}
