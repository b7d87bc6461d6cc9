//! DPoP proofs (RFC 9449): making them ([`make_proof`]) and checking the
//! parts every receiver checks ([`check_proof`], §4.3). The `jti`
//! single-use record and server nonces are the receiver's (they need
//! state); [`CheckedProof`] hands back what they need.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::{
    Algorithm, MintError, SignedJws, SigningKey, VerifyingKey, sha256, sign_jws, thumbprint,
};

/// The `typ` of a DPoP proof.
pub const DPOP_TYP: &str = "dpop+jwt";

/// The longest proof read, in bytes.
pub const MAX_PROOF_LEN: usize = 4096;

/// The algorithms a proof may use by default: asymmetric only.
pub const DPOP_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::EdDSA,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
    Algorithm::RS256,
];

/// Why a DPoP proof was refused (RFC 9449 §4.3 check by check). None
/// repeats the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS, too long, or a header or claims that do not parse.
    #[error("DPoP proof is malformed")]
    Malformed,
    /// `typ` is not `dpop+jwt`.
    #[error("DPoP proof `typ` is not dpop+jwt")]
    Type,
    /// `alg` is not an allowed asymmetric algorithm.
    #[error("DPoP proof algorithm not allowed")]
    Algorithm,
    /// No `jwk` header, a private or unusable key, or one that does not
    /// match `alg`.
    #[error("DPoP proof key is missing or unusable")]
    Key,
    /// The signature does not verify with the header's key.
    #[error("DPoP proof signature is invalid")]
    Signature,
    /// `htm` is not the request's method.
    #[error("DPoP proof `htm` does not match the request")]
    Method,
    /// `htu` is not the request's URL (query and fragment ignored).
    #[error("DPoP proof `htu` does not match the request")]
    Url,
    /// `iat` is missing, or outside the accepted window.
    #[error("DPoP proof `iat` is outside the accepted window")]
    IssuedAt,
    /// `jti` is missing or over 256 bytes.
    #[error("DPoP proof `jti` is missing or too long")]
    Jti,
    /// `ath` is missing or not the hash of the access token.
    #[error("DPoP proof `ath` does not match the access token")]
    AccessTokenHash,
    /// The receiver asked for a nonce and the proof has none, or another.
    #[error("DPoP proof nonce is missing or stale")]
    Nonce,
    /// The proof was used before.
    #[error("DPoP proof was replayed")]
    Replayed,
    /// The proof's key is not the one the access token is bound to.
    #[error("DPoP proof key does not match the token's binding")]
    Binding,
}

/// What a receiver expects of a proof. `Debug` shows no access token.
#[derive(Clone)]
pub struct ProofCheck<'a> {
    /// The request's method (`POST`, `GET`, ...).
    pub method: &'a str,
    /// The request's URL as the client addressed it (the external URL
    /// behind a proxy).
    pub url: &'a str,
    /// The access token the proof must cover (`ath`), at a resource server.
    pub access_token: Option<&'a str>,
    /// Accepted algorithms.
    pub algorithms: &'a [Algorithm],
    /// How old `iat` may be.
    pub max_age: Duration,
    /// How far in the future `iat` may be (clock skew).
    pub leeway: Duration,
    /// The instant of checking.
    pub now: OffsetDateTime,
}

impl fmt::Debug for ProofCheck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofCheck")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("access_token", &self.access_token.map(|_| REDACTED))
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("now", &self.now)
            .finish()
    }
}

/// A proof that passed [`check_proof`]: what the receiver still needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// The RFC 7638 thumbprint of the proof's key: a bound token's
    /// `cnf.jkt`.
    pub jkt: String,
    /// The proof's `jti`, to record as used until `expires_at`.
    pub jti: String,
    /// The proof's `nonce`, if any, for the receiver to check.
    pub nonce: Option<String>,
    /// Until when the proof could be accepted (`iat` plus the maximum
    /// age): how long its `jti` must be remembered.
    pub expires_at: OffsetDateTime,
}

