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
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519,
    RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
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

/// An ES256 key pair from PKCS#8 DER.
pub(crate) fn ecdsa_from_pkcs8(der: &[u8]) -> Result<EcdsaKeyPair, KeyRejected> {
    #[cfg(feature = "aws-lc-rs")]
    {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
    }
}

/// An ES256 key pair from the private scalar and the uncompressed point.
pub(crate) fn ecdsa_from_parts(d: &[u8], point: &[u8]) -> Result<EcdsaKeyPair, KeyRejected> {
    #[cfg(feature = "aws-lc-rs")]
    {
        EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_FIXED_SIGNING, d, point)
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            d,
            point,
            &SystemRandom::new(),
        )
    }
}

/// A new ES256 private key as PKCS#8 DER.
pub(crate) fn ecdsa_generate_pkcs8(rng: &SystemRandom) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng)
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

/// Signs with an RSA key (PKCS#1 v1.5, SHA-256).
pub(crate) fn rsa_sign(
    pair: &RsaKeyPair,
    rng: &SystemRandom,
    message: &[u8],
) -> Result<Vec<u8>, KeyError> {
    let mut out = vec![0u8; pair.public_key().modulus_len()];
    pair.sign(&signature::RSA_PKCS1_SHA256, rng, message, &mut out)
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
    Rs256(RsaPublicKeyComponents<Vec<u8>>),
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

    /// A P-256 public key as an uncompressed point (65 bytes).
    pub(crate) fn es256(point: &[u8]) -> Result<Self, KeyError> {
        #[cfg(feature = "aws-lc-rs")]
        {
            parsed(signature::ParsedPublicKey::new(
                &ECDSA_P256_SHA256_FIXED,
                point,
            ))
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            Ok(Self(Inner::Es256(point.to_vec())))
        }
    }

    /// An RSA public key from its modulus and exponent (big-endian); the
    /// exponent odd and at least 65537 (both backends: [`crate::weak`]).
    pub(crate) fn rs256(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        crate::weak::check_rsa_exponent(e)?;
        let components = RsaPublicKeyComponents {
            n: n.to_vec(),
            e: e.to_vec(),
        };
        #[cfg(feature = "aws-lc-rs")]
        {
            parsed(components.to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256))
        }
        #[cfg(not(feature = "aws-lc-rs"))]
        {
            Ok(Self(Inner::Rs256(components)))
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
                Inner::Rs256(components) => components
                    .verify(&RSA_PKCS1_2048_8192_SHA256, message, sig)
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
