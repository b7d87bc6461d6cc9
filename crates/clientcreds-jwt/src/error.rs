//! The crate's error types.

/// Why a key could not be made, loaded, or used to sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key material was refused by the crypto backend (wrong type,
    /// wrong curve, malformed DER, RSA modulus under 2048 bits, ...).
    #[error("key rejected: {0}")]
    Rejected(String),
    /// The PEM text is not a single `PRIVATE KEY` block.
    #[error("not a PKCS#8 PEM `PRIVATE KEY` block")]
    Pem,
    /// A JWK is missing a member or has one of the wrong form.
    #[error("invalid JWK: {0}")]
    Jwk(&'static str),
    /// An HMAC secret shorter than 32 bytes.
    #[error("HS256 secret is {0} bytes; at least 32 are required")]
    WeakSecret(usize),
    /// A key id that is empty, over 256 bytes, or holds control characters.
    #[error("invalid key id")]
    InvalidKid,
    /// This backend cannot generate keys of this algorithm (RSA: load a
    /// PKCS#8 key made with `openssl genpkey -algorithm RSA`).
    #[error("generating {0} keys is not supported; load an existing key")]
    GenerationUnsupported(&'static str),
    /// The key set has no key with this id.
    #[error("no key with id `{0}` in the key set")]
    UnknownKid(String),
    /// Two keys with one id in a key set.
    #[error("a key with id `{0}` is already in the key set")]
    DuplicateKid(String),
    /// An Ed25519 public key that is a point of small order (or an
    /// encoding of one): with it, one constant signature would verify
    /// every token. See [`crate::weak`].
    #[error("Ed25519 public key is a small-order point; it would accept forged signatures")]
    SmallOrderEd25519,
    /// An RSA public exponent that is `"even"` or `"below 65537"` (the
    /// reason). See [`crate::weak`].
    #[error("RSA public exponent is {0}; an odd exponent of at least 65537 is required")]
    WeakRsaExponent(&'static str),
    /// The random number generator or the signer failed.
    #[error("signing failed")]
    Signing,
}

/// Why a token was refused. Each reason is its own variant, and none
/// repeats the token or any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Longer than the verifier's maximum.
    #[error("token longer than {max} bytes")]
    TooLong {
        /// The maximum.
        max: usize,
    },
    /// Not three base64url parts separated by dots, or a part does not
    /// decode.
    #[error("token is not a compact JWS")]
    Malformed,
    /// The header is not a JSON object of the expected shape.
    #[error("token header is invalid")]
    InvalidHeader,
    /// The header's `alg` is `none` or not in the allow-list.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header has no `typ`.
    #[error("token has no `typ` header")]
    MissingType,
    /// The header's `typ` is not `at+jwt` (RFC 9068), nor `JWT` when
    /// [`Validation::danger_accept_typ_jwt`](crate::Validation::danger_accept_typ_jwt)
    /// allows it.
    #[error("token `typ` is not `at+jwt`")]
    WrongType,
    /// The header names a critical extension (`crit`) this verifier does
    /// not understand.
    #[error("token has critical header extensions")]
    UnsupportedCritical,
    /// The header has no `kid`.
    #[error("token has no `kid` header")]
    MissingKid,
    /// No key with the header's `kid`.
    #[error("no key for the token's `kid`")]
    UnknownKid,
    /// The key named by `kid` is for another algorithm than the header's
    /// `alg` (algorithm confusion).
    #[error("token `alg` does not match its key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("token signature is invalid")]
    BadSignature,
    /// The payload is not a JSON object.
    #[error("token payload is invalid")]
    InvalidPayload,
    /// A required claim is absent.
    #[error("token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or form.
    #[error("token claim `{0}` is invalid")]
    InvalidClaim(&'static str),
    /// `iss` is not the expected issuer.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// `iss` differs from the accepted issuer only by a trailing slash.
    /// Issuers compare as exact strings (RFC 8414 §3.3): configure the
    /// issuer exactly as the issuer's metadata and tokens spell it.
    #[error(
        "token issuer differs from the accepted issuer only by a trailing slash; issuers compare \
         as exact strings (RFC 8414 §3.3): configure the issuer exactly as its metadata spells it"
    )]
    IssuerTrailingSlash,
    /// `aud` names none of the accepted audiences.
    #[error("token audience is not accepted")]
    WrongAudience,
    /// The configured tenant claim
    /// ([`Validation::tenant_claim`](crate::Validation::tenant_claim)) is
    /// absent while a tenant is required.
    #[error("token lacks the tenant claim `{claim}`")]
    MissingTenantClaim {
        /// The configured claim name.
        claim: String,
    },
    /// The configured tenant claim is not a non-empty string.
    #[error("token's tenant claim `{claim}` is not a non-empty string")]
    InvalidTenantClaim {
        /// The configured claim name.
        claim: String,
    },
    /// The tenant claim names a tenant the validation does not accept
    /// ([`Validation::tenants`](crate::Validation::tenants)).
    #[error("token tenant is not accepted")]
    WrongTenant,
    /// `exp` has passed (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` (or `iat`) is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// The token's client is no longer active (opt-in live check).
    #[error("token's client is no longer active")]
    ClientInactive,
    /// The secret that minted the token has been revoked or rotated out
    /// (opt-in live check).
    #[error("token's secret is no longer valid")]
    SecretInactive,
    /// The opt-in live check could not reach the client store and had no
    /// earlier answer to fall back on; the token is refused (fail closed).
    #[error("token's client could not be checked")]
    CheckUnavailable,
}

/// A verified token lacks a required scope (RFC 6750 `insufficient_scope`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("insufficient scope: `{required}` is required")]
pub struct InsufficientScope {
    /// The scope the resource requires.
    pub required: String,
}

/// Why a token could not be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The lifetime is not positive, or the claims do not serialize.
    #[error("invalid token content: {0}")]
    Invalid(&'static str),
}
