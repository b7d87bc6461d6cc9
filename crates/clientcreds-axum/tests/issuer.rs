//! `Issuer`: an issuer wired from a URL, an audience, a store and master
//! keys, served over loopback HTTP: the admin API creates a client, the
//! token endpoint issues a token the issuer's verifier accepts, and the
//! JWKS is served with the key rotation policy's `max-age` (one setting,
//! not two).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::sync::Arc;

use clientcreds_axum::{BearerTokens, Issuer};
use clientcreds_registry::{Actor, KeyRotationPolicy};
use clientcreds_secret::MasterKeys;
use clientcreds_store::MemoryStore;
use serde_json::{Value, json};
use time::Duration;

const API: &str = "https://api.example.com";

async fn serve(issuer: &Issuer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = issuer
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn max_age(response: &reqwest::Response) -> String {
    response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_issuer_wired_from_four_things_serves_every_route() {
    let policy = KeyRotationPolicy::default()
        .with_jwks_max_age(Duration::minutes(7))
        .with_publish_lead(Duration::hours(1));
    // The issuer URL must be known before the listener: bind first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = Issuer::builder(base.clone(), API)
        .key_rotation(policy)
        .admins(
            BearerTokens::new()
                .unwrap()
                .with("root-token", Actor::platform_admin("root")),
        )
        .build(
            Arc::new(MemoryStore::new()),
            Arc::new(MasterKeys::ephemeral().unwrap()),
        )
        .await
        .unwrap();
    assert!(issuer.key_manager().is_refreshing());
    let app = issuer
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();

    let created: Value = http
        .post(format!("{base}/admin/v1/tenants/acme/clients"))
        .bearer_auth("root-token")
        .json(&json!({ "name": "svc", "scopes": ["read"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();

    let token: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let context = issuer
        .verifier()
        .verify(token["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(context.client_id, id);
    assert_eq!(context.audience, [API]);

    let jwks = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(max_age(&jwks), "public, max-age=420");
    let metadata: Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["token_endpoint"], format!("{base}/oauth/token"));
    // The admin API's signing-key routes are wired to the key manager.
    let keys = http
        .get(format!("{base}/admin/v1/signing-keys"))
        .bearer_auth("root-token")
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), 200);
    issuer.key_manager().shutdown().await;
}

#[tokio::test]
async fn without_admins_no_admin_api_and_defaults_agree_on_the_jwks_max_age() {
    let issuer = Issuer::builder("https://auth.example.com", API)
        .build(
            Arc::new(MemoryStore::new()),
            Arc::new(MasterKeys::ephemeral().unwrap()),
        )
        .await
        .unwrap();
    assert!(issuer.admin().is_none());
    let base = serve(&issuer).await;
    let http = reqwest::Client::new();
    let admin = http
        .get(format!("{base}/admin/v1/tenants/acme/clients"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 404);
    // The default routes announce what the default rotation policy assumes.
    let jwks = http
        .get(format!("{base}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    let assumed = KeyRotationPolicy::default().jwks_max_age.whole_seconds();
    assert_eq!(max_age(&jwks), format!("public, max-age={assumed}"));
}

#[tokio::test]
async fn oauth_routes_alone_serve_the_default_policys_jwks_max_age() {
    use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
    use clientcreds_registry::{Policy, Registry, TokenService};

    let master = MasterKeys::ephemeral().unwrap();
    let registry = Arc::new(
        Registry::new(
            Arc::new(MemoryStore::new()),
            master.secret_hasher().unwrap(),
            Policy::default(),
        )
        .unwrap(),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        registry,
        TokenIssuer::new(keys.clone(), "https://a.test"),
        API,
    );
    let verifier = Arc::new(TokenVerifier::new(
        keys,
        Validation::new("https://a.test", API),
    ));
    let routes = clientcreds_axum::OAuthRoutes::new(tokens, verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = routes.well_known();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let jwks = reqwest::get(format!("{base}/.well-known/jwks.json"))
        .await
        .unwrap();
    let assumed = KeyRotationPolicy::default().jwks_max_age.whole_seconds();
    assert_eq!(max_age(&jwks), format!("public, max-age={assumed}"));
}

#[tokio::test]
async fn a_422_names_the_json_field_the_request_sent() {
    let issuer = Issuer::builder("https://auth.example.com", API)
        .admins(
            BearerTokens::new()
                .unwrap()
                .with("root-token", Actor::platform_admin("root")),
        )
        .build(
            Arc::new(MemoryStore::new()),
            Arc::new(MasterKeys::ephemeral().unwrap()),
        )
        .await
        .unwrap();
    let base = serve(&issuer).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("{base}/admin/v1/tenants/acme/clients"))
        .bearer_auth("root-token")
        .json(&json!({ "name": "svc" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["client_id"].as_str().unwrap();
    // A grace window of about 30 years: past the policy's maximum.
    let response = http
        .post(format!("{base}/admin/v1/tenants/acme/clients/{id}/rotate"))
        .bearer_auth("root-token")
        .json(&json!({ "mode": "secret", "grace_seconds": 1_000_000_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["field"], "grace_seconds", "{body}");
}
