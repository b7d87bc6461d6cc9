//! Signing and verifying keys, JWKs, and RFC 7638 key ids.

use std::fmt;
use std::sync::OnceLock;

use crate::backend::{
    self, Curve, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, KeyRejected, PublicKey, RsaKeyPair,
    SecureRandom, SystemRandom, digest, hmac,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64URL};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Algorithm, KeyError};

/// A public key as a JWK (RFC 7517), with only public members. This is what
/// a JWKS publishes: it cannot hold private material.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    /// Key type: `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// Key id (the RFC 7638 thumbprint for keys made here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use: `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Curve (`Ed25519`, `P-256`, `P-384`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public x coordinate or Ed25519 public key (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent (base64url).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

/// A JWK Set (RFC 7517 §5): the document served at `jwks_uri`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

/// A private JWK to load a signing key from. `Debug` redacts it, memory is
/// zeroized on drop, and it cannot be serialized.
#[derive(Deserialize)]
pub struct PrivateJwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    d: Option<Zeroizing<String>>,
    #[serde(default)]
    p: Option<Zeroizing<String>>,
    #[serde(default)]
    q: Option<Zeroizing<String>>,
    #[serde(default)]
    dp: Option<Zeroizing<String>>,
    #[serde(default)]
    dq: Option<Zeroizing<String>>,
    #[serde(default)]
    qi: Option<Zeroizing<String>>,
    #[serde(default)]
    k: Option<Zeroizing<String>>,
}

impl fmt::Debug for PrivateJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateJwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl PrivateJwk {
    /// Parses a private JWK from JSON text.
    ///
    /// # Errors
    /// [`KeyError::Jwk`] when the text is not a JWK object.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        serde_json::from_str(text).map_err(|_| KeyError::Jwk("not a JWK object"))
    }
}

enum Material {
    Ed25519(Ed25519KeyPair),
    /// ES256 or ES384 (the key pair knows its curve).
    Ecdsa(EcdsaKeyPair),
    /// RS256 or PS256 (the key's algorithm says which padding).
    Rsa(RsaKeyPair),
    // Boxed: aws-lc-rs's HMAC key holds its whole context (~1.2 kB).
    Hs256(Box<hmac::Key>),
}

/// A private key that signs tokens, parsed once and kept parsed.
///
/// `Debug` shows the algorithm and `kid` only.
///
/// ```
/// use clientcreds_jwt::{Algorithm, SigningKey};
/// let key = SigningKey::generate(Algorithm::EdDSA)?;
/// assert_eq!(key.algorithm(), Algorithm::EdDSA);
/// assert_eq!(key.kid().len(), 43); // base64url of a SHA-256 thumbprint
/// # Ok::<(), clientcreds_jwt::KeyError>(())
/// ```
pub struct SigningKey {
    algorithm: Algorithm,
    kid: String,
    material: Material,
    public: VerifyingKey,
    rng: SystemRandom,
    /// The base64url JOSE header of an access token signed by this key,
    /// made on first use: it is the same for every token.
    token_header: OnceLock<String>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key: Ed25519, P-256, P-384, a 2048-bit RSA key for
    /// RS256 or PS256 (aws-lc-rs backend only), or 32 random bytes for HS256.
    ///
    /// # Errors
    /// [`KeyError::GenerationUnsupported`] for RS256 and PS256 with the ring backend;
    /// [`KeyError::Signing`] if the random number generator fails.
    pub fn generate(algorithm: Algorithm) -> Result<Self, KeyError> {
        if algorithm == Algorithm::HS256 {
            let mut secret = Zeroizing::new([0u8; 32]);
            SystemRandom::new()
                .fill(secret.as_mut())
                .map_err(|_| KeyError::Signing)?;
            let kid = random_kid()?;
            return Self::hs256(&kid, secret.as_ref());
        }
        let pkcs8 = Self::generate_pkcs8(algorithm)?;
        Self::from_pkcs8_der(algorithm, &pkcs8)
    }

