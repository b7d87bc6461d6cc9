//! RFC 9728 protected resource metadata (feature `axum`): the document,
//! its well-known path, its router; and the axum extractor behind the
//! layer with DPoP, inside a nested router (whose prefix the proof's
//! `htu` includes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenVerifier, Validation, sign_jws};
use clientcreds_resource::{
    Access, BearerAuthLayer, DPOP_ALGORITHMS, ProtectedResourceMetadata, Schemes,
};
use http::Request;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";

async fn body_json(response: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn the_router_serves_the_document_at_its_well_known_path() {
    let metadata = ProtectedResourceMetadata::new(API)
        .unwrap()
        .authorization_server(ISSUER)
        .scopes(["orders:read"])
        .dpop(Schemes::DpopOnly, &DPOP_ALGORITHMS)
        .name("Orders");
    let app: Router = metadata.router();
    let response = app
        .oneshot(
            Request::get("/.well-known/oauth-protected-resource")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        body_json(response).await,
        json!({
            "resource": API,
            "authorization_servers": [ISSUER],
            "scopes_supported": ["orders:read"],
            "bearer_methods_supported": ["header"],
            "dpop_signing_alg_values_supported": ["EdDSA", "ES256", "ES384", "PS256", "RS256"],
            "dpop_bound_access_tokens_required": true,
            "resource_name": "Orders",
        })
    );
}

#[tokio::test]
async fn a_resource_with_a_path_has_its_metadata_under_the_well_known_prefix() {
    let metadata = ProtectedResourceMetadata::new("https://api.example.com/v1/")
        .unwrap()
        .dpop(Schemes::BearerOnly, &DPOP_ALGORITHMS);
    assert_eq!(
        metadata.metadata_path(),
        "/.well-known/oauth-protected-resource/v1"
    );
    assert_eq!(
        metadata.metadata_url(),
        "https://api.example.com/.well-known/oauth-protected-resource/v1"
    );
    let json = serde_json::to_value(&metadata).unwrap();
    assert!(json.get("dpop_signing_alg_values_supported").is_none());
    assert_eq!(json["dpop_bound_access_tokens_required"], false);
    let app: Router = metadata.router();
    let response = app
        .oneshot(
            Request::get("/.well-known/oauth-protected-resource/v1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Only https resources (http for loopback), without query or fragment.
    for bad in [
        "http://api.example.com",
        "api.example.com",
        "https://api.example.com/?a=b",
        "https://",
    ] {
        assert!(ProtectedResourceMetadata::new(bad).is_err(), "{bad}");
    }
    ProtectedResourceMetadata::new("http://localhost:8080").unwrap();
}

#[tokio::test]
async fn the_extractor_gets_a_dpop_context_inside_a_nested_router() {
    let der = SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap();
    let signer = SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap();
    let keys = Arc::new(KeySet::new(
        SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap(),
    ));
    let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API)));
    let caller = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let token = sign_jws(
        &signer,
        "at+jwt",
        false,
        &json!({
            "iss": ISSUER, "sub": "c1", "aud": API, "iat": now, "exp": now + 600,
            "jti": "t", "client_id": "c1", "scope": "read", "tenant": "acme",
            "cnf": { "jkt": key_thumbprint(&caller).unwrap() },
        }),
    )
    .unwrap();

    async fn whoami(Access(context): Access) -> Json<String> {
        Json(context.client_id)
    }
    let metadata = ProtectedResourceMetadata::new(API).unwrap();
    let api = Router::new()
        .route("/whoami", get(whoami))
        .layer(BearerAuthLayer::new(verifier).with_resource_metadata(&metadata.metadata_url()));
    let app: Router = Router::new().nest("/v1", api).merge(metadata.router());

    let proof = |url: &str, jti: &str| {
        make_proof(
            &caller,
            &ProofRequest {
                method: "GET",
                url,
                access_token: Some(&token),
                nonce: None,
                now: OffsetDateTime::now_utc(),
                jti,
            },
        )
        .unwrap()
    };
    let call = |proof: String| {
        Request::get("/v1/whoami")
            .header("host", "api.example.com")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .body(Body::empty())
            .unwrap()
    };
    // The proof names the URL the client addressed, prefix included.
    let response = app
        .clone()
        .oneshot(call(proof("https://api.example.com/v1/whoami", "a")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(body_json(response).await, json!("c1"));
    // One for the stripped path is refused.
    let response = app
        .clone()
        .oneshot(call(proof("https://api.example.com/whoami", "b")))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let first = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        first.starts_with("DPoP realm=\"api\", algs=")
            && first.contains("error=\"invalid_dpop_proof\"")
            && first.ends_with(
                "resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource\""
            ),
        "{first}"
    );
    // The metadata route sits outside the layer.
    let response = app
        .oneshot(
            Request::get("/.well-known/oauth-protected-resource")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