/// Checks a proof as RFC 9449 §4.3 says (steps 1 to 11 except the `jti`
/// record and the nonce, which need the receiver's state): one proof, a
/// compact JWS with `typ` `dpop+jwt`, an allowed asymmetric `alg`, a
/// public `jwk` that verifies the signature, `htm` and `htu` of this
/// request (`htu` compared after syntax normalization, without query and
/// fragment), `iat` within the window, a `jti`, and `ath` when an access
/// token is presented.
///
/// # Errors
/// The [`DpopError`] of the first failed check.
pub fn check_proof(proof: &str, check: &ProofCheck<'_>) -> Result<CheckedProof, DpopError> {
    let jws = SignedJws::parse(proof, MAX_PROOF_LEN).map_err(|e| match e {
        crate::VerifyError::AlgorithmNotAllowed => DpopError::Algorithm,
        crate::VerifyError::InvalidHeader => DpopError::Key,
        _ => DpopError::Malformed,
    })?;
    let header = jws.header();
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(DPOP_TYP))
    {
        return Err(DpopError::Type);
    }
    if header.alg.is_symmetric() || !check.algorithms.contains(&header.alg) {
        return Err(DpopError::Algorithm);
    }
    let jwk = header.jwk.as_ref().ok_or(DpopError::Key)?;
    let key = VerifyingKey::from_jwk(jwk).map_err(|_| DpopError::Key)?;
    if key.algorithm() != header.alg {
        return Err(DpopError::Key);
    }
    jws.verify(&key).map_err(|_| DpopError::Signature)?;
    let htm = jws.string("htm").map_err(|_| DpopError::Malformed)?;
    if htm != Some(check.method) {
        return Err(DpopError::Method);
    }
    let htu = jws.string("htu").map_err(|_| DpopError::Malformed)?;
    match (htu.and_then(normalize_url), normalize_url(check.url)) {
        (Some(presented), Some(expected)) if presented == expected => {}
        _ => return Err(DpopError::Url),
    }
    let iat = jws
        .numeric_date("iat")
        .map_err(|_| DpopError::Malformed)?
        .ok_or(DpopError::IssuedAt)?;
    let now = check.now.unix_timestamp();
    if iat > now.saturating_add(check.leeway.whole_seconds())
        || iat < now.saturating_sub(check.max_age.whole_seconds())
    {
        return Err(DpopError::IssuedAt);
    }
    let jti = match jws.string("jti") {
        Ok(Some(jti)) if !jti.is_empty() && jti.len() <= 256 => jti.to_owned(),
        _ => return Err(DpopError::Jti),
    };
    if let Some(token) = check.access_token {
        let expected = access_token_hash(token);
        match jws.string("ath") {
            Ok(Some(ath)) if ath == expected => {}
            _ => return Err(DpopError::AccessTokenHash),
        }
    }
    let nonce = match jws.string("nonce") {
        Ok(nonce) => nonce.map(str::to_owned),
        Err(_) => return Err(DpopError::Malformed),
    };
    let jkt = thumbprint(jwk).map_err(|_| DpopError::Key)?;
    let expires_at = OffsetDateTime::from_unix_timestamp(iat)
        .map_err(|_| DpopError::IssuedAt)?
        .saturating_add(check.max_age)
        .saturating_add(check.leeway);
    Ok(CheckedProof {
        jkt,
        jti,
        nonce,
        expires_at,
    })
}

/// `ath`: the base64url SHA-256 of the access token's text (RFC 9449 §4.2).
#[must_use]
pub fn access_token_hash(access_token: &str) -> String {
    B64URL.encode(sha256(access_token.as_bytes()))
}

/// A URL as `htu` compares it (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2 and
/// §6.2.3): scheme and host lower-cased, the default port dropped, an
/// empty path as `/`, query and fragment removed. `None` for anything
/// but an absolute `http`/`https` URL.
#[must_use]
pub fn normalize_url(url: &str) -> Option<String> {
    let url = url.split(['#', '?']).next()?;
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = match authority.rsplit_once(':') {
        // A port only outside an IPv6 literal's brackets.
        Some((host, port))
            if (port == default_port || port.is_empty())
                && (!host.contains('[') || host.ends_with(']')) =>
        {
            host.to_owned()
        }
        _ => authority,
    };
    Some(format!("{scheme}://{authority}{path}"))
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: &'a str,
    htm: &'a str,
    htu: &'a str,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
}

/// What a proof is for: see [`make_proof`]. `Debug` shows no access
/// token.
#[derive(Clone, Copy)]
pub struct ProofRequest<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The request's URL (query and fragment are dropped from `htu`).
    pub url: &'a str,
    /// The access token sent with it, at a resource server (`ath`).
    pub access_token: Option<&'a str>,
    /// A nonce the receiver asked for.
    pub nonce: Option<&'a str>,
    /// The instant of signing (`iat`).
    pub now: OffsetDateTime,
    /// A unique id for this proof (`jti`; 128 random bits recommended).
    pub jti: &'a str,
}

impl fmt::Debug for ProofRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProofRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("access_token", &self.access_token.map(|_| REDACTED))
            .field("nonce", &self.nonce)
            .field("now", &self.now)
            .field("jti", &self.jti)
            .finish()
    }
}

/// What `Debug` shows instead of an access token.
const REDACTED: &str = "[redacted]";

/// Signs a proof with `key` (its public JWK in the header) for `request`.
///
/// # Errors
/// [`MintError`] for an HS256 key or a signing failure.
pub fn make_proof(key: &SigningKey, request: &ProofRequest<'_>) -> Result<String, MintError> {
    let htu = request.url.split(['#', '?']).next().unwrap_or(request.url);
    let claims = ProofClaims {
        jti: request.jti,
        htm: request.method,
        htu,
        iat: request.now.unix_timestamp(),
        ath: request.access_token.map(access_token_hash),
        nonce: request.nonce,
    };
    sign_jws(key, DPOP_TYP, true, &claims)
}

