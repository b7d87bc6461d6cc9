//! The crypto backend: `aws-lc-rs` (feature `aws-lc-rs`, on by default) or
//! `ring` (always present: `clientcreds-secret` uses it).
//!
//! The two crates share one API for almost everything this crate needs, so
//! the rest of the crate names `backend::...` and never the crate. The few
//! places where they differ live here:
//! - ECDSA key loading takes a random number generator in ring only;
//! - aws-lc-rs parses a public key once ([`PublicKey`] keeps it parsed,
//!   which is what makes verification as fast as the raw primitive), while
//!   ring verifies from bytes each time (it has nothing to keep);
//! - only aws-lc-rs can generate RSA keys.

#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs as imp;
#[cfg(not(feature = "aws-lc-rs"))]
use ring as imp;

pub(crate) use imp::error::KeyRejected;
pub(crate) use imp::rand::{SecureRandom, SystemRandom};
pub(crate) use imp::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
pub(crate) use imp::{digest, hmac};

use imp::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED,
    ECDSA_P384_SHA384_FIXED_SIGNING, ED25519, EcdsaSigningAlgorithm, RSA_PKCS1_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA256, RsaPublicKeyComponents,
};
use zeroize::Zeroizing;

use crate::KeyError;

/// The crypto backend this build signs and verifies with: `"aws-lc-rs"`
/// or `"ring"`.
pub const CRYPTO_BACKEND: &str = if cfg!(feature = "aws-lc-rs") {
    "aws-lc-rs"
} else {
    "ring"
};

/// The ECDSA curves: P-256 (ES256) and P-384 (ES384).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
}

impl Curve {
    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &ECDSA_P384_SHA384_FIXED_SIGNING,
        }
    }

    /// The length of one coordinate, in bytes.
    pub(crate) const fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }

    /// The JWK `crv` name.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
        }
    }
}

/// An ECDSA key pair from PKCS#8 DER.
pub(crate) fn ecdsa_from_pkcs8(curve: Curve, der: &[u8]) -> Result<EcdsaKeyPair, KeyRejected> {
    #[cfg(feature = "aws-lc-rs")]
    {
        EcdsaKeyPair::from_pkcs8(curve.signing(), der)
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        EcdsaKeyPair::from_pkcs8(curve.signing(), der, &SystemRandom::new())
    }
}

/// An ECDSA key pair from the private scalar and the uncompressed point.
pub(crate) fn ecdsa_from_parts(
    curve: Curve,
    d: &[u8],
    point: &[u8],
) -> Result<EcdsaKeyPair, KeyRejected> {
    #[cfg(feature = "aws-lc-rs")]
    {
        EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), d, point)
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        EcdsaKeyPair::from_private_key_and_public_key(
            curve.signing(),
            d,
            point,
            &SystemRandom::new(),
        )
    }
}

/// A new ECDSA private key as PKCS#8 DER.
pub(crate) fn ecdsa_generate_pkcs8(
    curve: Curve,
    rng: &SystemRandom,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    EcdsaKeyPair::generate_pkcs8(curve.signing(), rng)
        .map(|doc| Zeroizing::new(doc.as_ref().to_vec()))
        .map_err(|_| KeyError::Signing)
}

/// A new 2048-bit RSA private key as PKCS#8 DER (aws-lc-rs only).
pub(crate) fn rsa_generate_pkcs8() -> Result<Zeroizing<Vec<u8>>, KeyError> {
    #[cfg(feature = "aws-lc-rs")]
    {
        use imp::encoding::{AsDer, Pkcs8V1Der};
        let pair =
            RsaKeyPair::generate(imp::rsa::KeySize::Rsa2048).map_err(|_| KeyError::Signing)?;
        let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| KeyError::Signing)?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    Err(KeyError::GenerationUnsupported("RS256"))
}

/// An RSA key pair from its JWK members, each big-endian.
pub(crate) struct RsaParts<'a> {
    pub(crate) n: &'a [u8],
    pub(crate) e: &'a [u8],
    pub(crate) d: &'a [u8],
    pub(crate) p: &'a [u8],
    pub(crate) q: &'a [u8],
    pub(crate) dp: &'a [u8],
    pub(crate) dq: &'a [u8],
    pub(crate) qi: &'a [u8],
}

pub(crate) fn rsa_from_parts(parts: &RsaParts<'_>) -> Result<RsaKeyPair, KeyRejected> {
    let components = imp::rsa::KeyPairComponents {
        public_key: RsaPublicKeyComponents {
            n: parts.n,
            e: parts.e,
        },
        d: parts.d,
        p: parts.p,
        q: parts.q,
        dP: parts.dp,
        dQ: parts.dq,
        qInv: parts.qi,
    };
    RsaKeyPair::from_components(&components)
}

