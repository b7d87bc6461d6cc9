//! Compact JWS that other parties sign: client assertions (RFC 7523) and
//! proofs of possession. [`SignedJws`] reads one without trusting it and
//! checks its signature with a key the caller picked; [`sign_jws`] makes
//! one.
//!
//! Unlike [`TokenVerifier`](crate::TokenVerifier), which knows the claims
//! of our own access tokens, this layer checks only the JOSE envelope:
//! shape, `alg` (never `none`), `crit`, the signature. What the claims must
//! say is the caller's protocol's business; [`SignedJws`] gives typed
//! reads of the standard ones.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Algorithm, MintError, PublicJwk, SigningKey, VerifyError, VerifyingKey};

/// JWK members that only a private or symmetric key has: a header `jwk`
/// with any of them is refused.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// The protected header of a [`SignedJws`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwsHeader {
    /// The signature algorithm. RFC 9864's fully-specified `Ed25519` reads
    /// as [`Algorithm::EdDSA`] (the only EdDSA curve supported).
    pub alg: Algorithm,
    /// `kid`, when present.
    pub kid: Option<String>,
    /// `typ`, when present.
    pub typ: Option<String>,
    /// `jwk`, when present: a public key (a header key with private
    /// members is refused while parsing).
    pub jwk: Option<PublicJwk>,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    jwk: Option<Map<String, Value>>,
    /// Present at all, whatever its value (`"crit": null` included).
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// `true` for a header member that is there, whatever its value: serde
/// reads a JSON `null` into `Option` as absent, and RFC 7515 §4.1.11 leaves
/// no room for a `crit` that is present but `null` (it must be an array of
/// extensions understood; none is), so presence alone refuses the JWS.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(member: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(member).map(|_| true)
}

/// A compact JWS, parsed but not yet trusted.
///
/// ```
/// use clientcreds_jwt::{Algorithm, SignedJws, SigningKey, sign_jws};
/// let key = SigningKey::generate(Algorithm::EdDSA)?;
/// let text = sign_jws(&key, "client-authentication+jwt", false, &serde_json::json!({
///     "iss": "client-1", "sub": "client-1", "exp": 2_000_000_000,
/// }))?;
/// let jws = SignedJws::parse(&text, 8192)?;
/// assert_eq!(jws.header().alg, Algorithm::EdDSA);
/// jws.verify(key.verifying_key())?;
/// assert_eq!(jws.string("iss")?, Some("client-1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Its `Debug` shows the header only: an unexpired assertion or proof is a
/// credential.
#[derive(Clone)]
pub struct SignedJws<'a> {
    header: JwsHeader,
    claims: Map<String, Value>,
    signed: &'a [u8],
    signature: Vec<u8>,
}

impl std::fmt::Debug for SignedJws<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedJws")
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

