//! DPoP at the resource server (RFC 9449 §7), through the tower layer's
//! public API: every refusal of a proof or a binding with its status,
//! challenge order and code; replay on one and on two replicas.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod dpop_world;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::{Algorithm, SigningKey, sign_jws};
use clientcreds_resource::{
    BoxFuture, DpopConfig, ProofReplay, ReplayCache, ReplayUnavailable, Scheme, Schemes,
};
use dpop_world::*;
use serde_json::json;
use time::{Duration, OffsetDateTime};

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_and_says_so() {
    let world = World::new();
    let token = world.bound();
    let (response, seen) = send(&world.layer(), dpop(&token, &world.proof(&token, "p-1"))).await;
    let (context, scheme) = passed(&response, &seen);
    assert_eq!(scheme, Scheme::Dpop);
    assert_eq!(
        context.extra["cnf"]["jkt"],
        key_thumbprint(&world.caller).unwrap()
    );
    // The scheme's name in any case, and an unbound token as Bearer.
    let (response, seen) = send(
        &world.layer(),
        request(&[
            ("authorization", &format!("dpop {token}")),
            ("dpop", &world.proof(&token, "p-2")),
        ]),
    )
    .await;
    passed(&response, &seen);
    let unbound = world.unbound();
    let (response, seen) = send(
        &world.layer(),
        request(&[("authorization", &format!("Bearer {unbound}"))]),
    )
    .await;
    assert_eq!(passed(&response, &seen).1, Scheme::Bearer);
}

#[tokio::test]
async fn a_replayed_proof_is_refused_by_the_same_layer() {
    let world = World::new();
    let layer = world.layer();
    let token = world.bound();
    let proof = world.proof(&token, "p-1");
    let (response, seen) = send(&layer, dpop(&token, &proof)).await;
    passed(&response, &seen);
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_dpop_proof",
        "DPoP proof was replayed",
    )
    .await;
    // Once its window has passed, the proof is refused for its age.
    world.clock.advance(Duration::minutes(2));
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_dpop_proof",
        "DPoP proof `iat` is outside the accepted window",
    )
    .await;
}

/// A replay record shared by two replicas, reached through the trait as
/// a host's adapter to a shared store would be.
#[derive(Debug, Default)]
struct SharedRecord {
    cache: ReplayCache,
    calls: AtomicUsize,
}

impl ProofReplay for SharedRecord {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, ReplayUnavailable>> {
        Box::pin(async move {
            assert!(key.starts_with("dpop-rs:") && key.len() <= 64, "{key}");
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.cache.record(key, expires_at, now)
        })
    }
}

#[tokio::test]
async fn a_proof_replayed_on_a_second_replica_is_refused_when_they_share_a_record() {
    let world = World::new();
    let token = world.bound();
    let proof = world.proof(&token, "p-1");
    let shared = Arc::new(SharedRecord::default());
    let replica = |record: Arc<dyn ProofReplay>| {
        world
            .layer()
            .with_dpop(DpopConfig::default().replay(record))
    };
    let (first, second) = (replica(shared.clone()), replica(shared.clone()));
    let (response, seen) = send(&first, dpop(&token, &proof)).await;
    passed(&response, &seen);
    refused_dpop(
        &second,
        dpop(&token, &proof),
        "invalid_dpop_proof",
        "DPoP proof was replayed",
    )
    .await;
    assert_eq!(shared.calls.load(Ordering::SeqCst), 2);
    // Each replica with only its own cache cannot tell (why one shares).
    let alone = world.layer();
    let (response, seen) = send(&alone, dpop(&token, &proof)).await;
    passed(&response, &seen);
}

#[derive(Debug)]
struct Down;

impl ProofReplay for Down {
    fn first_use<'a>(
        &'a self,
        _: &'a str,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, ReplayUnavailable>> {
        Box::pin(async { Err(ReplayUnavailable) })
    }
}

