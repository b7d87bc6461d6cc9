//! Interoperability with an independent implementation: `jsonwebtoken` 11 (aws-lc-rs backend).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::{Algorithm, Jwks, KeySet, SigningKey, TokenVerifier, VerifyError};
use jsonwebtoken::jwk::{Jwk, JwkSet, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation as PeerValidation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use common::{
    ALL, ASYMMETRIC, AUDIENCE, CLIENT_ID, HS_SECRET, ISSUER, OTHER_AUDIENCE, TENANT, fixture_key,
    mint_for, pem, validation,
};

/// The claims as the peer library sees them.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct PeerClaims {
    iss: String,
    sub: String,
    aud: Value,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    client_id: String,
    scope: String,
    tenant: String,
    roles: Vec<String>,
}

fn peer_algorithm(algorithm: Algorithm) -> jsonwebtoken::Algorithm {
    match algorithm {
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::ES384 => jsonwebtoken::Algorithm::ES384,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::PS256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::HS256 => jsonwebtoken::Algorithm::HS256,
        other => panic!("no peer algorithm for {other}"),
    }
}

fn peer_encoding_key(algorithm: Algorithm) -> EncodingKey {
    match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem(algorithm).as_bytes()).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(pem(algorithm).as_bytes()).unwrap(),
        Algorithm::RS256 | Algorithm::PS256 => {
            EncodingKey::from_rsa_pem(pem(algorithm).as_bytes()).unwrap()
        }
        Algorithm::HS256 => EncodingKey::from_secret(HS_SECRET),
        other => panic!("no fixture key for {other}"),
    }
}

/// The peer's view of our published JWKS.
fn peer_jwks(keys: &KeySet) -> JwkSet {
    serde_json::from_str(&serde_json::to_string(&keys.jwks()).unwrap()).unwrap()
}

/// The peer's decoding key for `kid`: from our JWKS, or the shared secret.
fn peer_decoding_key(keys: &KeySet, algorithm: Algorithm, kid: &str) -> DecodingKey {
    if algorithm == Algorithm::HS256 {
        DecodingKey::from_secret(HS_SECRET)
    } else {
        DecodingKey::from_jwk(peer_jwks(keys).find(kid).unwrap()).unwrap()
    }
}

fn peer_validation(algorithm: Algorithm, audience: &str) -> PeerValidation {
    let mut validation = PeerValidation::new(peer_algorithm(algorithm));
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 0;
    validation
}

#[test]
fn our_tokens_verify_with_jsonwebtoken_for_every_algorithm() {
    for algorithm in ALL {
        let keys = Arc::new(KeySet::new(fixture_key(algorithm)));
        let kid = keys.signing_key().unwrap().kid().to_owned();
        let now = OffsetDateTime::now_utc();
        let minted = mint_for(&keys, now, &[AUDIENCE], Duration::minutes(10));
        let token = minted.access_token.expose();

        let key = peer_decoding_key(&keys, algorithm, &kid);
        let data =
            jsonwebtoken::decode::<PeerClaims>(token, &key, &peer_validation(algorithm, AUDIENCE))
                .unwrap_or_else(|e| panic!("{algorithm}: {e:?}"));

        assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(data.header.alg, peer_algorithm(algorithm));
        assert_eq!(data.header.kid.as_deref(), Some(kid.as_str()));
        assert!(data.header.crit.is_none());
        let t = now.unix_timestamp();
        assert_eq!(
            data.claims,
            PeerClaims {
                iss: ISSUER.into(),
                sub: CLIENT_ID.into(),
                // One audience: a string, not an array (RFC 7519 §4.1.3).
                aud: json!(AUDIENCE),
                exp: t + 600,
                iat: t,
                nbf: t,
                jti: minted.jti.clone(),
                client_id: CLIENT_ID.into(),
                scope: "read write".into(),
                tenant: TENANT.into(),
                roles: vec!["reader".into(), "auditor".into()],
            }
        );
        assert_eq!(minted.expires_at.unix_timestamp(), t + 600);
    }
}

