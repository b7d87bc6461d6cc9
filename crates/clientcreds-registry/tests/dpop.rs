//! DPoP at the token endpoint (RFC 9449 §5, §8), through the public API:
//! bound tokens, every refusal, per-client and global requirements,
//! stateless nonces shared by replicas, and replay across replicas.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{
    Actor, Clock as _, DEFAULT_NONCE_STEP, DpopConfig, DpopNonces, DpopProof, ExchangeRequest,
    Issued, NewClient, Registry, TokenErrorCode, TokenService,
};
use clientcreds_secret::Secret;
use clientcreds_store::{MemoryReplayStore, ReplayStore, Store};
use common::{keep, tenant};
use time::Duration;

const ISSUER: &str = "https://auth.example.com";
const ENDPOINT: &str = "https://auth.example.com/oauth/token";
const API: &str = "https://api.example.com";

struct Setup {
    tokens: TokenService,
    verifier: TokenVerifier,
    world: common::World,
}

fn service(world: &common::World, keys: &Arc<KeySet>, dpop: DpopConfig) -> TokenService {
    let registry = Arc::new(
        Registry::new(
            world.store.clone() as Arc<dyn Store>,
            common::hasher(),
            world.registry.policy().clone(),
        )
        .unwrap()
        .with_clock(world.clock.clone()),
    );
    TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API).with_dpop(dpop)
}

fn setup_with(change: impl FnOnce(DpopConfig) -> DpopConfig) -> Setup {
    let world = common::world(clientcreds_registry::Policy::default());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let dpop = change(DpopConfig::new(ENDPOINT, Arc::new(MemoryReplayStore::default())).unwrap());
    let tokens = service(&world, &keys, dpop);
    let verifier = TokenVerifier::new(keys, Validation::new(ISSUER, API));
    Setup {
        tokens,
        verifier,
        world,
    }
}

fn setup() -> Setup {
    setup_with(|d| d)
}

impl Setup {
    async fn client(&self, new: NewClient) -> Issued {
        self.tokens
            .registry()
            .create(&Actor::System, &tenant("acme"), new)
            .await
            .unwrap()
    }

    fn proof<'a>(
        &self,
        key: &SigningKey,
        jti: &'a str,
        change: impl FnOnce(&mut ProofRequest<'a>),
    ) -> String {
        let now = self.world.clock.now();
        let mut request = ProofRequest {
            method: "POST",
            url: ENDPOINT,
            access_token: None,
            nonce: None,
            now,
            jti,
        };
        change(&mut request);
        make_proof(key, &request).unwrap()
    }
}

fn request(issued: &Issued, proof: Option<String>) -> ExchangeRequest {
    let (id, secret) = keep(&issued.credentials);
    let mut request = ExchangeRequest::client_credentials(id, Secret::new(secret));
    request.dpop_proof = proof.map(DpopProof::new);
    request
}

#[tokio::test]
async fn a_proof_binds_the_token_to_its_key() {
    let s = setup();
    let app = s.client(NewClient::named("svc")).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let response = s
        .tokens
        .exchange(request(&app, Some(s.proof(&key, "p1", |_| {}))))
        .await
        .unwrap();
    assert_eq!(response.token_type, "DPoP");
    let context = s
        .verifier
        .verify_at(response.access_token.expose(), s.world.clock.now())
        .unwrap();
    assert_eq!(
        context.extra["cnf"]["jkt"].as_str().unwrap(),
        key_thumbprint(&key).unwrap()
    );
    // Without a proof, the same client gets a Bearer token.
    let response = s.tokens.exchange(request(&app, None)).await.unwrap();
    assert_eq!(response.token_type, "Bearer");
    let context = s
        .verifier
        .verify_at(response.access_token.expose(), s.world.clock.now())
        .unwrap();
    assert!(!context.extra.contains_key("cnf"));
}

#[tokio::test]
async fn every_bad_proof_is_invalid_dpop_proof() {
    let s = setup();
    let app = s.client(NewClient::named("svc")).await;
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let now = s.world.clock.now();
    let bad = [
        ("htm", s.proof(&key, "b1", |r| r.method = "GET")),
        ("htu", s.proof(&key, "b2", |r| r.url = "https://other.example.com/oauth/token")),
        ("old iat", s.proof(&key, "b3", |r| r.now = now - Duration::minutes(5))),
        ("future iat", s.proof(&key, "b4", |r| r.now = now + Duration::minutes(5))),
        ("not a JWT", "abc".to_owned()),
        (
            "typ",
            clientcreds_jwt::sign_jws(&key, "JWT", true, &serde_json::json!({"htm": "POST", "htu": ENDPOINT, "iat": now.unix_timestamp(), "jti": "b5"})).unwrap(),
        ),
    ];
    for (what, proof) in bad {
        let error = s
            .tokens
            .exchange(request(&app, Some(proof)))
            .await
            .unwrap_err();
        assert_eq!(error.code, TokenErrorCode::InvalidDpopProof, "{what}");
    }
    // A proof is single use.
    let proof = s.proof(&key, "once", |_| {});
    s.tokens
        .exchange(request(&app, Some(proof.clone())))
        .await
        .unwrap();
    let error = s
        .tokens
        .exchange(request(&app, Some(proof)))
        .await
        .unwrap_err();
    assert_eq!(error.code, TokenErrorCode::InvalidDpopProof);
    // A query on htu is ignored, as RFC 9449 §4.3 says.
    let proof = s.proof(&key, "q", |r| {
        r.url = "https://AUTH.example.com:443/oauth/token?x=1";
    });
    s.tokens.exchange(request(&app, Some(proof))).await.unwrap();
}