#[tokio::test]
async fn a_replay_record_outage_fails_closed_with_503() {
    let world = World::new();
    let layer = world
        .layer()
        .with_dpop(DpopConfig::default().replay(Arc::new(Down)));
    let token = world.bound();
    let (response, seen) = send(&layer, dpop(&token, &world.proof(&token, "p-1"))).await;
    assert_refused(&response, &seen, 503, &[], "temporarily_unavailable");
    assert_eq!(response.headers()["retry-after"], "5");
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused() {
    let world = World::new();
    let token = world.bound();
    for schemes in [Schemes::Both, Schemes::BearerOnly] {
        let (response, seen) = send(
            &world.layer().schemes(schemes),
            request(&[("authorization", &format!("Bearer {token}"))]),
        )
        .await;
        let bearer = "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"DPoP-bound token presented as a bearer token\"";
        let dpop = format!("DPoP realm=\"api\", algs=\"{ALGS}\"");
        let www: &[&str] = if schemes == Schemes::Both {
            &[bearer, &dpop]
        } else {
            &[bearer]
        };
        assert_refused(&response, &seen, 401, www, "invalid_token");
    }
}

#[tokio::test]
async fn each_proof_check_refuses_with_invalid_dpop_proof() {
    let world = World::new();
    let layer = world.layer();
    let token = world.bound();
    let other = world.unbound();
    let cases = [
        // ath of another token.
        (
            world.proof_by(&world.caller, "GET", URL, &other, "a"),
            "DPoP proof `ath` does not match the access token",
        ),
        // htm of another method.
        (
            world.proof_by(&world.caller, "POST", URL, &token, "b"),
            "DPoP proof `htm` does not match the request",
        ),
        // htu of another path, host, or scheme.
        (
            world.proof_by(
                &world.caller,
                "GET",
                "https://api.example.com/other",
                &token,
                "c",
            ),
            "DPoP proof `htu` does not match the request",
        ),
        (
            world.proof_by(
                &world.caller,
                "GET",
                "https://evil.example.com/orders",
                &token,
                "d",
            ),
            "DPoP proof `htu` does not match the request",
        ),
        (
            world.proof_by(
                &world.caller,
                "GET",
                "http://api.example.com/orders",
                &token,
                "e",
            ),
            "DPoP proof `htu` does not match the request",
        ),
        // Not a JWS, and a tampered signature.
        ("not-a-proof".to_owned(), "DPoP proof is malformed"),
        (
            {
                let proof = world.proof(&token, "f");
                let (head, _) = proof.rsplit_once('.').unwrap();
                format!("{head}.{}", "A".repeat(86))
            },
            "DPoP proof signature is invalid",
        ),
        // A token's typ instead of dpop+jwt.
        (
            sign_jws(
                &world.caller,
                "JWT",
                true,
                &json!({"htm": "GET", "htu": URL}),
            )
            .unwrap(),
            "DPoP proof `typ` is not dpop+jwt",
        ),
    ];
    for (proof, description) in cases {
        refused_dpop(
            &layer,
            dpop(&token, &proof),
            "invalid_dpop_proof",
            description,
        )
        .await;
    }
    // A proof from before the window, and one from the future.
    for offset in [Duration::minutes(-5), Duration::minutes(5)] {
        let proof = make_proof(
            &world.caller,
            &ProofRequest {
                method: "GET",
                url: URL,
                access_token: Some(&token),
                nonce: None,
                now: world.now + offset,
                jti: "g",
            },
        )
        .unwrap();
        refused_dpop(
            &layer,
            dpop(&token, &proof),
            "invalid_dpop_proof",
            "DPoP proof `iat` is outside the accepted window",
        )
        .await;
    }
    // No proof, and two.
    refused_dpop(
        &layer,
        request(&[("authorization", &format!("DPoP {token}"))]),
        "invalid_dpop_proof",
        "DPoP proof is missing",
    )
    .await;
    let proof = world.proof(&token, "h");
    refused_dpop(
        &layer,
        request(&[
            ("authorization", &format!("DPoP {token}")),
            ("dpop", &proof),
            ("dpop", &proof),
        ]),
        "invalid_dpop_proof",
        "more than one DPoP proof",
    )
    .await;
    // An algorithm the configuration does not accept.
    let es256_only = world
        .layer()
        .with_dpop(DpopConfig::default().algorithms(&[Algorithm::ES384]));
    let (response, seen) = send(&es256_only, dpop(&token, &proof)).await;
    assert_refused(
        &response,
        &seen,
        401,
        &[
            "DPoP realm=\"api\", algs=\"ES384\", error=\"invalid_dpop_proof\", error_description=\"DPoP proof algorithm not allowed\"",
            "Bearer realm=\"api\"",
        ],
        "invalid_dpop_proof",
    );
}

#[tokio::test]
async fn binding_faults_are_invalid_token_in_the_dpop_challenge() {
    let world = World::new();
    let layer = world.layer();
    // A proof by another key than the token's.
    let token = world.bound();
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let proof = world.proof_by(&stranger, "GET", URL, &token, "a");
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_token",
        "DPoP proof key does not match the token's binding",
    )
    .await;
    // An unbound token under the DPoP scheme.
    let token = world.unbound();
    refused_dpop(
        &layer,
        dpop(&token, &world.proof(&token, "b")),
        "invalid_token",
        "token is not DPoP-bound",
    )
    .await;
    // A token bound by another method (mTLS).
    let token = world.token_with(Some(json!({ "x5t#S256": "abc" })));
    refused_dpop(
        &layer,
        dpop(&token, &world.proof(&token, "c")),
        "invalid_token",
        "token is bound by an unsupported confirmation method",
    )
    .await;
    let (response, seen) = send(
        &layer,
        request(&[("authorization", &format!("Bearer {token}"))]),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
    // A token that does not verify, under DPoP: the DPoP challenge first.
    let token = world.bound();
    world.clock.advance(Duration::hours(2));
    let proof = world.proof_by_at(&token, world.clock_now());
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_token",
        "token has expired",
    )
    .await;
}

#[tokio::test]
async fn a_token_the_issuer_bound_with_mint_bound_passes_with_its_proof_only() {
    use clientcreds_jwt::{KeySet, TokenClaims, TokenIssuer, TokenVerifier, Validation};
    use std::collections::BTreeMap;
    let world = World::new();
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let token = TokenIssuer::new(keys.clone(), common::ISSUER)
        .mint_bound(
            &TokenClaims {
                client_id: "acme_client_1",
                tenant: "acme",
                audience: &[common::API.to_owned()],
                scopes: &["read".to_owned()],
                extra: &BTreeMap::<String, String>::new(),
                lifetime: Duration::minutes(5),
                now: world.now,
                secret_id: None,
            },
            &key_thumbprint(&world.caller).unwrap(),
        )
        .unwrap()
        .access_token
        .expose()
        .to_owned();
    let verifier = Arc::new(TokenVerifier::new(
        keys,
        Validation::new(common::ISSUER, common::API),
    ));
    let layer =
        clientcreds_resource::BearerAuthLayer::new(verifier).with_clock(world.clock.clone());
    let (response, seen) = send(&layer, dpop(&token, &world.proof(&token, "a"))).await;
    assert_eq!(passed(&response, &seen).1, Scheme::Dpop);
    let (response, seen) = send(
        &layer,
        request(&[("authorization", &format!("Bearer {token}"))]),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}
