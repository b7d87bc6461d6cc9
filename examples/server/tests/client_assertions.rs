//! Keys instead of secrets against real server processes: a
//! `private_key_jwt` client registered through the admin API gets tokens
//! with `clientcreds-client` and calls the demo API; its keys rotate with
//! overlap; a federated client trades a Kubernetes-style token (re-read
//! from a file, its issuer rotating keys) for tokens; an assertion used on
//! one replica is refused by the other (two processes, one PostgreSQL).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};

use clientcreds_client::{AssertionKey, AssertionSource, TokenClient, TokenRequest};
use clientcreds_jwt::{Algorithm, Jwks, PublicJwk, SigningKey, sign_jws};
use common::process::{ISSUER, K1, Proc, ROOT, fresh_postgres, start};
use serde_json::{Value, json};

fn public(key: &SigningKey) -> PublicJwk {
    key.verifying_key().public_jwk().unwrap().clone()
}

/// A key pair kept as PKCS#8 PEM too, as a caller would store it.
struct TestKey {
    algorithm: Algorithm,
    pem: String,
    key: SigningKey,
}

impl TestKey {
    fn generate(algorithm: Algorithm) -> Self {
        let der = SigningKey::generate_pkcs8(algorithm).unwrap();
        Self {
            algorithm,
            pem: clientcreds_jwt::pkcs8_pem(&der).to_string(),
            key: SigningKey::from_pkcs8_der(algorithm, &der).unwrap(),
        }
    }
}

impl std::ops::Deref for TestKey {
    type Target = SigningKey;
    fn deref(&self) -> &SigningKey {
        &self.key
    }
}

async fn admin(proc: &Proc, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, format!("{}/admin/v1/tenants/acme{path}", proc.base))
        .bearer_auth(ROOT)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn key_client(proc: &Proc, id: &str, key: &TestKey) -> TokenClient {
    TokenClient::builder_with_key(
        id,
        AssertionKey::from_pkcs8_pem(key.algorithm, &key.pem)
            .unwrap()
            .with_audience(ISSUER),
    )
    .token_endpoint(format!("{}/oauth/token", proc.base))
    .danger_allow_insecure_http()
    .build()
    .unwrap()
}

