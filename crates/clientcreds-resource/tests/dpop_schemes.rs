//! DPoP at the resource server: the schemes a layer accepts, nonces,
//! proxies, `resource_metadata` in challenges, nested layers, hosts that
//! call `authorize` themselves, and the replay cache's bound.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod dpop_world;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clientcreds_jwt::AccessContext;
use clientcreds_jwt::dpop::{ProofRequest, make_proof};
use clientcreds_resource::{DpopConfig, DpopNonces, ReplayCache, Scheme, Schemes};
use dpop_world::*;
use http::{Request, Response};
use time::{Duration, OffsetDateTime};
use tower::{Layer, ServiceExt, service_fn};

#[tokio::test]
async fn behind_a_proxy_htu_is_the_external_url() {
    let world = World::new();
    let token = world.bound();
    // The proxy forwards to an internal host and strips `/v1`.
    let internal = |proof: &str| {
        Request::get("/orders")
            .header("host", "orders.internal:8080")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .body(String::new())
            .unwrap()
    };
    let external = "https://api.example.com/v1/orders";
    let proxied = world.layer().with_dpop(
        DpopConfig::default()
            .external_url("https://API.example.com:443/v1/")
            .unwrap(),
    );
    let (response, seen) = send(
        &proxied,
        internal(&world.proof_by(&world.caller, "GET", external, &token, "a")),
    )
    .await;
    passed(&response, &seen);
    // A proof for the internal URL is not one for the service.
    let inside = world.proof_by(
        &world.caller,
        "GET",
        "https://orders.internal:8080/orders",
        &token,
        "b",
    );
    refused_dpop(
        &proxied,
        internal(&inside),
        "invalid_dpop_proof",
        "DPoP proof `htu` does not match the request",
    )
    .await;
    // Without the setting, the Host decides (and the external proof fails).
    refused_dpop(
        &world.layer(),
        internal(&world.proof_by(&world.caller, "GET", external, &token, "c")),
        "invalid_dpop_proof",
        "DPoP proof `htu` does not match the request",
    )
    .await;
    // No Host and a relative URI: nothing to compare with, refused.
    let proof = world.proof(&token, "d");
    let bare = Request::get("/orders")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", &proof)
        .body(String::new())
        .unwrap();
    refused_dpop(
        &world.layer(),
        bare,
        "invalid_dpop_proof",
        "DPoP proof `htu` does not match the request",
    )
    .await;
    // Unusable settings are refused when configured.
    for bad in ["ftp://api.example.com", "https://api.example.com/?q", "/v1"] {
        assert!(DpopConfig::default().external_url(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn nonces_are_asked_for_then_accepted_then_renewed() {
    let world = World::new();
    let nonces = DpopNonces::new(&[9u8; 32], Duration::minutes(5)).unwrap();
    let layer = world
        .layer()
        .with_dpop(DpopConfig::default().nonces(nonces.clone()));
    let token = world.bound();
    // No nonce: use_dpop_nonce with one.
    let (response, seen) = send(&layer, dpop(&token, &world.proof(&token, "a"))).await;
    let www = dpop_first("use_dpop_nonce", "a fresh DPoP nonce is required");
    assert_refused(&response, &seen, 401, &[&www[0], &www[1]], "use_dpop_nonce");
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    let with_nonce = |nonce: &str, jti: &str, now: OffsetDateTime| {
        make_proof(
            &world.caller,
            &ProofRequest {
                method: "GET",
                url: URL,
                access_token: Some(&token),
                nonce: Some(nonce),
                now,
                jti,
            },
        )
        .unwrap()
    };
    // With it: accepted, no new nonce yet.
    let (response, seen) = send(&layer, dpop(&token, &with_nonce(&nonce, "b", world.now))).await;
    passed(&response, &seen);
    assert!(response.headers().get("dpop-nonce").is_none());
    // A step later it still works, and a fresh one comes back.
    world.clock.advance(Duration::minutes(5));
    let later = world.now + Duration::minutes(5);
    let (response, seen) = send(&layer, dpop(&token, &with_nonce(&nonce, "c", later))).await;
    passed(&response, &seen);
    let fresh = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, nonce);
    // Two steps later it is stale; a forged one never worked.
    world.clock.advance(Duration::minutes(5));
    let latest = later + Duration::minutes(5);
    for stale in [nonce.as_str(), "forged-nonce"] {
        let (response, seen) = send(&layer, dpop(&token, &with_nonce(stale, stale, latest))).await;
        assert_refused(&response, &seen, 401, &[&www[0], &www[1]], "use_dpop_nonce");
    }
}

#[tokio::test]
async fn a_layer_accepts_the_schemes_it_is_configured_with() {
    let world = World::new();
    let (bound, unbound) = (world.bound(), world.unbound());
    let dpop_only = world.layer().schemes(Schemes::DpopOnly);
    // Bearer at a DPoP-only resource: as if no credentials.
    let (response, seen) = send(
        &dpop_only,
        request(&[("authorization", &format!("Bearer {unbound}"))]),
    )
    .await;
    let only_dpop = format!("DPoP realm=\"api\", algs=\"{ALGS}\"");
    assert_refused(&response, &seen, 401, &[&only_dpop], "unauthorized");
    let (response, seen) = send(&dpop_only, dpop(&bound, &world.proof(&bound, "a"))).await;
    passed(&response, &seen);
    // DPoP at a Bearer-only resource: as if no credentials.
    let bearer_only = world.layer().schemes(Schemes::BearerOnly);
    let (response, seen) = send(&bearer_only, dpop(&bound, &world.proof(&bound, "b"))).await;
    assert_refused(
        &response,
        &seen,
        401,
        &["Bearer realm=\"api\""],
        "unauthorized",
    );
    // Both: no credentials get both challenges, Bearer first.
    let (response, seen) = send(&world.layer(), request(&[])).await;
    assert_refused(
        &response,
        &seen,
        401,
        &["Bearer realm=\"api\"", &only_dpop],
        "unauthorized",
    );
    // A malformed DPoP header value is invalid_request on the DPoP challenge.
    let (response, seen) = send(
        &world.layer(),
        request(&[("authorization", "DPoP two tokens")]),
    )
    .await;
    assert_refused(
        &response,
        &seen,
        400,
        &[
            &format!(
                "DPoP realm=\"api\", algs=\"{ALGS}\", error=\"invalid_request\", error_description=\"malformed Authorization header\""
            ),
            "Bearer realm=\"api\"",
        ],
        "invalid_request",
    );
}

#[tokio::test]
async fn challenges_name_the_resource_metadata_and_scopes() {
    let world = World::new();
    let meta = "https://api.example.com/.well-known/oauth-protected-resource";
    let layer = world
        .layer()
        .with_resource_metadata(meta)
        .require_scope("write");
    let (response, seen) = send(&layer, request(&[])).await;
    assert_refused(
        &response,
        &seen,
        401,
        &[
            &format!("Bearer realm=\"api\", resource_metadata=\"{meta}\""),
            &format!("DPoP realm=\"api\", algs=\"{ALGS}\", resource_metadata=\"{meta}\""),
        ],
        "unauthorized",
    );
    // 403 insufficient_scope under DPoP: on the DPoP challenge.
    let token = world.bound();
    let (response, seen) = send(&layer, dpop(&token, &world.proof(&token, "a"))).await;
    assert_refused(
        &response,
        &seen,
        403,
        &[
            &format!(
                "DPoP realm=\"api\", algs=\"{ALGS}\", error=\"insufficient_scope\", error_description=\"insufficient scope: `write` is required\", scope=\"write\", resource_metadata=\"{meta}\""
            ),
            &format!("Bearer realm=\"api\", resource_metadata=\"{meta}\""),
        ],
        "insufficient_scope",
    );
}

#[tokio::test]
async fn nested_layers_check_a_proof_each_and_record_it_once() {
    let world = World::new();
    let config = DpopConfig::default();
    let outer = world.layer().with_dpop(config.clone());
    let inner = world.layer().with_dpop(config).require_scope("read");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let service = outer.layer(inner.layer(service_fn(move |_: Request<String>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new("inner".to_owned())) }
    })));
    let token = world.bound();
    let proof = world.proof(&token, "a");
    let response = service.clone().oneshot(dpop(&token, &proof)).await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", challenges(&response));
    // The same proof again, through both: refused by the first.
    let response = service.oneshot(dpop(&token, &proof)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn authorize_serves_hosts_without_tower_services() {
    let world = World::new();
    let layer = world.layer();
    let token = world.bound();
    let mut ok = dpop(&token, &world.proof(&token, "a"));
    assert_eq!(layer.authorize(&mut ok).await.unwrap(), None);
    assert_eq!(ok.extensions().get::<Scheme>(), Some(&Scheme::Dpop));
    assert!(ok.extensions().get::<AccessContext>().is_some());
    let mut replayed = dpop(&token, &world.proof(&token, "a"));
    let refusal = layer.authorize(&mut replayed).await.unwrap_err();
    assert_eq!(refusal.status(), 401);
    assert!(replayed.extensions().get::<AccessContext>().is_none());
}

#[test]
fn the_replay_cache_is_bounded_refuses_when_full_and_forgets_expired_proofs() {
    // 32 shards of one entry: 33 keys cannot all fit.
    let cache = ReplayCache::with_capacity(32);
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::seconds(65);
    let outcomes: Vec<_> = (0..33)
        .map(|i| cache.record(&format!("dpop-rs:{i}"), until, now))
        .collect();
    let refused: Vec<usize> = (0..33).filter(|i| outcomes[*i].is_err()).collect();
    assert!(!refused.is_empty(), "a full cache forgot a live proof");
    assert!(cache.len() <= 32);
    // Once everything has expired, a refused key finds room.
    let later = until + Duration::seconds(1);
    let key = format!("dpop-rs:{}", refused[0]);
    assert_eq!(
        cache.record(&key, later + Duration::seconds(65), later),
        Ok(true)
    );
    // A recorded key is a replay until it expires, then a first use again.
    let roomy = ReplayCache::default();
    assert_eq!(roomy.record("dpop-rs:k", until, now), Ok(true));
    assert_eq!(roomy.record("dpop-rs:k", until, now), Ok(false));
    assert_eq!(
        roomy.record("dpop-rs:k", later + Duration::seconds(65), later),
        Ok(true)
    );
    assert_eq!(roomy.len(), 1);
}

#[test]
fn nonces_of_another_secret_or_step_size_are_refused() {
    let now = OffsetDateTime::now_utc();
    let ours = DpopNonces::new(&[1u8; 32], Duration::minutes(5)).unwrap();
    let replica = DpopNonces::new(&[1u8; 32], Duration::minutes(5)).unwrap();
    let theirs = DpopNonces::new(&[2u8; 32], Duration::minutes(5)).unwrap();
    let nonce = ours.current(now);
    assert!(replica.accepts(&nonce, now), "replicas share nonces");
    assert!(!theirs.accepts(&nonce, now));
    assert!(
        !ours.accepts(&nonce, now - Duration::minutes(10)),
        "a nonce from the future"
    );
    assert!(!ours.accepts("", now));
    assert!(!ours.accepts(&"A".repeat(100), now));
    assert!(DpopNonces::new(&[1u8; 31], Duration::minutes(5)).is_err());
    assert!(
        !format!("{ours:?}").contains("[1"),
        "the secret never prints"
    );
}