#[test]
fn several_audiences_reach_jsonwebtoken_as_an_array() {
    for algorithm in ALL {
        let keys = Arc::new(KeySet::new(fixture_key(algorithm)));
        let kid = keys.signing_key().unwrap().kid().to_owned();
        let minted = mint_for(
            &keys,
            OffsetDateTime::now_utc(),
            &[AUDIENCE, OTHER_AUDIENCE],
            Duration::minutes(10),
        );
        let key = peer_decoding_key(&keys, algorithm, &kid);
        for audience in [AUDIENCE, OTHER_AUDIENCE] {
            let data = jsonwebtoken::decode::<PeerClaims>(
                minted.access_token.expose(),
                &key,
                &peer_validation(algorithm, audience),
            )
            .unwrap();
            assert_eq!(data.claims.aud, json!([AUDIENCE, OTHER_AUDIENCE]));
        }
        // The peer refuses an audience the token does not name.
        let err = jsonwebtoken::decode::<PeerClaims>(
            minted.access_token.expose(),
            &key,
            &peer_validation(algorithm, "https://elsewhere.example.com"),
        )
        .unwrap_err();
        assert_eq!(
            err.kind(),
            &jsonwebtoken::errors::ErrorKind::InvalidAudience
        );
    }
}

#[test]
fn jsonwebtoken_refuses_our_token_after_tampering() {
    for algorithm in ALL {
        let keys = Arc::new(KeySet::new(fixture_key(algorithm)));
        let kid = keys.signing_key().unwrap().kid().to_owned();
        let minted = mint_for(
            &keys,
            OffsetDateTime::now_utc(),
            &[AUDIENCE],
            Duration::minutes(10),
        );
        let (header, payload, signature) = common::parts(minted.access_token.expose());
        let mut claims: Value = serde_json::from_slice(&common::unb64(&payload)).unwrap();
        claims["tenant"] = json!("evil");
        let forged = format!("{header}.{}.{signature}", common::b64(claims.to_string()));
        let key = peer_decoding_key(&keys, algorithm, &kid);
        let err = jsonwebtoken::decode::<PeerClaims>(
            &forged,
            &key,
            &peer_validation(algorithm, AUDIENCE),
        )
        .unwrap_err();
        assert_eq!(
            err.kind(),
            &jsonwebtoken::errors::ErrorKind::InvalidSignature
        );
    }
}

#[test]
fn jsonwebtoken_tokens_verify_with_our_verifier() {
    for algorithm in ALL {
        // One fixture key, loaded into both libraries.
        let keys = Arc::new(KeySet::new(fixture_key(algorithm)));
        let kid = keys.signing_key().unwrap().kid().to_owned();
        let verifier = TokenVerifier::new(keys.clone(), validation().with_audience(OTHER_AUDIENCE));
        let now = OffsetDateTime::now_utc();
        let t = now.unix_timestamp();

        for (aud, expected_audience) in [
            (json!(AUDIENCE), vec![AUDIENCE]),
            (
                json!([OTHER_AUDIENCE, "https://third.example.com"]),
                vec![OTHER_AUDIENCE, "https://third.example.com"],
            ),
        ] {
            let claims = PeerClaims {
                iss: ISSUER.into(),
                sub: CLIENT_ID.into(),
                aud,
                exp: t + 300,
                iat: t,
                nbf: t,
                jti: "peer-jti-1".into(),
                client_id: CLIENT_ID.into(),
                scope: "read  admin".into(),
                tenant: TENANT.into(),
                roles: vec!["admin".into()],
            };
            let mut header = Header::new(peer_algorithm(algorithm));
            header.typ = Some("at+jwt".into());
            header.kid = Some(kid.clone());
            let token = jsonwebtoken::encode(&header, &claims, &peer_encoding_key(algorithm))
                .unwrap_or_else(|e| panic!("{algorithm}: {e:?}"));

            let context = verifier
                .verify_at(&token, now)
                .unwrap_or_else(|e| panic!("{algorithm}: {e:?}"));
            assert_eq!(context.tenant.as_deref(), Some(TENANT));
            assert_eq!(context.client_id, CLIENT_ID);
            assert_eq!(context.subject, CLIENT_ID);
            // Split on spaces, empty pieces dropped.
            assert_eq!(context.scopes, vec!["read", "admin"]);
            assert!(context.has_scope("admin"));
            assert_eq!(context.audience, expected_audience);
            assert_eq!(context.jti, "peer-jti-1");
            assert_eq!(context.issued_at.unix_timestamp(), t);
            assert_eq!(context.expires_at.unix_timestamp(), t + 300);
            assert_eq!(context.extra.get("roles"), Some(&json!(["admin"])));
            assert_eq!(context.extra.len(), 1, "{:?}", context.extra);
        }
    }
}