impl<'a> SignedJws<'a> {
    /// Splits, decodes and reads `text`: three base64url parts, a header
    /// object with a known `alg` (never `none`) and no `crit`, a claims
    /// object. The signature is not checked yet.
    ///
    /// # Errors
    /// [`VerifyError::TooLong`] over `max_len` bytes;
    /// [`VerifyError::Malformed`], [`VerifyError::InvalidHeader`],
    /// [`VerifyError::AlgorithmNotAllowed`],
    /// [`VerifyError::UnsupportedCritical`],
    /// [`VerifyError::InvalidPayload`].
    pub fn parse(text: &'a str, max_len: usize) -> Result<Self, VerifyError> {
        if text.len() > max_len {
            return Err(VerifyError::TooLong { max: max_len });
        }
        let mut parts = text.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed);
        };
        let header_json = B64URL
            .decode(header_b64)
            .map_err(|_| VerifyError::Malformed)?;
        // serde reads a struct from an array too: a header is an object.
        if header_json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(VerifyError::InvalidHeader);
        }
        let raw: RawHeader =
            serde_json::from_slice(&header_json).map_err(|_| VerifyError::InvalidHeader)?;
        let alg = match raw.alg.as_str() {
            "Ed25519" => Algorithm::EdDSA,
            name => Algorithm::from_name(name).ok_or(VerifyError::AlgorithmNotAllowed)?,
        };
        if raw.crit {
            return Err(VerifyError::UnsupportedCritical);
        }
        let jwk = match raw.jwk {
            None => None,
            Some(members) => {
                if PRIVATE_MEMBERS.iter().any(|m| members.contains_key(*m)) {
                    return Err(VerifyError::InvalidHeader);
                }
                Some(
                    serde_json::from_value(Value::Object(members))
                        .map_err(|_| VerifyError::InvalidHeader)?,
                )
            }
        };
        let payload = B64URL
            .decode(payload_b64)
            .map_err(|_| VerifyError::Malformed)?;
        let claims: Map<String, Value> =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::InvalidPayload)?;
        let signature = B64URL
            .decode(signature_b64)
            .map_err(|_| VerifyError::Malformed)?;
        let signed_len = header_b64.len() + 1 + payload_b64.len();
        let signed = text
            .get(..signed_len)
            .ok_or(VerifyError::Malformed)?
            .as_bytes();
        Ok(Self {
            header: JwsHeader {
                alg,
                kid: raw.kid,
                typ: raw.typ,
                jwk,
            },
            claims,
            signed,
            signature,
        })
    }

    /// The protected header.
    #[must_use]
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The claims, unverified until [`SignedJws::verify`] succeeds.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Checks the signature with `key`, which must be for the header's
    /// algorithm (algorithm confusion is refused before any math).
    ///
    /// # Errors
    /// [`VerifyError::AlgorithmMismatch`], [`VerifyError::BadSignature`].
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        if key.algorithm() != self.header.alg {
            return Err(VerifyError::AlgorithmMismatch);
        }
        if key.verify(self.signed, &self.signature) {
            Ok(())
        } else {
            Err(VerifyError::BadSignature)
        }
    }

    /// A string claim: `None` when absent.
    ///
    /// # Errors
    /// [`VerifyError::InvalidClaim`] when present but not a string.
    pub fn string(&self, name: &'static str) -> Result<Option<&str>, VerifyError> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(VerifyError::InvalidClaim(name)),
        }
    }

    /// A NumericDate claim (RFC 7519 §2) in whole seconds (fractions
    /// floored): `None` when absent.
    ///
    /// # Errors
    /// [`VerifyError::InvalidClaim`] when present but not a number in range.
    pub fn numeric_date(&self, name: &'static str) -> Result<Option<i64>, VerifyError> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 1e15)
                        .map(|f| f.floor() as i64)
                })
                .map(Some)
                .ok_or(VerifyError::InvalidClaim(name)),
            Some(_) => Err(VerifyError::InvalidClaim(name)),
        }
    }

    /// Whether `aud` (a string or an array of strings) contains a value
    /// `accept` approves.
    ///
    /// # Errors
    /// [`VerifyError::MissingClaim`] without `aud`;
    /// [`VerifyError::InvalidClaim`] when it is neither form.
    pub fn audience_matches(&self, accept: impl Fn(&str) -> bool) -> Result<bool, VerifyError> {
        match self.claims.get("aud") {
            None => Err(VerifyError::MissingClaim("aud")),
            Some(Value::String(one)) => Ok(accept(one)),
            Some(Value::Array(many)) => {
                let mut found = false;
                for value in many {
                    let Value::String(aud) = value else {
                        return Err(VerifyError::InvalidClaim("aud"));
                    };
                    found |= accept(aud);
                }
                Ok(found)
            }
            Some(_) => Err(VerifyError::InvalidClaim("aud")),
        }
    }
}

/// SHA-256 of `data` (the hash behind thumbprints, `ath` and replay keys),
/// on the crate's crypto backend.
#[must_use]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = crate::backend::digest::digest(&crate::backend::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[derive(Serialize)]
struct SignHeader<'a> {
    alg: &'static str,
    typ: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwk: Option<&'a PublicJwk>,
}