    /// A new random private key as PKCS#8 DER, to store and load later with
    /// [`SigningKey::from_pkcs8_der`]: EdDSA, ES256, ES384, and RS256 or
    /// PS256 (2048 bits, aws-lc-rs backend only).
    ///
    /// # Errors
    /// [`KeyError::GenerationUnsupported`] for HS256, and for RS256 and
    /// PS256 with the ring backend.
    pub fn generate_pkcs8(algorithm: Algorithm) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let rng = SystemRandom::new();
        match algorithm {
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map(|doc| Zeroizing::new(doc.as_ref().to_vec()))
                .map_err(|_| KeyError::Signing),
            Algorithm::ES256 => backend::ecdsa_generate_pkcs8(Curve::P256, &rng),
            Algorithm::ES384 => backend::ecdsa_generate_pkcs8(Curve::P384, &rng),
            Algorithm::RS256 | Algorithm::PS256 => backend::rsa_generate_pkcs8(),
            Algorithm::HS256 => Err(KeyError::GenerationUnsupported("HS256 PKCS#8")),
        }
    }

    /// Loads a PKCS#8 DER private key (v1 or v2) for an asymmetric algorithm.
    ///
    /// # Errors
    /// [`KeyError::Rejected`] when the key is not of that algorithm or is malformed.
    pub fn from_pkcs8_der(algorithm: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        let rejected = |e: KeyRejected| KeyError::Rejected(e.to_string());
        let material = match algorithm {
            Algorithm::EdDSA => Material::Ed25519(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(rejected)?,
            ),
            Algorithm::ES256 => {
                Material::Ecdsa(backend::ecdsa_from_pkcs8(Curve::P256, der).map_err(rejected)?)
            }
            Algorithm::ES384 => {
                Material::Ecdsa(backend::ecdsa_from_pkcs8(Curve::P384, der).map_err(rejected)?)
            }
            Algorithm::RS256 | Algorithm::PS256 => {
                Material::Rsa(RsaKeyPair::from_pkcs8(der).map_err(rejected)?)
            }
            Algorithm::HS256 => {
                return Err(KeyError::Rejected(
                    "HS256 keys are secrets, not PKCS#8".into(),
                ));
            }
        };
        Self::asymmetric(algorithm, material)
    }

    /// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`KeyError::Pem`] for other PEM; as [`SigningKey::from_pkcs8_der`].
    pub fn from_pkcs8_pem(algorithm: Algorithm, pem: &str) -> Result<Self, KeyError> {
        let der = pem_private_key(pem)?;
        Self::from_pkcs8_der(algorithm, &der)
    }

    /// An HS256 key from a shared secret of at least 32 bytes, with the
    /// given key id (a symmetric key has no public thumbprint to publish).
    ///
    /// # Errors
    /// [`KeyError::WeakSecret`], [`KeyError::InvalidKid`].
    pub fn hs256(kid: &str, secret: &[u8]) -> Result<Self, KeyError> {
        check_kid(kid)?;
        if secret.len() < 32 {
            return Err(KeyError::WeakSecret(secret.len()));
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let public = VerifyingKey {
            algorithm: Algorithm::HS256,
            kid: kid.to_owned(),
            material: VerifyMaterial::Hs256(Box::new(key.clone())),
            jwk: None,
        };
        Ok(Self {
            algorithm: Algorithm::HS256,
            kid: kid.to_owned(),
            material: Material::Hs256(Box::new(key)),
            public,
            rng: SystemRandom::new(),
            token_header: OnceLock::new(),
        })
    }

    /// Loads a private JWK: `OKP`/`Ed25519` (`x`, `d`), `EC`/`P-256` or
    /// `P-384` (`x`, `y`, `d`), `RSA` (`n`, `e`, `d`, `p`, `q`, `dp`, `dq`,
    /// `qi`; RS256 unless `alg` is `PS256`), or `oct` (`k`, with a `kid`).
    ///
    /// # Errors
    /// [`KeyError::Jwk`] naming what is missing; [`KeyError::Rejected`].
    pub fn from_jwk(jwk: &PrivateJwk) -> Result<Self, KeyError> {
        let rejected = |e: KeyRejected| KeyError::Rejected(e.to_string());
        let member =
            |value: Option<&str>, name: &'static str| -> Result<Zeroizing<Vec<u8>>, KeyError> {
                let value = value.ok_or(KeyError::Jwk(name))?;
                B64URL
                    .decode(value)
                    .map(Zeroizing::new)
                    .map_err(|_| KeyError::Jwk(name))
            };
        match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                let pair = Ed25519KeyPair::from_seed_and_public_key(
                    &member(secret_member(&jwk.d), "d")?,
                    &member(jwk.x.as_deref(), "x")?,
                )
                .map_err(rejected)?;
                Self::asymmetric(Algorithm::EdDSA, Material::Ed25519(pair))
            }
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (curve, algorithm) = if crv == "P-256" {
                    (Curve::P256, Algorithm::ES256)
                } else {
                    (Curve::P384, Algorithm::ES384)
                };
                let mut point = vec![0x04];
                point.extend_from_slice(&member(jwk.x.as_deref(), "x")?);
                point.extend_from_slice(&member(jwk.y.as_deref(), "y")?);
                let pair =
                    backend::ecdsa_from_parts(curve, &member(secret_member(&jwk.d), "d")?, &point)
                        .map_err(rejected)?;
                Self::asymmetric(algorithm, Material::Ecdsa(pair))
            }
            ("RSA", _) => {
                let algorithm = match jwk.alg.as_deref() {
                    None | Some("RS256") => Algorithm::RS256,
                    Some("PS256") => Algorithm::PS256,
                    Some(_) => return Err(KeyError::Jwk("alg")),
                };
                let (n, e) = (
                    member(jwk.n.as_deref(), "n")?,
                    member(jwk.e.as_deref(), "e")?,
                );
                let (d, p, q) = (
                    member(secret_member(&jwk.d), "d")?,
                    member(secret_member(&jwk.p), "p")?,
                    member(secret_member(&jwk.q), "q")?,
                );
                let (dp, dq, qi) = (
                    member(secret_member(&jwk.dp), "dp")?,
                    member(secret_member(&jwk.dq), "dq")?,
                    member(secret_member(&jwk.qi), "qi")?,
                );
                let pair = backend::rsa_from_parts(&backend::RsaParts {
                    n: &n,
                    e: &e,
                    d: &d,
                    p: &p,
                    q: &q,
                    dp: &dp,
                    dq: &dq,
                    qi: &qi,
                })
                .map_err(rejected)?;
                Self::asymmetric(algorithm, Material::Rsa(pair))
            }
            ("oct", _) => {
                let kid = jwk.kid.as_deref().ok_or(KeyError::Jwk("kid"))?;
                Self::hs256(kid, &member(secret_member(&jwk.k), "k")?)
            }
            ("OKP" | "EC", _) => Err(KeyError::Jwk("crv")),
            _ => Err(KeyError::Jwk("kty")),
        }
    }

    /// The algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id: the RFC 7638 SHA-256 thumbprint of the public key (for
    /// HS256, the id given).
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, for verification and for the JWKS.
    #[must_use]
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// Signs `message`.
    ///
    /// # Errors
    /// [`KeyError::Signing`] if the backend fails (ECDSA, RSA-PSS and
    /// RSA draw randomness).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.material {
            Material::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Material::Ecdsa(pair) => pair
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Signing),
            Material::Rsa(pair) => {
                backend::rsa_sign(pair, self.algorithm == Algorithm::PS256, &self.rng, message)
            }
            Material::Hs256(key) => Ok(hmac::sign(key, message).as_ref().to_vec()),
        }
    }

    /// The encoded header of the access tokens this key signs:
    /// `{"alg":..,"typ":"at+jwt","kid":..}` in base64url.
    pub(crate) fn token_header(&self) -> &str {
        self.token_header.get_or_init(|| {
            let header = serde_json::json!({
                "alg": self.algorithm.name(),
                "typ": crate::ACCESS_TOKEN_TYPE,
                "kid": self.kid,
            });
            B64URL.encode(header.to_string())
        })
    }

    fn asymmetric(algorithm: Algorithm, material: Material) -> Result<Self, KeyError> {
        let (verify, jwk) = match &material {
            Material::Ed25519(pair) => {
                let public = pair.public_key().as_ref();
                (PublicKey::ed25519(public)?, okp_jwk(public))
            }
            Material::Ecdsa(pair) => {
                let curve = if algorithm == Algorithm::ES384 {
                    Curve::P384
                } else {
                    Curve::P256
                };
                let point = pair.public_key().as_ref();
                let jwk = ec_jwk(curve, point)
                    .ok_or(KeyError::Rejected("unexpected ECDSA public key".into()))?;
                (PublicKey::ecdsa(curve, point)?, jwk)
            }
            Material::Rsa(pair) => {
                let (n, e) = backend::rsa_public(pair);
                let pss = algorithm == Algorithm::PS256;
                (PublicKey::rsa(&n, &e, pss)?, rsa_jwk(&n, &e))
            }
            Material::Hs256(_) => return Err(KeyError::Rejected("symmetric key".into())),
        };
        let kid = thumbprint(&jwk)?;
        let jwk = PublicJwk {
            kid: Some(kid.clone()),
            alg: Some(algorithm.name().into()),
            use_: Some("sig".into()),
            ..jwk
        };
        let public = VerifyingKey {
            algorithm,
            kid: kid.clone(),
            material: VerifyMaterial::Asymmetric(verify),
            jwk: Some(jwk),
        };
        Ok(Self {
            algorithm,
            kid,
            material,
            public,
            rng: SystemRandom::new(),
            token_header: OnceLock::new(),
        })
    }
}

