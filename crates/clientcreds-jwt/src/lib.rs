//! Signing keys, key sets and RFC 9068 access tokens for clientcreds.
//!
//! - [`SigningKey`]: EdDSA (Ed25519, the default), ES256, ES384, RS256,
//!   PS256 and HS256; generated (EdDSA, ES256, ES384, HS256; RSA with
//!   aws-lc-rs) or loaded from PKCS#8 DER/PEM or a JWK;
//!   `kid` is the RFC 7638 thumbprint ([`thumbprint`]). Keys are parsed
//!   once and kept parsed.
//! - [`KeySet`]: one signing key, a published next key, retired and
//!   verification-only keys; publish-before-sign rotation; [`KeySet::jwks`]
//!   exports only public members ([`PublicJwk`] cannot hold private ones).
//! - [`TokenIssuer`]: RFC 9068 tokens, header `typ: at+jwt`, claims `iss`,
//!   `sub`, `aud`, `exp`, `iat`, `nbf`, `jti`, `client_id`, `scope`, a
//!   tenant claim and per-client extra claims.
//! - [`TokenVerifier`]: strict verification into an [`AccessContext`],
//!   with a distinct [`VerifyError`] for every failed check.
//!
//! # Crypto backend
//!
//! Keys are parsed once and kept parsed, and signing and verification call
//! the backend directly:
//!
//! - **`aws-lc-rs`** (feature `aws-lc-rs`, on by default): the fastest
//!   Ed25519 available to Rust here (signing ~2.5× and verifying ~1.3×
//!   faster than ring), public keys kept parsed, RSA keys can be generated.
//!   It brings a C build (aws-lc-sys needs a C compiler).
//! - **`ring`** (build with `default-features = false` on every clientcreds
//!   crate you depend on): no extra C build; RS256 keys can only be loaded
//!   ([`KeyError::GenerationUnsupported`]).
//!
//! Tokens, key ids and JWKS are the same under both. Two edges differ: aws-lc-rs checks a public
//! key when it is loaded (a point off the curve is [`KeyError::Rejected`]
//! at once), ring when it first verifies (it never verifies).
//!
//! Weak public keys are refused on both, by this crate before the backend
//! sees them ([`weak`]): small-order Ed25519 keys
//! ([`KeyError::SmallOrderEd25519`]) and RSA public exponents that are even
//! or below 65537 ([`KeyError::WeakRsaExponent`]).
//!
//! # Why not `jsonwebtoken::encode`/`decode`
//!
//! jsonwebtoken 11 signs and verifies through a process-wide
//! `CryptoProvider`: with both of its backend features in one build graph
//! (ours and a host's) it panics unless someone calls `install_default`,
//! which a library must not do; and `encode` re-parses the private key on
//! every call. This crate therefore uses the backend directly, with parsed
//! keys, and uses jsonwebtoken as the independent peer its
//! interoperability tests and benchmarks check against. See
//! `docs/PERFORMANCE.md` for the figures.

#![forbid(unsafe_code)]

mod algorithm;
mod backend;
pub mod dpop;
mod error;
mod jws;
mod key;
mod keyset;
mod token;
mod verify;
pub mod weak;

/// The `time` crate (0.3), whose `Duration` and `OffsetDateTime` appear in
/// this crate's API: use this one and the versions always match.
pub use time;

pub use algorithm::Algorithm;
pub use backend::CRYPTO_BACKEND;
pub use error::{InsufficientScope, KeyError, MintError, VerifyError};
pub use jws::{JwsHeader, SignedJws, sha256, sign_jws};
pub use key::{Jwks, PrivateJwk, PublicJwk, SigningKey, VerifyingKey, pkcs8_pem, thumbprint};
pub use keyset::KeySet;
pub use token::{
    ACCESS_TOKEN_TYPE, AccessToken, DEFAULT_TENANT_CLAIM, MintedToken, RESERVED_CLAIMS,
    SECRET_ID_CLAIM, TokenClaims, TokenIssuer,
};
pub use verify::{
    AccessContext, DEFAULT_MAX_TOKEN_LEN, IntoDuration, MAX_LEEWAY, TokenVerifier, Validation,
};