/// The RFC 7638 thumbprint of `key`'s public JWK: the `jkt` a token bound
/// to it carries.
///
/// # Errors
/// [`MintError::Invalid`] for an HS256 key.
pub fn key_thumbprint(key: &SigningKey) -> Result<String, MintError> {
    let jwk = key
        .verifying_key()
        .public_jwk()
        .ok_or(MintError::Invalid("an HS256 key has no public JWK"))?;
    thumbprint(jwk).map_err(MintError::Key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    fn check(now: i64) -> ProofCheck<'static> {
        ProofCheck {
            method: "POST",
            url: "https://auth.example.com/oauth/token",
            access_token: None,
            algorithms: &DPOP_ALGORITHMS,
            max_age: Duration::seconds(60),
            leeway: Duration::seconds(5),
            now: at(now),
        }
    }

    #[test]
    fn debug_shows_no_access_token() {
        let token = "eyJhbGciOiJFZERTQSJ9.secret-token-body.sig";
        let check = ProofCheck {
            access_token: Some(token),
            ..check(0)
        };
        let request = ProofRequest {
            method: "GET",
            url: "https://api.example.com/x",
            access_token: Some(token),
            nonce: None,
            now: at(0),
            jti: "j",
        };
        for shown in [format!("{check:?}"), format!("{request:?}")] {
            assert!(!shown.contains("secret-token-body"), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
    }

    fn proof(key: &SigningKey, method: &str, url: &str, now: i64, token: Option<&str>) -> String {
        make_proof(
            key,
            &ProofRequest {
                method,
                url,
                access_token: token,
                nonce: Some("n-1"),
                now: at(now),
                jti: "j-1",
            },
        )
        .unwrap()
    }

    #[test]
    fn a_proof_round_trips_with_its_thumbprint() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let text = proof(
            &key,
            "POST",
            "https://AUTH.example.com:443/oauth/token?x=1",
            1000,
            None,
        );
        let checked = check_proof(&text, &check(1000)).unwrap();
        assert_eq!(checked.jkt, key_thumbprint(&key).unwrap());
        assert_eq!(checked.jti, "j-1");
        assert_eq!(checked.nonce.as_deref(), Some("n-1"));
        assert_eq!(checked.expires_at, at(1065));
    }

    #[test]
    fn each_check_refuses() {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let good = |now| check(now);
        let cases = [
            (
                proof(
                    &key,
                    "GET",
                    "https://auth.example.com/oauth/token",
                    1000,
                    None,
                ),
                DpopError::Method,
            ),
            (
                proof(&key, "POST", "https://auth.example.com/other", 1000, None),
                DpopError::Url,
            ),
            (
                proof(
                    &key,
                    "POST",
                    "http://auth.example.com/oauth/token",
                    1000,
                    None,
                ),
                DpopError::Url,
            ),
            (
                proof(
                    &key,
                    "POST",
                    "https://auth.example.com/oauth/token",
                    900,
                    None,
                ),
                DpopError::IssuedAt,
            ),
            (
                proof(
                    &key,
                    "POST",
                    "https://auth.example.com/oauth/token",
                    1010,
                    None,
                ),
                DpopError::IssuedAt,
            ),
            (
                sign_jws(&key, "JWT", true, &serde_json::json!({})).unwrap(),
                DpopError::Type,
            ),
            (
                sign_jws(&key, DPOP_TYP, false, &serde_json::json!({})).unwrap(),
                DpopError::Key,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(check_proof(&text, &good(1000)).unwrap_err(), want);
        }
        // ath: required with a token, and must match it.
        let text = proof(
            &key,
            "POST",
            "https://auth.example.com/oauth/token",
            1000,
            Some("tok"),
        );
        let mut with_token = good(1000);
        with_token.access_token = Some("other");
        assert_eq!(
            check_proof(&text, &with_token).unwrap_err(),
            DpopError::AccessTokenHash
        );
        with_token.access_token = Some("tok");
        check_proof(&text, &with_token).unwrap();
        // A tampered signature.
        let (head, _) = text.rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", "A".repeat(86));
        assert_eq!(
            check_proof(&forged, &with_token).unwrap_err(),
            DpopError::Signature
        );
    }

    #[test]
    fn urls_normalize_as_rfc_3986_says() {
        for (a, b) in [
            ("https://Example.COM/a?b#c", "https://example.com/a"),
            ("https://example.com:443/a", "https://example.com/a"),
            ("http://example.com:80", "http://example.com/"),
            ("https://example.com:8443/a", "https://example.com:8443/a"),
            ("https://[::1]:443/a", "https://[::1]/a"),
            ("https://[::1]/a", "https://[::1]/a"),
        ] {
            assert_eq!(normalize_url(a).as_deref(), Some(b), "{a}");
        }
        assert_eq!(normalize_url("ftp://example.com/"), None);
        assert_eq!(normalize_url("https://user@example.com/"), None);
        assert_ne!(
            normalize_url("https://example.com/A"),
            normalize_url("https://example.com/a")
        );
    }
}