#[derive(Clone)]
enum VerifyMaterial {
    Asymmetric(PublicKey),
    // Boxed: aws-lc-rs's HMAC key holds its whole context (~1.2 kB).
    Hs256(Box<hmac::Key>),
}

/// A key that verifies signatures: the public half of a [`SigningKey`], a
/// key loaded from a published JWK, or an HS256 secret.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: Algorithm,
    kid: String,
    material: VerifyMaterial,
    jwk: Option<PublicJwk>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// A verifying key from a published JWK (`OKP`/`Ed25519`, `EC`/`P-256`
    /// or `P-384`, `RSA`). The `kid` is the JWK's own or, when absent, its
    /// thumbprint; the algorithm is the JWK's `alg` or the one its key type
    /// implies (`RSA`: RS256; a PS256 key says `"alg":"PS256"`). One key
    /// verifies one algorithm.
    ///
    /// # Errors
    /// [`KeyError::Jwk`] naming the bad member.
    pub fn from_jwk(jwk: &PublicJwk) -> Result<Self, KeyError> {
        let member = |value: Option<&String>, name: &'static str| -> Result<Vec<u8>, KeyError> {
            B64URL
                .decode(value.ok_or(KeyError::Jwk(name))?)
                .map_err(|_| KeyError::Jwk(name))
        };
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(KeyError::Jwk("use"));
        }
        let (algorithm, material) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                let x = member(jwk.x.as_ref(), "x")?;
                if x.len() != 32 {
                    return Err(KeyError::Jwk("x"));
                }
                (Algorithm::EdDSA, PublicKey::ed25519(&x)?)
            }
            ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                let (curve, algorithm) = if crv == "P-256" {
                    (Curve::P256, Algorithm::ES256)
                } else {
                    (Curve::P384, Algorithm::ES384)
                };
                let (x, y) = (member(jwk.x.as_ref(), "x")?, member(jwk.y.as_ref(), "y")?);
                if x.len() != curve.coordinate_len() || y.len() != curve.coordinate_len() {
                    return Err(KeyError::Jwk("x"));
                }
                let mut point = vec![0x04];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (algorithm, PublicKey::ecdsa(curve, &point)?)
            }
            ("RSA", _) => {
                let n = member(jwk.n.as_ref(), "n")?;
                if n.len() < 256 {
                    return Err(KeyError::Jwk("n"));
                }
                let e = member(jwk.e.as_ref(), "e")?;
                let pss = jwk.alg.as_deref() == Some("PS256");
                let algorithm = if pss {
                    Algorithm::PS256
                } else {
                    Algorithm::RS256
                };
                (algorithm, PublicKey::rsa(&n, &e, pss)?)
            }
            ("OKP" | "EC", _) => return Err(KeyError::Jwk("crv")),
            _ => return Err(KeyError::Jwk("kty")),
        };
        if jwk
            .alg
            .as_deref()
            .is_some_and(|alg| alg != algorithm.name())
        {
            return Err(KeyError::Jwk("alg"));
        }
        let kid = match &jwk.kid {
            Some(kid) => {
                check_kid(kid)?;
                kid.clone()
            }
            None => thumbprint(jwk)?,
        };
        let jwk = PublicJwk {
            kid: Some(kid.clone()),
            ..jwk.clone()
        };
        Ok(Self {
            algorithm,
            kid,
            material: VerifyMaterial::Asymmetric(material),
            jwk: Some(jwk),
        })
    }

    /// The algorithm this key verifies.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK, with `kid`, `alg` and `use`; `None` for HS256.
    #[must_use]
    pub fn public_jwk(&self) -> Option<&PublicJwk> {
        self.jwk.as_ref()
    }

    /// Whether `signature` is a valid signature of `message` by this key.
    #[must_use]
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            VerifyMaterial::Asymmetric(key) => key.verify(message, signature),
            VerifyMaterial::Hs256(key) => hmac::verify(key, message, signature).is_ok(),
        }
    }
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url): the hash of the
/// required public members in lexicographic order, no whitespace.
///
/// # Errors
/// [`KeyError::Jwk`] when a required member is missing.
///
/// ```
/// use clientcreds_jwt::{PublicJwk, thumbprint};
/// // RFC 8037 Appendix A.3.
/// let jwk: PublicJwk = serde_json::from_str(
///     r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
/// ).unwrap();
/// assert_eq!(thumbprint(&jwk)?, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
/// # Ok::<(), clientcreds_jwt::KeyError>(())
/// ```
pub fn thumbprint(jwk: &PublicJwk) -> Result<String, KeyError> {
    let field =
        |value: &Option<String>, name: &'static str| value.clone().ok_or(KeyError::Jwk(name));
    // Members are base64url or curve names, which need no JSON escaping;
    // serde_json quotes them anyway so that nothing else can slip in.
    let q = |s: String| serde_json::Value::String(s).to_string();
    let canonical = match jwk.kty.as_str() {
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            q(field(&jwk.crv, "crv")?),
            q(field(&jwk.x, "x")?)
        ),
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            q(field(&jwk.crv, "crv")?),
            q(field(&jwk.x, "x")?),
            q(field(&jwk.y, "y")?)
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            q(field(&jwk.e, "e")?),
            q(field(&jwk.n, "n")?)
        ),
        _ => return Err(KeyError::Jwk("kty")),
    };
    Ok(B64URL.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

fn okp_jwk(public: &[u8]) -> PublicJwk {
    PublicJwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some(B64URL.encode(public)),
        ..PublicJwk::default()
    }
}

