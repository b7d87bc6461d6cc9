//! Both routers mounted under non-root prefixes of a host's app, with the
//! host's own admin authentication (a middleware that puts an `Actor`
//! into the request, read by `ActorExtension`), over loopback HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use clientcreds_axum::{ActorExtension, AdminApi, OAuthRoutes};
use clientcreds_http::AuthorizationServerMetadata;
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{Actor, Policy, Registry, TokenService};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::{MemoryStore, TenantId};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ISSUER: &str = "https://auth.example.com/tenant-x";
const API: &str = "https://api.example.com";

/// The host's authentication: a session header it trusts (standing in
/// for cookies or an identity provider) becomes a tenant admin.
async fn host_auth(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get("x-session-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(user) = user {
        request
            .extensions_mut()
            .insert(Actor::tenant_admin(TenantId::new("acme").unwrap(), user));
    }
    next.run(request).await
}

async fn start() -> String {
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[9; 32]).unwrap()).unwrap();
    let registry =
        Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys.clone(), ISSUER),
        API,
    );
    let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API)));
    let mut metadata = AuthorizationServerMetadata::new(ISSUER);
    metadata.token_endpoint = format!("{ISSUER}/auth/token");
    let oauth = OAuthRoutes::new(tokens, verifier)
        .with_metadata(metadata)
        .with_jwks_max_age(time::Duration::seconds(60));
    let admin = AdminApi::new(registry, ActorExtension).with_max_body(1024);
    let app = axum::Router::new()
        .nest("/tenant-x/auth", oauth.router())
        .nest(
            "/tenant-x/console/api",
            admin.router().layer(middleware::from_fn(host_auth)),
        )
        .route("/health", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/tenant-x")
}

#[tokio::test]
async fn routers_work_under_prefixes_with_the_hosts_authentication() {
    let base = start().await;
    let http = reqwest::Client::new();
    let admin = format!("{base}/console/api/tenants/acme/clients");

    // Without the host's session: 401 in the admin API's error shape.
    let response = http.get(&admin).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");

    // With it: create, and the creator is the host's user.
    let response = http
        .post(&admin)
        .header("x-session-user", "alice")
        .json(&json!({ "name": "mounted", "scopes": ["read"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["created_by"], "alice");
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();

    // The admin's tenant is enforced: another tenant is not found.
    let response = http
        .get(format!("{base}/console/api/tenants/globex/clients"))
        .header("x-session-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // The router's own body limit: 413 with the error shape.
    let response = http
        .post(&admin)
        .header("x-session-user", "alice")
        .header("content-type", "application/json")
        .body(format!(r#"{{"name": "{}"}}"#, "x".repeat(2000)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "payload_too_large");

    // The token endpoint under its prefix, and the token introspects.
    let token: Value = http
        .post(format!("{base}/auth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap();
    let introspected: Value = http
        .post(format!("{base}/auth/introspect"))
        .basic_auth(id, Some(secret))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["iss"], ISSUER);
    assert_eq!(introspected["client_id"], id);

    // Metadata as configured, and the JWKS with its cache lifetime.
    let metadata: Value = http
        .get(format!(
            "{base}/auth/.well-known/oauth-authorization-server"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], ISSUER);
    assert_eq!(metadata["token_endpoint"], format!("{ISSUER}/auth/token"));
    let jwks = http
        .get(format!("{base}/auth/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["cache-control"], "public, max-age=60");
    let jwks: Value = jwks.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);

    // The activity counts show the token: per secret, source and minute.
    let counts: Value = http
        .get(format!("{admin}/{id}/activity/counts"))
        .header("x-session-user", "alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["counts"][0]["outcome"], "issued", "{counts}");
    assert_eq!(counts["counts"][0]["count"], 1, "{counts}");
    assert_eq!(counts["counts"][0]["client_id"], id, "{counts}");
    assert!(counts["counts"][0]["secret_id"].is_string(), "{counts}");
    assert_eq!(counts["truncated"], false, "{counts}");
    // No row per token: the individual entries are refusals only.
    let activity: Value = http
        .get(format!("{admin}/{id}/activity"))
        .header("x-session-user", "alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(activity["records"], serde_json::json!([]), "{activity}");
    let bad = http
        .get(format!("{admin}/{id}/activity/counts?since=yesterday"))
        .header("x-session-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Without a key manager or ledger, those routes are not mounted.
    let response = http
        .get(format!("{base}/console/api/signing-keys"))
        .header("x-session-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

/// `OAuthRoutes::endpoints_at`: the same routes as nesting `endpoints()`,
/// merged at their full paths; slashes around the prefix are optional.
#[tokio::test]
async fn endpoints_at_a_prefix_serve_the_token_endpoint() {
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[9; 32]).unwrap()).unwrap();
    let registry =
        Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        registry.clone(),
        TokenIssuer::new(keys.clone(), ISSUER),
        API,
    );
    let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API)));
    let oauth = OAuthRoutes::new(tokens, verifier);
    let issued = registry
        .create(
            &Actor::System,
            &TenantId::new("acme").unwrap(),
            clientcreds_registry::NewClient::named("svc"),
        )
        .await
        .unwrap()
        .credentials;
    let app = axum::Router::new()
        .merge(oauth.endpoints_at("tenant-y/auth/"))
        .merge(oauth.endpoints_at("/other"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    for path in ["tenant-y/auth/token", "other/token"] {
        let response = http
            .post(format!("http://{addr}/{path}"))
            .basic_auth(
                &issued.client_id,
                Some(issued.client_secret.expose_secret()),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
    }
    let response = http
        .post(format!("http://{addr}/tenant-y/auth/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[test]
#[should_panic(expected = "not a literal path prefix")]
fn endpoints_at_refuses_route_syntax_in_the_prefix() {
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[9; 32]).unwrap()).unwrap();
    let registry =
        Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API);
    let verifier = Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API)));
    let _ = OAuthRoutes::new(tokens, verifier).endpoints_at("/{tenant}/auth");
}