#[test]
fn jsonwebtoken_default_header_is_refused_for_its_type() {
    // `Header::new` sets `typ: JWT`, which is not an RFC 9068 access token.
    for algorithm in ALL {
        let keys = Arc::new(KeySet::new(fixture_key(algorithm)));
        let kid = keys.signing_key().unwrap().kid().to_owned();
        let now = OffsetDateTime::now_utc();
        let claims = common::claims_at(now);
        let mut header = Header::new(peer_algorithm(algorithm));
        header.kid = Some(kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &peer_encoding_key(algorithm)).unwrap();
        let verifier = common::verifier(&keys);
        assert_eq!(verifier.verify_at(&token, now), Err(VerifyError::WrongType));
        // Without a kid the verifier cannot pick a key.
        let mut header = Header::new(peer_algorithm(algorithm));
        header.typ = Some("at+jwt".into());
        let token = jsonwebtoken::encode(&header, &claims, &peer_encoding_key(algorithm)).unwrap();
        assert_eq!(
            verifier.verify_at(&token, now),
            Err(VerifyError::MissingKid)
        );
    }
}

#[test]
fn resource_server_verifies_peer_tokens_with_a_jwks_set() {
    // A verifier that knows only the published JWKS of all three asymmetric keys.
    let issuer_side = KeySet::new(fixture_key(Algorithm::EdDSA));
    issuer_side
        .add_verifying_key(fixture_key(Algorithm::ES256).verifying_key().clone())
        .unwrap();
    issuer_side
        .add_verifying_key(fixture_key(Algorithm::RS256).verifying_key().clone())
        .unwrap();
    let document = serde_json::to_string(&issuer_side.jwks()).unwrap();
    let jwks: Jwks = serde_json::from_str(&document).unwrap();
    let remote = Arc::new(KeySet::from_jwks(&jwks).unwrap());
    let verifier = common::verifier(&remote);
    let now = OffsetDateTime::now_utc();
    for algorithm in ASYMMETRIC {
        let mut header = Header::new(peer_algorithm(algorithm));
        header.typ = Some("at+jwt".into());
        header.kid = Some(fixture_key(algorithm).kid().to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &common::claims_at(now),
            &peer_encoding_key(algorithm),
        )
        .unwrap();
        let context = verifier.verify_at(&token, now).unwrap();
        assert_eq!(context.tenant.as_deref(), Some(TENANT));
    }
}