fn ec_jwk(curve: Curve, point: &[u8]) -> Option<PublicJwk> {
    let coordinates = point.strip_prefix(&[0x04])?;
    let (x, y) = coordinates.split_at_checked(curve.coordinate_len())?;
    Some(PublicJwk {
        kty: "EC".into(),
        crv: Some(curve.name().into()),
        x: Some(B64URL.encode(x)),
        y: Some(B64URL.encode(y)),
        ..PublicJwk::default()
    })
}

fn rsa_jwk(n: &[u8], e: &[u8]) -> PublicJwk {
    PublicJwk {
        kty: "RSA".into(),
        n: Some(B64URL.encode(n)),
        e: Some(B64URL.encode(e)),
        ..PublicJwk::default()
    }
}

fn secret_member(value: &Option<Zeroizing<String>>) -> Option<&str> {
    value.as_ref().map(|v| v.as_str())
}

fn check_kid(kid: &str) -> Result<(), KeyError> {
    // RFC 7517 allows any string; refuse only control characters and
    // lengths no header should carry.
    let ok = (1..=256).contains(&kid.len()) && !kid.chars().any(char::is_control);
    if ok {
        Ok(())
    } else {
        Err(KeyError::InvalidKid)
    }
}

fn random_kid() -> Result<String, KeyError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError::Signing)?;
    Ok(format!("hs-{}", B64URL.encode(bytes)))
}