async fn whoami(proc: &Proc, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/whoami", proc.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_key_jwt_client_from_registration_to_api_call_and_key_rotation() {
    let proc = start(None, Some(K1), &[]).await;
    // Metadata announces the method and its algorithms.
    let metadata: Value = reqwest::get(format!(
        "{}/.well-known/oauth-authorization-server",
        proc.base
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        metadata["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("private_key_jwt")),
        "{metadata}"
    );
    assert!(
        metadata["token_endpoint_auth_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("Ed25519"))
    );

    let old = TestKey::generate(Algorithm::EdDSA);
    let (status, body) = admin(
        &proc,
        reqwest::Method::POST,
        "/clients",
        json!({
            "client_name": "keyed",
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [public(&old)]},
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(body.get("client_secret").is_none(), "no secret: {body}");
    assert_eq!(body["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(body["jwks"]["keys"][0]["kid"], old.kid());
    let id = body["client_id"].as_str().unwrap().to_owned();

    let token = key_client(&proc, &id, &old)
        .token(&TokenRequest::new())
        .await
        .unwrap();
    let (status, me) = whoami(&proc, token.expose_secret()).await;
    assert_eq!(status, 200, "{me}");

    // Rotation with overlap: add the new key, both work, remove the old.
    let new = TestKey::generate(Algorithm::ES256);
    let (status, body) = admin(
        &proc,
        reqwest::Method::POST,
        &format!("/clients/{id}/keys"),
        json!({"jwk": public(&new), "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kid"], new.kid());
    assert_eq!(body["keys"].as_array().unwrap().len(), 2);
    key_client(&proc, &id, &old)
        .token(&TokenRequest::new())
        .await
        .unwrap();
    key_client(&proc, &id, &new)
        .token(&TokenRequest::new())
        .await
        .unwrap();
    let (status, body) = admin(
        &proc,
        reqwest::Method::DELETE,
        &format!("/clients/{id}/keys/{}", old.kid()),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let refused = key_client(&proc, &id, &old)
        .token(&TokenRequest::new())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("invalid_client"), "{refused}");
    key_client(&proc, &id, &new)
        .token(&TokenRequest::new())
        .await
        .unwrap();
    // The audit trail has the key changes.
    let (_, audit) = admin(&proc, reqwest::Method::GET, "/audit", Value::Null).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .or_else(|| audit["records"].as_array())
        .or_else(|| audit["items"].as_array())
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        actions.contains(&"add_credential") && actions.contains(&"remove_credential"),
        "{audit}"
    );
    // A secret next to an assertion is invalid_request.
    let claims = json!({"iss": id, "sub": id, "aud": ISSUER, "exp": 4_000_000_000_i64, "jti": "x"});
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", proc.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "nope"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            (
                "client_assertion",
                &sign_jws(&new, "JWT", false, &claims).unwrap(),
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

/// A Kubernetes-style issuer on loopback, serving discovery and a JWKS the
/// test rotates.
async fn external_issuer() -> (String, Arc<Mutex<Vec<PublicJwk>>>) {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys: Arc<Mutex<Vec<PublicJwk>>> = Arc::default();
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/openid/v1/jwks")});
    let served = keys.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let d = discovery.clone();
                async move { axum::Json(d) }
            }),
        )
        .route(
            "/openid/v1/jwks",
            get(move || {
                let keys = served.lock().unwrap().clone();
                async move { axum::Json(Jwks { keys }) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_federated_client_trades_its_projected_token_file_for_tokens() {
    let (issuer, keys) = external_issuer().await;
    let proc = start(
        None,
        Some(K1),
        &[
            ("CLIENTCREDS_FEDERATED_ISSUERS", &issuer),
            ("CLIENTCREDS_DANGER_LOOPBACK_HTTP", "true"),
        ],
    )
    .await;
    let subject = "system:serviceaccount:billing:sync";
    let (status, body) = admin(
        &proc,
        reqwest::Method::POST,
        "/clients",
        json!({
            "client_name": "k8s",
            "token_endpoint_auth_method": "federated_jwt",
            "federated_credentials": [{"issuer": issuer, "subject": subject, "audience": "clientcreds"}],
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    // An issuer off the allow-list is refused.
    let (status, body) = admin(
        &proc,
        reqwest::Method::POST,
        &format!("/clients/{id}/federated-credentials"),
        json!({"issuer": "https://elsewhere.example", "subject": subject, "audience": "clientcreds"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");

    let dir = std::env::temp_dir().join(common::process::unique("cc_sa_token"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    let project = |key: &SigningKey| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let token = sign_jws(
            key,
            "JWT",
            false,
            &json!({"iss": issuer, "sub": subject, "aud": ["clientcreds"], "iat": now, "exp": now + 3600}),
        )
        .unwrap();
        std::fs::write(&file, format!("{token}\n")).unwrap();
    };
    let client = || {
        TokenClient::builder_with_assertion(&id, AssertionSource::file(&file))
            .token_endpoint(format!("{}/oauth/token", proc.base))
            .danger_allow_insecure_http()
            .build()
            .unwrap()
    };
    let first = SigningKey::generate(Algorithm::ES256).unwrap();
    keys.lock().unwrap().push(public(&first));
    project(&first);
    let token = client().token(&TokenRequest::new()).await.unwrap();
    assert_eq!(whoami(&proc, token.expose_secret()).await.0, 200);
    // The issuer rotates; the kubelet projects a new token into the file.
    let second = SigningKey::generate(Algorithm::EdDSA).unwrap();
    *keys.lock().unwrap() = vec![public(&second)];
    project(&second);
    client().token(&TokenRequest::new()).await.unwrap();
    // A token from the old key is now refused.
    project(&first);
    assert!(client().token(&TokenRequest::new()).await.is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assertion_used_on_one_replica_is_refused_by_the_other() {
    let url = fresh_postgres().await;
    let (a, b) = tokio::join!(
        start(Some(&url), Some(K1), &[]),
        start(Some(&url), Some(K1), &[])
    );
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let (status, body) = admin(
        &a,
        reqwest::Method::POST,
        "/clients",
        json!({"client_name": "keyed", "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [public(&key)]}}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let assertion = sign_jws(
        &key,
        "client-authentication+jwt",
        false,
        &json!({"iss": id, "sub": id, "aud": ISSUER, "iat": now, "exp": now + 60, "jti": "once"}),
    )
    .unwrap();
    let post = |proc: &Proc| {
        reqwest::Client::new()
            .post(format!("{}/oauth/token", proc.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    assert_eq!(post(&a).await.unwrap().status(), 200);
    let second = post(&b).await.unwrap();
    assert_eq!(second.status(), 401);
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // The replay store is one table: one row for the one jti.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM clientcreds_replay")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}