#[tokio::test]
async fn a_refused_client_does_not_spend_the_proof() {
    let s = setup();
    let app = s.client(NewClient::named("svc")).await;
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let proof = s.proof(&key, "keep", |_| {});
    let (id, _) = keep(&app.credentials);
    let mut wrong =
        ExchangeRequest::client_credentials(id, Secret::new("cc_secret_wrong".to_owned()));
    wrong.dpop_proof = Some(DpopProof::new(proof.clone()));
    assert_eq!(
        s.tokens.exchange(wrong).await.unwrap_err().code,
        TokenErrorCode::InvalidClient
    );
    s.tokens.exchange(request(&app, Some(proof))).await.unwrap();
}

#[tokio::test]
async fn a_bound_client_and_a_global_requirement_need_a_proof() {
    let s = setup();
    let mut new = NewClient::named("bound");
    new.dpop_bound_access_tokens = true;
    let bound = s.client(new).await;
    assert!(bound.client.dpop_bound_access_tokens);
    let error = s.tokens.exchange(request(&bound, None)).await.unwrap_err();
    assert_eq!(error.code, TokenErrorCode::InvalidDpopProof);
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    s.tokens
        .exchange(request(&bound, Some(s.proof(&key, "b", |_| {}))))
        .await
        .unwrap();

    let strict = setup_with(DpopConfig::required);
    let app = strict.client(NewClient::named("any")).await;
    let error = strict
        .tokens
        .exchange(request(&app, None))
        .await
        .unwrap_err();
    assert_eq!(error.code, TokenErrorCode::InvalidDpopProof);
}

#[tokio::test]
async fn nonces_are_stateless_and_shared_by_replicas() {
    let secret = [3u8; 32];
    let s = setup_with(|d| {
        d.with_nonces(DpopNonces::new(secret.as_ref(), DEFAULT_NONCE_STEP).unwrap())
    });
    let app = s.client(NewClient::named("svc")).await;
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let error = s
        .tokens
        .exchange(request(&app, Some(s.proof(&key, "n0", |_| {}))))
        .await
        .unwrap_err();
    assert_eq!(error.code, TokenErrorCode::UseDpopNonce);
    // Another replica with the same key hands out the same nonce.
    let other = service(
        &s.world,
        &Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap())),
        DpopConfig::new(ENDPOINT, Arc::new(MemoryReplayStore::default()))
            .unwrap()
            .with_nonces(DpopNonces::new(secret.as_ref(), DEFAULT_NONCE_STEP).unwrap()),
    );
    let nonce = other.dpop_nonce().unwrap();
    let proof = s.proof(&key, "n1", |r| r.nonce = Some(&nonce));
    assert_eq!(
        s.tokens
            .exchange(request(&app, Some(proof)))
            .await
            .unwrap()
            .token_type,
        "DPoP"
    );
    // A nonce of another key, or a stale one, is refused with a new one.
    let foreign = DpopNonces::new(&[4u8; 32], DEFAULT_NONCE_STEP)
        .unwrap()
        .current(s.world.clock.now());
    let proof = s.proof(&key, "n2", |r| r.nonce = Some(&foreign));
    assert_eq!(
        s.tokens
            .exchange(request(&app, Some(proof)))
            .await
            .unwrap_err()
            .code,
        TokenErrorCode::UseDpopNonce
    );
    s.world.clock.advance(Duration::minutes(20));
    let proof = s.proof(&key, "n3", |r| r.nonce = Some(&nonce));
    assert_eq!(
        s.tokens
            .exchange(request(&app, Some(proof)))
            .await
            .unwrap_err()
            .code,
        TokenErrorCode::UseDpopNonce
    );
}

#[tokio::test]
async fn a_proof_used_on_one_replica_is_refused_on_another() {
    let world = common::world(clientcreds_registry::Policy::default());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let replay: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::default());
    let a = service(
        &world,
        &keys,
        DpopConfig::new(ENDPOINT, replay.clone()).unwrap(),
    );
    let b = service(&world, &keys, DpopConfig::new(ENDPOINT, replay).unwrap());
    let app = a
        .registry()
        .create(&Actor::System, &tenant("acme"), NewClient::named("svc"))
        .await
        .unwrap();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let proof = make_proof(
        &key,
        &ProofRequest {
            method: "POST",
            url: ENDPOINT,
            access_token: None,
            nonce: None,
            now: world.clock.now(),
            jti: "shared",
        },
    )
    .unwrap();
    a.exchange(request(&app, Some(proof.clone())))
        .await
        .unwrap();
    assert_eq!(
        b.exchange(request(&app, Some(proof)))
            .await
            .unwrap_err()
            .code,
        TokenErrorCode::InvalidDpopProof
    );
}

#[tokio::test]
async fn without_dpop_configured_the_header_is_ignored() {
    let world = common::world(clientcreds_registry::Policy::default());
    let registry = Arc::new(
        Registry::new(
            world.store.clone() as Arc<dyn Store>,
            common::hasher(),
            world.registry.policy().clone(),
        )
        .unwrap()
        .with_clock(world.clock.clone()),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys, ISSUER), API);
    let app = tokens
        .registry()
        .create(&Actor::System, &tenant("acme"), NewClient::named("svc"))
        .await
        .unwrap();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let proof = make_proof(
        &key,
        &ProofRequest {
            method: "POST",
            url: ENDPOINT,
            access_token: None,
            nonce: None,
            now: world.clock.now(),
            jti: "x",
        },
    )
    .unwrap();
    let response = tokens.exchange(request(&app, Some(proof))).await.unwrap();
    assert_eq!(response.token_type, "Bearer");
}