/// A PKCS#8 DER private key (from [`SigningKey::generate_pkcs8`]) as a PEM
/// `PRIVATE KEY` block, the form [`SigningKey::from_pkcs8_pem`] and
/// `openssl` read. The text is zeroized when dropped.
///
/// ```
/// use clientcreds_jwt::{Algorithm, SigningKey, pkcs8_pem};
/// let der = SigningKey::generate_pkcs8(Algorithm::EdDSA)?;
/// let pem = pkcs8_pem(&der);
/// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
/// let key = SigningKey::from_pkcs8_pem(Algorithm::EdDSA, &pem)?;
/// assert_eq!(key.kid(), SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der)?.kid());
/// # Ok::<(), clientcreds_jwt::KeyError>(())
/// ```
#[must_use]
pub fn pkcs8_pem(der: &[u8]) -> Zeroizing<String> {
    let body = Zeroizing::new(STANDARD.encode(der));
    let mut pem = Zeroizing::new(String::with_capacity(body.len() + body.len() / 64 + 64));
    pem.push_str("-----BEGIN PRIVATE KEY-----\n");
    // Base64 is ASCII, so every 64-byte chunk is whole characters.
    for line in body.as_bytes().chunks(64) {
        pem.extend(line.iter().map(|&b| char::from(b)));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// The DER inside a single PEM `PRIVATE KEY` block.
fn pem_private_key(pem: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let body = pem
        .trim()
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.strip_suffix(END))
        .ok_or(KeyError::Pem)?;
    let base64: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    STANDARD
        .decode(base64.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| KeyError::Pem)
}