/// `(n, e)` of an RSA key pair.
pub(crate) fn rsa_public(pair: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
    let components: RsaPublicKeyComponents<Vec<u8>> = pair.public_key().into();
    (components.n, components.e)
}

/// Signs with an RSA key: PKCS#1 v1.5 (RS256) or PSS (PS256), SHA-256.
pub(crate) fn rsa_sign(
    pair: &RsaKeyPair,
    pss: bool,
    rng: &SystemRandom,
    message: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let mut out = vec![0u8; pair.public_key().modulus_len()];
    let padding: &'static dyn signature::RsaEncoding = if pss {
        &signature::RSA_PSS_SHA256
    } else {
        &signature::RSA_PKCS1_SHA256
    };
    pair.sign(padding, rng, message, &mut out)
        .map_err(|_| KeyError::Signing)?;
    Ok(out)
}

/// An asymmetric public key, ready to verify.
#[derive(Clone)]
pub(crate) struct PublicKey(Inner);

#[cfg(feature = "aws-lc-rs")]
type Inner = signature::ParsedPublicKey;

#[cfg(not(feature = "aws-lc-rs"))]
#[derive(Clone)]
enum Inner {
    Ed25519(Vec<u8>),
    Es256(Vec<u8>),
    Es384(Vec<u8>),
    Rs256(RsaPublicKeyComponents<Vec<u8>>),
    Ps256(RsaPublicKeyComponents<Vec<u8>>),
}

impl PublicKey {
    /// An Ed25519 public key (32 bytes), not of small order (both backends:
    /// [`crate::weak`]).
    pub(crate) fn ed25519(bytes: &[u8]) -> Result<Self, KeyError> {
        crate::weak::check_ed25519(bytes)?;
        #[cfg(feature = "aws-lc-rs")]
        {
            parsed(signature::ParsedPublicKey::new(&ED25519, bytes))
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            Ok(Self(Inner::Ed25519(bytes.to_vec())))
        }
    }

    /// An ECDSA public key as an uncompressed point (65 bytes for P-256,
    /// 97 for P-384).
    pub(crate) fn ecdsa(curve: Curve, point: &[u8]) -> Result<Self, KeyError> {
        #[cfg(feature = "aws-lc-rs")]
        {
            let algorithm = match curve {
                Curve::P256 => &ECDSA_P256_SHA256_FIXED,
                Curve::P384 => &ECDSA_P384_SHA384_FIXED,
            };
            parsed(signature::ParsedPublicKey::new(algorithm, point))
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            Ok(Self(match curve {
                Curve::P256 => Inner::Es256(point.to_vec()),
                Curve::P384 => Inner::Es384(point.to_vec()),
            }))
        }
    }

    /// An RSA public key from its modulus and exponent (big-endian), for
    /// PKCS#1 v1.5 (`pss` false: RS256) or PSS (PS256) signatures; the
    /// exponent odd and at least 65537 (both backends: [`crate::weak`]).
    pub(crate) fn rsa(n: &[u8], e: &[u8], pss: bool) -> Result<Self, KeyError> {
        crate::weak::check_rsa_exponent(e)?;
        let components = RsaPublicKeyComponents {
            n: n.to_vec(),
            e: e.to_vec(),
        };
        #[cfg(feature = "aws-lc-rs")]
        {
            let algorithm = if pss {
                &RSA_PSS_2048_8192_SHA256
            } else {
                &RSA_PKCS1_2048_8192_SHA256
            };
            parsed(components.to_parsed_public_key(algorithm))
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            Ok(Self(if pss {
                Inner::Ps256(components)
            } else {
                Inner::Rs256(components)
            }))
        }
    }

    /// Whether `sig` is this key's valid signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        #[cfg(feature = "aws-lc-rs")]
        {
            self.0.verify_sig(message, sig).is_ok()
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            match &self.0 {
                Inner::Ed25519(key) => signature::UnparsedPublicKey::new(&ED25519, key)
                    .verify(message, sig)
                    .is_ok(),
                Inner::Es256(point) => {
                    signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                        .verify(message, sig)
                        .is_ok()
                }
                Inner::Es384(point) => {
                    signature::UnparsedPublicKey::new(&ECDSA_P384_SHA384_FIXED, point)
                        .verify(message, sig)
                        .is_ok()
                }
                Inner::Rs256(components) => components
                    .verify(&RSA_PKCS1_2048_8192_SHA256, message, sig)
                    .is_ok(),
                Inner::Ps256(components) => components
                    .verify(&RSA_PSS_2048_8192_SHA256, message, sig)
                    .is_ok(),
            }
        }
    }
}

#[cfg(feature = "aws-lc-rs")]
fn parsed(key: Result<signature::ParsedPublicKey, KeyRejected>) -> Result<PublicKey, KeyError> {
    key.map(PublicKey)
        .map_err(|e| KeyError::Rejected(e.to_string()))
}
