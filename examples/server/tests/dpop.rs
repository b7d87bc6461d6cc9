//! DPoP against real server processes: the token endpoint binds tokens to
//! the proof's key, asks for its nonce (derived from the master keys, so
//! two replicas agree), and a proof used on one replica is refused by the
//! other (two processes, one PostgreSQL).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::{Algorithm, SigningKey};
use common::process::{ISSUER, K1, Proc, fresh_postgres, start};
use serde_json::Value;

fn proof(key: &SigningKey, jti: &str, nonce: Option<&str>) -> String {
    make_proof(
        key,
        &ProofRequest {
            method: "POST",
            url: &format!("{ISSUER}/oauth/token"),
            access_token: None,
            nonce,
            now: time::OffsetDateTime::now_utc(),
            jti,
        },
    )
    .unwrap()
}

async fn token(
    proc: &Proc,
    id: &str,
    secret: &str,
    proof: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/oauth/token", proc.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")]);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, nonce, response.json().await.unwrap())
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_bound_and_nonces_are_shared_by_replicas() {
    let url = fresh_postgres().await;
    let nonces = [("CLIENTCREDS_DPOP_NONCES", "true")];
    let (a, b) = tokio::join!(
        start(Some(&url), Some(K1), &nonces),
        start(Some(&url), Some(K1), &nonces)
    );
    let metadata: Value =
        reqwest::get(format!("{}/.well-known/oauth-authorization-server", a.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(
        metadata["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    );
    let (id, secret) = a.create_client("dpop").await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    // Without the nonce: use_dpop_nonce, and a DPoP-Nonce to use.
    let (status, nonce, body) = token(&a, &id, &secret, Some(&proof(&key, "p0", None))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = nonce.expect("a DPoP-Nonce header");
    // Replica B accepts A's nonce.
    let bound = proof(&key, "p1", Some(&nonce));
    let (status, _, body) = token(&b, &id, &secret, Some(&bound)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let token_claims = claims(body["access_token"].as_str().unwrap());
    assert_eq!(token_claims["cnf"]["jkt"], key_thumbprint(&key).unwrap());
    // The same proof at replica A: replayed.
    let (status, _, body) = token(&a, &id, &secret, Some(&bound)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    // Without a proof, this client still gets a Bearer token.
    let (status, _, body) = token(&a, &id, &secret, None).await;
    assert_eq!((status, body["token_type"].as_str()), (200, Some("Bearer")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_api_takes_bound_tokens_with_proofs_only() {
    use clientcreds_client::{DpopKey, TokenClient, TokenRequest};
    let proc = start(None, Some(K1), &[("CLIENTCREDS_ISSUER", "{base}")]).await;
    let (id, secret) = proc.create_client("dpop api").await;
    let client = TokenClient::builder(id.clone(), clientcreds_client::ClientSecret::new(secret))
        .token_endpoint(format!("{}/oauth/token", proc.base))
        .danger_allow_insecure_http()
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let source = client.source(TokenRequest::new()).unwrap();
    let api = format!("{}/api/v1/whoami", proc.base);
    let headers = source.authorize(&reqwest::Method::GET, &api).await.unwrap();
    let mut map = reqwest::header::HeaderMap::new();
    headers.apply(&mut map);
    let http = reqwest::Client::new();
    let response = http.get(&api).headers(map.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // The same proof again: replayed.
    let response = http.get(&api).headers(map.clone()).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("DPoP") && challenge.contains("invalid_dpop_proof"),
        "{challenge}"
    );
    // The bound token as Bearer: refused.
    let token = headers.token().expose_secret().to_owned();
    let response = http.get(&api).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 401);
}
