//! Tokens from issuers other than clientcreds (issue 22): no tenant claim,
//! `typ: JWT` only by explicit opt-in, PS256 and ES384, and a token of an
//! untrusted issuer refused as such before any key lookup.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenVerifier, Validation, VerifyError};
use common::{AUDIENCE, CLIENT_ID, ISSUER, claims_at, claims_with, forge, header_for, now};
use serde_json::json;

/// The claims an RFC 9068 issuer without tenants mints (oidc-provider,
/// Keycloak, Auth0, ...): ours minus the `tenant` claim.
fn foreign_claims() -> serde_json::Value {
    claims_with("tenant", None)
}

/// A key set holding only the public half of a new key, and the key.
fn keys(algorithm: Algorithm) -> (Arc<KeySet>, SigningKey) {
    let key = SigningKey::generate(algorithm).unwrap();
    let set = KeySet::empty();
    set.add_verifying_key(key.verifying_key().clone()).unwrap();
    (Arc::new(set), key)
}

fn ed() -> (Arc<KeySet>, SigningKey) {
    keys(Algorithm::EdDSA)
}

#[test]
fn a_token_without_a_tenant_is_accepted_unless_one_is_required() {
    let (set, key) = ed();
    let token = forge(&header_for(&key), &foreign_claims(), &key);

    let plain = TokenVerifier::new(set.clone(), Validation::new(ISSUER, AUDIENCE));
    let context = plain.verify_at(&token, now()).unwrap();
    assert_eq!(context.tenant(), None);
    assert_eq!(context.client_id, CLIENT_ID);

    let missing = Err(VerifyError::MissingTenantClaim {
        claim: "tenant".into(),
    });
    for validation in [
        Validation::new(ISSUER, AUDIENCE).require_tenant(),
        Validation::new(ISSUER, AUDIENCE).with_tenant("acme"),
        Validation::new(ISSUER, AUDIENCE).with_tenants(["acme"]),
    ] {
        let verifier = TokenVerifier::new(set.clone(), validation);
        assert_eq!(verifier.verify_at(&token, now()), missing);
    }
    // Our own tokens still carry theirs.
    let ours = forge(&header_for(&key), &claims_at(now()), &key);
    assert_eq!(
        plain.verify_at(&ours, now()).unwrap().tenant(),
        Some("acme")
    );
}

#[test]
fn any_claim_can_name_the_tenant_and_errors_name_that_claim() {
    let (set, key) = ed();
    let token = forge(&header_for(&key), &foreign_claims(), &key);
    for claim in ["client_id", "sub"] {
        let verifier = TokenVerifier::new(
            set.clone(),
            Validation::new(ISSUER, AUDIENCE)
                .with_tenant_claim(claim)
                .with_tenant(CLIENT_ID),
        );
        let context = verifier.verify_at(&token, now()).unwrap();
        assert_eq!(context.tenant(), Some(CLIENT_ID), "{claim}");
        // The standard claim keeps its own field too.
        assert_eq!(
            (context.client_id.as_str(), context.subject.as_str()),
            (CLIENT_ID, CLIENT_ID)
        );
    }
    let verifier = TokenVerifier::new(
        set.clone(),
        Validation::new(ISSUER, AUDIENCE)
            .with_tenant_claim("org_id")
            .require_tenant(),
    );
    let error = verifier.verify_at(&token, now()).unwrap_err();
    assert_eq!(
        error,
        VerifyError::MissingTenantClaim {
            claim: "org_id".into()
        }
    );
    assert!(error.to_string().contains("`org_id`"), "{error}");
    let odd = forge(
        &header_for(&key),
        &claims_with("org_id", Some(json!(["a"]))),
        &key,
    );
    assert_eq!(
        verifier.verify_at(&odd, now()),
        Err(VerifyError::InvalidTenantClaim {
            claim: "org_id".into()
        })
    );
}

#[test]
fn typ_jwt_is_refused_by_default_and_accepted_only_by_the_explicit_opt_in() {
    let (set, key) = ed();
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": key.kid() });
    let token = forge(&header, &foreign_claims(), &key);
    let strict = TokenVerifier::new(set.clone(), Validation::new(ISSUER, AUDIENCE));
    assert_eq!(strict.verify_at(&token, now()), Err(VerifyError::WrongType));

    let widened = TokenVerifier::new(
        set.clone(),
        Validation::new(ISSUER, AUDIENCE).danger_accept_typ_jwt(),
    );
    assert!(widened.verify_at(&token, now()).is_ok());
    // Widened to `JWT` only: no typ, or any other, is still refused.
    let none = forge(
        &json!({ "alg": "EdDSA", "kid": key.kid() }),
        &foreign_claims(),
        &key,
    );
    assert_eq!(
        widened.verify_at(&none, now()),
        Err(VerifyError::MissingType)
    );
    let id_token = forge(
        &json!({ "alg": "EdDSA", "typ": "id_token+jwt", "kid": key.kid() }),
        &foreign_claims(),
        &key,
    );
    assert_eq!(
        widened.verify_at(&id_token, now()),
        Err(VerifyError::WrongType)
    );
}