/// Signs `claims` as a compact JWS with header `{"alg", "typ", "kid"}`, or
/// with the public `jwk` instead of `kid` when `embed_jwk` is set (as proofs
/// of possession carry their key).
///
/// # Errors
/// [`MintError::Invalid`] for an HS256 key (a JWS others verify needs an
/// asymmetric key) or claims that do not serialize to an object;
/// [`MintError::Key`] when signing fails.
pub fn sign_jws(
    key: &SigningKey,
    typ: &str,
    embed_jwk: bool,
    claims: &impl Serialize,
) -> Result<String, MintError> {
    if key.algorithm().is_symmetric() {
        return Err(MintError::Invalid("an HS256 key cannot sign for others"));
    }
    let jwk = key.verifying_key().public_jwk().map(|jwk| PublicJwk {
        kid: None,
        use_: None,
        ..jwk.clone()
    });
    let header = SignHeader {
        alg: key.algorithm().name(),
        typ,
        kid: (!embed_jwk).then(|| key.kid()),
        jwk: if embed_jwk { jwk.as_ref() } else { None },
    };
    let header =
        serde_json::to_vec(&header).map_err(|_| MintError::Invalid("header does not serialize"))?;
    let payload = serde_json::to_value(claims)
        .ok()
        .filter(Value::is_object)
        .ok_or(MintError::Invalid("claims must serialize to a JSON object"))?;
    let payload =
        serde_json::to_vec(&payload).map_err(|_| MintError::Invalid("claims do not serialize"))?;
    let mut text = B64URL.encode(header);
    text.push('.');
    B64URL.encode_string(payload, &mut text);
    let signature = key.sign(text.as_bytes())?;
    text.push('.');
    B64URL.encode_string(signature, &mut text);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signed(embed: bool) -> (SigningKey, String) {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let text = sign_jws(&key, "dpop+jwt", embed, &json!({"jti": "a", "iat": 1.5})).unwrap();
        (key, text)
    }

    #[test]
    fn round_trip_with_kid_and_with_jwk() {
        let (key, text) = signed(false);
        let jws = SignedJws::parse(&text, 4096).unwrap();
        assert_eq!(jws.header().kid.as_deref(), Some(key.kid()));
        assert!(jws.header().jwk.is_none());
        jws.verify(key.verifying_key()).unwrap();
        assert_eq!(jws.numeric_date("iat").unwrap(), Some(1));
        let (key, text) = signed(true);
        let jws = SignedJws::parse(&text, 4096).unwrap();
        assert!(jws.header().kid.is_none());
        let embedded = VerifyingKey::from_jwk(jws.header().jwk.as_ref().unwrap()).unwrap();
        jws.verify(&embedded).unwrap();
        jws.verify(key.verifying_key()).unwrap();
        assert_eq!(jws.header().typ.as_deref(), Some("dpop+jwt"));
    }

    fn forge(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}.AAAA",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        )
    }

    #[test]
    fn refusals() {
        let claims = json!({"iss": "x"});
        let cases = [
            (json!({"alg": "none"}), VerifyError::AlgorithmNotAllowed),
            (json!({"alg": "ES512"}), VerifyError::AlgorithmNotAllowed),
            (
                json!({"alg": "ES256", "crit": ["b64"]}),
                VerifyError::UnsupportedCritical,
            ),
            // Found with the client_assertion fuzz entry's oracle: `null` read as
            // absent let this one through.
            (
                json!({"alg": "ES256", "crit": null}),
                VerifyError::UnsupportedCritical,
            ),
            (
                json!({"alg": "ES256", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"}}),
                VerifyError::InvalidHeader,
            ),
            (
                json!({"alg": "HS256", "jwk": {"kty": "oct", "k": "AA"}}),
                VerifyError::InvalidHeader,
            ),
            (json!(["ES256"]), VerifyError::InvalidHeader),
        ];
        for (header, want) in cases {
            let text = forge(&header, &claims);
            assert_eq!(SignedJws::parse(&text, 4096).unwrap_err(), want, "{header}");
        }
        assert_eq!(
            SignedJws::parse("a.b", 4096).unwrap_err(),
            VerifyError::Malformed
        );
        assert_eq!(
            SignedJws::parse(&forge(&json!({"alg": "ES256"}), &json!([1])), 4096).unwrap_err(),
            VerifyError::InvalidPayload
        );
        assert_eq!(
            SignedJws::parse(&"a".repeat(100), 99).unwrap_err(),
            VerifyError::TooLong { max: 99 }
        );
    }

    #[test]
    fn ed25519_is_eddsa_and_mismatch_is_refused() {
        let text = forge(&json!({"alg": "Ed25519"}), &json!({}));
        let jws = SignedJws::parse(&text, 4096).unwrap();
        assert_eq!(jws.header().alg, Algorithm::EdDSA);
        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        assert_eq!(
            jws.verify(other.verifying_key()).unwrap_err(),
            VerifyError::AlgorithmMismatch
        );
        let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
        assert_eq!(
            jws.verify(ed.verifying_key()).unwrap_err(),
            VerifyError::BadSignature
        );
    }

    #[test]
    fn audience_forms() {
        let one = forge(&json!({"alg": "ES256"}), &json!({"aud": "a"}));
        let many = forge(&json!({"alg": "ES256"}), &json!({"aud": ["b", "a"]}));
        let bad = forge(&json!({"alg": "ES256"}), &json!({"aud": ["a", 1]}));
        let none = forge(&json!({"alg": "ES256"}), &json!({}));
        let is_a = |s: &str| s == "a";
        for text in [&one, &many] {
            assert!(
                SignedJws::parse(text, 4096)
                    .unwrap()
                    .audience_matches(is_a)
                    .unwrap()
            );
        }
        assert_eq!(
            SignedJws::parse(&bad, 4096)
                .unwrap()
                .audience_matches(is_a)
                .unwrap_err(),
            VerifyError::InvalidClaim("aud")
        );
        assert_eq!(
            SignedJws::parse(&none, 4096)
                .unwrap()
                .audience_matches(is_a)
                .unwrap_err(),
            VerifyError::MissingClaim("aud")
        );
    }

    #[test]
    fn hs256_cannot_sign_for_others() {
        let key = SigningKey::hs256("k", &[7; 32]).unwrap();
        assert!(matches!(
            sign_jws(&key, "JWT", false, &json!({})),
            Err(MintError::Invalid(_))
        ));
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        assert!(matches!(
            sign_jws(&key, "JWT", false, &json!([1])),
            Err(MintError::Invalid(_))
        ));
    }
}
