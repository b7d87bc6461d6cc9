//! DPoP proofs at the token endpoint (RFC 9449 §4.3): the `DPoP` header
//! through `clientcreds_http::TokenRequestParser`, then the proof checks
//! the issuer runs (`clientcreds_jwt::dpop::check_proof`).

use clientcreds_http::TokenRequestParser;
use clientcreds_jwt::dpop::{CheckedProof, DPOP_ALGORITHMS, DpopError, ProofCheck, check_proof};
use clientcreds_jwt::{SignedJws, thumbprint};
use http::{HeaderMap, HeaderValue};
use time::{Duration, OffsetDateTime};

use crate::Outcome;

/// The token endpoint the seeds' proofs were made for.
pub const DPOP_ENDPOINT: &str = "https://auth.example.com/oauth/token";
/// The instant the seeds' proofs were made at (their `iat`).
pub const DPOP_NOW: i64 = 1_800_000_000;

fn check_at<'a>(url: &'a str, method: &'static str) -> ProofCheck<'a> {
    ProofCheck {
        method,
        url,
        access_token: None,
        algorithms: &DPOP_ALGORITHMS,
        max_age: Duration::seconds(60),
        leeway: Duration::seconds(5),
        now: OffsetDateTime::from_unix_timestamp(DPOP_NOW).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    }
}

/// The input is the `DPoP` header's value of a token request.
///
/// Properties: the parser hands the proof over unchanged or refuses it;
/// an accepted proof's `jkt` is the thumbprint of the key in its header;
/// the same proof is refused for another URL and for another method.
pub fn dpop_proof(data: &[u8]) -> Outcome {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return Outcome::Skipped;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert("dpop", value);
    let parsed =
        match TokenRequestParser::default().parse(&headers, b"grant_type=client_credentials") {
            Ok(parsed) => parsed,
            Err(_) => return Outcome::Refused,
        };
    let Some(proof) = parsed.request.dpop_proof else {
        panic!("a DPoP header was parsed without its proof");
    };
    assert_eq!(
        proof.expose().as_bytes(),
        data,
        "the proof changed in parsing"
    );
    let checked = check_proof(proof.expose(), &check_at(DPOP_ENDPOINT, "POST"));
    if let Ok(CheckedProof { jkt, .. }) = &checked {
        let jws = SignedJws::parse(proof.expose(), 4096)
            .unwrap_or_else(|e| panic!("accepted but unparsable: {e}"));
        let jwk = jws
            .header()
            .jwk
            .as_ref()
            .unwrap_or_else(|| panic!("accepted without a jwk"));
        assert_eq!(
            thumbprint(jwk).ok().as_ref(),
            Some(jkt),
            "jkt is not the header key's thumbprint"
        );
        assert_eq!(
            check_proof(
                proof.expose(),
                &check_at("https://auth.example.com/other", "POST")
            )
            .err(),
            Some(DpopError::Url),
            "accepted for another URL"
        );
        assert_eq!(
            check_proof(proof.expose(), &check_at(DPOP_ENDPOINT, "GET")).err(),
            Some(DpopError::Method),
            "accepted for another method"
        );
    }
    Outcome::of(&checked)
}