#[test]
fn a_foreign_issuer_is_wrong_issuer_never_unknown_kid() {
    let (set, key) = ed();
    let verifier = TokenVerifier::new(set, Validation::new(ISSUER, AUDIENCE));
    // Signed by a key this verifier has never seen, naming another issuer.
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let claims = claims_with("iss", Some(json!("https://other.example.com")));
    let token = forge(&header_for(&stranger), &claims, &stranger);
    assert_eq!(
        verifier.verify_at(&token, now()),
        Err(VerifyError::WrongIssuer)
    );
    // Same with a known kid and a bad signature.
    let token = forge(&header_for(&key), &claims, &stranger);
    assert_eq!(
        verifier.verify_at(&token, now()),
        Err(VerifyError::WrongIssuer)
    );
    // A trailing slash is explained.
    let claims = claims_with("iss", Some(json!(format!("{ISSUER}/"))));
    let token = forge(&header_for(&stranger), &claims, &stranger);
    let error = verifier.verify_at(&token, now()).unwrap_err();
    assert_eq!(error, VerifyError::IssuerTrailingSlash);
    assert!(error.to_string().contains("trailing slash"));
}

/// The key a test signs with: ES384 generated here (both backends), PS256
/// from the RSA fixture (ring cannot generate RSA keys).
fn fapi_key(algorithm: Algorithm) -> SigningKey {
    if algorithm == Algorithm::PS256 {
        common::fixture_key(Algorithm::PS256)
    } else {
        SigningKey::generate(algorithm).unwrap()
    }
}

#[test]
fn ps256_and_es384_sign_verify_and_travel_through_a_jwks() {
    for (algorithm, confused) in [(Algorithm::ES384, "ES256"), (Algorithm::PS256, "RS256")] {
        let key = fapi_key(algorithm);
        assert_eq!(key.algorithm(), algorithm);
        let jwk = key.verifying_key().public_jwk().unwrap().clone();
        assert_eq!(jwk.alg.as_deref(), Some(algorithm.name()));
        let jwks = clientcreds_jwt::Jwks { keys: vec![jwk] };
        let remote = Arc::new(KeySet::from_jwks(&jwks).unwrap());
        let verifier = TokenVerifier::new(remote, Validation::new(ISSUER, AUDIENCE));
        let token = forge(&header_for(&key), &foreign_claims(), &key);
        assert!(verifier.verify_at(&token, now()).is_ok(), "{algorithm}");
        // The key verifies its own algorithm only.
        let header = json!({ "alg": confused, "typ": "at+jwt", "kid": key.kid() });
        let token = forge(&header, &foreign_claims(), &key);
        assert_eq!(
            verifier.verify_at(&token, now()),
            Err(VerifyError::AlgorithmMismatch),
            "{algorithm}"
        );
        // An allow-list without it refuses it.
        let narrow = TokenVerifier::new(
            Arc::new(KeySet::from_jwks(&jwks).unwrap()),
            Validation::new(ISSUER, AUDIENCE).with_algorithms([Algorithm::EdDSA]),
        );
        let token = forge(&header_for(&key), &foreign_claims(), &key);
        assert_eq!(
            narrow.verify_at(&token, now()),
            Err(VerifyError::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn rsa_jwks_keys_say_which_padding_they_verify() {
    let key = common::fixture_key(Algorithm::RS256);
    let mut jwk = key.verifying_key().public_jwk().unwrap().clone();
    // The same modulus published for PS256 verifies PSS signatures only.
    jwk.alg = Some("PS256".into());
    jwk.kid = Some("pss".into());
    let set = KeySet::empty();
    set.add_verifying_key(clientcreds_jwt::VerifyingKey::from_jwk(&jwk).unwrap())
        .unwrap();
    let verifier = TokenVerifier::new(Arc::new(set), Validation::new(ISSUER, AUDIENCE));
    let pss = common::fixture_key(Algorithm::PS256);
    let header = json!({ "alg": "PS256", "typ": "at+jwt", "kid": "pss" });
    assert!(
        verifier
            .verify_at(&forge(&header, &foreign_claims(), &pss), now())
            .is_ok()
    );
    // A PKCS#1 v1.5 signature under a PS256 header does not verify.
    assert_eq!(
        verifier.verify_at(&forge(&header, &foreign_claims(), &key), now()),
        Err(VerifyError::BadSignature)
    );
}
