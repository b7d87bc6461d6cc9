//! The signing algorithms.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A JWS algorithm (RFC 7518, RFC 8037). `none` does not exist here.
///
/// Non-exhaustive: more algorithms may be added; an allow-list
/// ([`Validation::algorithms`](crate::Validation::algorithms), a key set's
/// keys) always decides which ones a verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// Ed25519 (RFC 8037): the default; small, fast, deterministic.
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384 (FAPI issuers use it).
    ES384,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys and up).
    RS256,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256 (2048-bit keys and
    /// up; FAPI issuers use it).
    PS256,
    /// HMAC-SHA256 with a shared secret: never published in a JWKS.
    HS256,
}

impl Algorithm {
    /// The name in a JWS header.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::HS256 => "HS256",
        }
    }

    /// The algorithm with this header name; `None` for `none` and anything unknown.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDSA),
            "ES256" => Some(Self::ES256),
            "ES384" => Some(Self::ES384),
            "RS256" => Some(Self::RS256),
            "PS256" => Some(Self::PS256),
            "HS256" => Some(Self::HS256),
            _ => None,
        }
    }

    /// Whether keys of this algorithm are symmetric (secret on both sides).
    #[must_use]
    pub const fn is_symmetric(self) -> bool {
        matches!(self, Self::HS256)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
