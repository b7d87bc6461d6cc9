//! What binds a token beyond its signature: the tenant a resource server
//! accepts, and the secret that minted it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use clientcreds_jwt::{
    Algorithm, KeySet, MintError, SECRET_ID_CLAIM, SigningKey, TokenClaims, TokenIssuer,
    TokenVerifier, Validation, VerifyError,
};
use common::{AUDIENCE, CLIENT_ID, ISSUER, TENANT, now};
use time::Duration;

fn keys() -> Arc<KeySet> {
    Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()))
}

fn mint(keys: &Arc<KeySet>, tenant: &str, secret_id: Option<&str>) -> String {
    TokenIssuer::new(keys.clone(), ISSUER)
        .mint(&TokenClaims {
            client_id: CLIENT_ID,
            tenant,
            audience: &[AUDIENCE.to_owned()],
            scopes: &["read".to_owned()],
            extra: &BTreeMap::<String, String>::new(),
            lifetime: Duration::hours(1),
            now: now(),
            secret_id,
        })
        .unwrap()
        .access_token
        .expose()
        .to_owned()
}

#[test]
fn a_tenant_bound_validation_refuses_other_tenants() {
    let keys = keys();
    let acme = mint(&keys, TENANT, None);
    let globex = mint(&keys, "globex", None);
    let any = TokenVerifier::new(keys.clone(), Validation::new(ISSUER, AUDIENCE));
    assert!(any.verify_at(&globex, now()).is_ok());

    let only_acme = TokenVerifier::new(
        keys.clone(),
        Validation::new(ISSUER, AUDIENCE).with_tenant(TENANT),
    );
    assert_eq!(
        only_acme.verify_at(&acme, now()).unwrap().tenant(),
        Some(TENANT)
    );
    assert_eq!(
        only_acme.verify_at(&globex, now()),
        Err(VerifyError::WrongTenant)
    );

    let both = TokenVerifier::new(
        keys.clone(),
        Validation::new(ISSUER, AUDIENCE).with_tenants([TENANT, "globex"]),
    );
    assert!(both.verify_at(&acme, now()).is_ok());
    assert!(both.verify_at(&globex, now()).is_ok());

    let none = TokenVerifier::new(
        keys,
        Validation::new(ISSUER, AUDIENCE).with_tenants(Vec::<String>::new()),
    );
    assert_eq!(none.verify_at(&acme, now()), Err(VerifyError::WrongTenant));
}

#[test]
fn the_minting_secret_travels_in_the_token() {
    let keys = keys();
    let verifier = TokenVerifier::new(keys.clone(), Validation::new(ISSUER, AUDIENCE));
    let with = verifier
        .verify_at(&mint(&keys, TENANT, Some("s1")), now())
        .unwrap();
    assert_eq!(with.secret_id.as_deref(), Some("s1"));
    assert!(!with.extra.contains_key(SECRET_ID_CLAIM));
    let without = verifier
        .verify_at(&mint(&keys, TENANT, None), now())
        .unwrap();
    assert_eq!(without.secret_id, None);
}

#[test]
fn the_secret_id_claim_cannot_be_forged_through_extra_claims() {
    let keys = keys();
    let mut extra = BTreeMap::new();
    extra.insert(SECRET_ID_CLAIM.to_owned(), "forged".to_owned());
    let result = TokenIssuer::new(keys, ISSUER).mint(&TokenClaims {
        client_id: CLIENT_ID,
        tenant: TENANT,
        audience: &[AUDIENCE.to_owned()],
        scopes: &[],
        extra: &extra,
        lifetime: Duration::hours(1),
        now: now(),
        secret_id: None,
    });
    assert!(matches!(result, Err(MintError::Invalid(_))));
}