#[test]
fn public_jwks_and_thumbprints_agree_with_jsonwebtoken() {
    for algorithm in ASYMMETRIC {
        let ours = fixture_key(algorithm);
        let peer = Jwk::from_encoding_key(&peer_encoding_key(algorithm), peer_algorithm(algorithm))
            .unwrap();
        let ours_as_peer: Jwk = serde_json::from_value(
            serde_json::to_value(ours.verifying_key().public_jwk().unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!(ours_as_peer.algorithm, peer.algorithm, "{algorithm}");
        assert_eq!(ours_as_peer.common.key_algorithm, peer.common.key_algorithm);
        assert_eq!(peer.thumbprint(ThumbprintHash::SHA256).unwrap(), ours.kid());
        // And the peer's JWK, imported here, names the same key.
        let text = serde_json::to_string(&peer).unwrap();
        let imported =
            clientcreds_jwt::VerifyingKey::from_jwk(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(imported.kid(), ours.kid());
        assert_eq!(imported.algorithm(), algorithm);
    }
}

#[test]
fn keys_generated_here_interoperate_too() {
    // Only aws-lc-rs generates RSA keys.
    let rsa = cfg!(feature = "aws-lc-rs").then_some(Algorithm::RS256);
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256].into_iter().chain(rsa) {
        let document = SigningKey::generate_pkcs8(algorithm).unwrap();
        let keys = Arc::new(KeySet::new(
            SigningKey::from_pkcs8_der(algorithm, &document).unwrap(),
        ));
        let kid = keys.signing_key().unwrap().kid().to_owned();
        let now = OffsetDateTime::now_utc();

        // Ours → peer, through the JWKS.
        let minted = mint_for(&keys, now, &[AUDIENCE], Duration::minutes(5));
        let key = peer_decoding_key(&keys, algorithm, &kid);
        jsonwebtoken::decode::<PeerClaims>(
            minted.access_token.expose(),
            &key,
            &peer_validation(algorithm, AUDIENCE),
        )
        .unwrap();

        // Peer → ours, the peer signing with our generated PKCS#8 document.
        let encoding = match algorithm {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&document),
            Algorithm::ES256 => EncodingKey::from_ec_der(&document),
            // The peer's `from_rsa_der` wants PKCS#1; its PEM reader takes PKCS#8.
            _ => {
                EncodingKey::from_rsa_pem(clientcreds_jwt::pkcs8_pem(&document).as_bytes()).unwrap()
            }
        };
        let mut header = Header::new(peer_algorithm(algorithm));
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid);
        let token = jsonwebtoken::encode(&header, &common::claims_at(now), &encoding).unwrap();
        common::verifier(&keys).verify_at(&token, now).unwrap();
    }
}

/// PS256 and ES384 (issue 22: FAPI issuers sign with them), both ways:
/// the peer signs and we verify through our JWKS parser, and we sign and
/// the peer verifies with our published JWK.
#[test]
fn ps256_and_es384_interoperate_with_jsonwebtoken() {
    for algorithm in [Algorithm::PS256, Algorithm::ES384] {
        let (ours, peer_key) = if algorithm == Algorithm::PS256 {
            (
                fixture_key(algorithm),
                EncodingKey::from_rsa_pem(pem(algorithm).as_bytes()).unwrap(),
            )
        } else {
            let der = SigningKey::generate_pkcs8(algorithm).unwrap();
            (
                SigningKey::from_pkcs8_der(algorithm, &der).unwrap(),
                EncodingKey::from_ec_der(&der),
            )
        };
        let kid = ours.kid().to_owned();
        let keys = Arc::new(KeySet::new(ours));
        let now = OffsetDateTime::now_utc();
        let t = now.unix_timestamp();

        // Ours → peer.
        let minted = mint_for(&keys, now, &[AUDIENCE], Duration::minutes(10));
        let key = peer_decoding_key(&keys, algorithm, &kid);
        jsonwebtoken::decode::<PeerClaims>(
            minted.access_token.expose(),
            &key,
            &peer_validation(algorithm, AUDIENCE),
        )
        .unwrap_or_else(|e| panic!("{algorithm}: {e:?}"));

        // Peer → ours, through the JWKS as a resource server reads it.
        let remote = Arc::new(KeySet::from_jwks(&keys.jwks()).unwrap());
        let verifier = TokenVerifier::new(remote, validation());
        let claims = PeerClaims {
            iss: ISSUER.into(),
            sub: CLIENT_ID.into(),
            aud: json!(AUDIENCE),
            exp: t + 300,
            iat: t,
            nbf: t,
            jti: "peer-jti-fapi".into(),
            client_id: CLIENT_ID.into(),
            scope: "read".into(),
            tenant: TENANT.into(),
            roles: vec![],
        };
        let mut header = Header::new(peer_algorithm(algorithm));
        header.typ = Some("at+jwt".into());
        header.kid = Some(kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &peer_key).unwrap();
        let context = verifier
            .verify_at(&token, now)
            .unwrap_or_else(|e| panic!("{algorithm}: {e:?}"));
        assert_eq!(context.jti, "peer-jti-fapi");
    }
}
