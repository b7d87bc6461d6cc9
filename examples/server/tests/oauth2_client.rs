//! The reference server over real HTTP, driven by independently written
//! clients: the `oauth2` crate for the token endpoint and `reqwest` for
//! everything else.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ROOT: &str = "root-token-for-tests-0123456789abcdef";
const ACME_ADMIN: &str = "acme-admin-token-0123456789abcdef";

struct Running {
    base: String,
    http: reqwest::Client,
}

async fn start() -> Running {
    start_on(None).await
}

async fn start_on(database_url: Option<String>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.database_url = database_url;
    config.master_keys = Some(std::sync::Arc::new(
        clientcreds_secret::MasterKeys::parse(
            &clientcreds_secret::MasterKeys::generate_entry("test").unwrap(),
        )
        .unwrap(),
    ));
    config.root_token = Some(zeroize::Zeroizing::new(ROOT.into()));
    config.tenant_admins = vec![(
        TenantId::new("acme").unwrap(),
        zeroize::Zeroizing::new(ACME_ADMIN.into()),
    )];
    let server = Server::new(config).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, server.router()).await.unwrap() });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Running {
        base: format!("http://{addr}"),
        http,
    }
}

impl Running {
    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, tenant: &str, body: Value) -> (String, String) {
        let (status, created) = self
            .admin(
                reqwest::Method::POST,
                &format!("/admin/v1/tenants/{tenant}/clients"),
                ROOT,
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        (
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    fn oauth(
        &self,
        id: &str,
        secret: &str,
        auth: AuthType,
    ) -> BasicClient<
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        BasicClient::new(ClientId::new(id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_token_uri(TokenUrl::new(format!("{}/oauth/token", self.base)).unwrap())
            .set_auth_type(auth)
    }
}

#[tokio::test]
async fn oauth2_crate_gets_tokens_with_basic_and_body_credentials_and_calls_the_api() {
    let server = start().await;
    let (id, secret) = server
        .create(
            "acme",
            json!({ "name": "billing", "scopes": ["echo", "read"] }),
        )
        .await;
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let token = server
            .oauth(&id, &secret, auth.clone())
            .exchange_client_credentials()
            .add_scope(Scope::new("echo".into()))
            .request_async(&server.http)
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e:?}"));
        assert_eq!(token.token_type(), &oauth2::basic::BasicTokenType::Bearer);
        assert_eq!(
            token.expires_in(),
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(token.scopes().unwrap()[0].as_str(), "echo");
        assert!(token.refresh_token().is_none());
        let bearer = token.access_token().secret();

        let whoami: Value = server
            .http
            .get(format!("{}/api/v1/whoami", server.base))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            whoami,
            json!({ "tenant": "acme", "client_id": id, "scopes": ["echo"] })
        );
        let echo = server
            .http
            .post(format!("{}/api/v1/echo", server.base))
            .bearer_auth(bearer)
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(echo.status(), StatusCode::OK);
        assert_eq!(echo.json::<Value>().await.unwrap()["echo"], "hello");
    }

    // A token without the `echo` scope: 403 insufficient_scope.
    let read_only = server
        .oauth(&id, &secret, AuthType::BasicAuth)
        .exchange_client_credentials()
        .add_scope(Scope::new("read".into()))
        .request_async(&server.http)
        .await
        .unwrap();
    let denied = server
        .http
        .post(format!("{}/api/v1/echo", server.base))
        .bearer_auth(read_only.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let challenge = denied.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"echo\""),
        "{challenge}"
    );
    // No token, a bad token: 401.
    let none = server
        .http
        .get(format!("{}/api/v1/whoami", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let bad = server
        .http
        .get(format!("{}/api/v1/whoami", server.base))
        .bearer_auth("eyJ.e30.sig")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(
        bad.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn oauth2_crate_sees_rfc_errors() {
    let server = start().await;
    let (id, secret) = server
        .create("acme", json!({ "name": "svc", "scopes": ["read"] }))
        .await;
    let wrong = server
        .oauth(&id, "acme_secret_wrong", AuthType::BasicAuth)
        .exchange_client_credentials()
        .request_async(&server.http)
        .await
        .unwrap_err();
    match wrong {
        RequestTokenError::ServerResponse(error) => {
            assert_eq!(error.error(), &BasicErrorResponseType::InvalidClient);
        }
        other => panic!("{other:?}"),
    }
    let scope = server
        .oauth(&id, &secret, AuthType::RequestBody)
        .exchange_client_credentials()
        .add_scope(Scope::new("admin".into()))
        .request_async(&server.http)
        .await
        .unwrap_err();
    match scope {
        RequestTokenError::ServerResponse(error) => {
            assert_eq!(error.error(), &BasicErrorResponseType::InvalidScope);
        }
        other => panic!("{other:?}"),
    }
    // Basic failures carry the Basic challenge; the response is never cached.
    let raw = server
        .http
        .post(format!("{}/oauth/token", server.base))
        .basic_auth(&id, Some("nope"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::UNAUTHORIZED);
    assert!(
        raw.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    assert_eq!(raw.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn discovery_jwks_and_introspection() {
    let server = start().await;
    let metadata: Value = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], server.base);
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/oauth/token", server.base)
    );
    let jwks: Value = server
        .http
        .get(metadata["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert!(jwks["keys"][0].get("d").is_none());

    let (id, secret) = server
        .create("acme", json!({ "name": "svc", "scopes": ["read"] }))
        .await;
    let token = server
        .oauth(&id, &secret, AuthType::BasicAuth)
        .exchange_client_credentials()
        .request_async(&server.http)
        .await
        .unwrap();
    let introspect = |token: String| {
        let (server, id, secret) = (&server, id.clone(), secret.clone());
        async move {
            server
                .http
                .post(format!("{}/oauth/introspect", server.base))
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let active = introspect(token.access_token().secret().clone()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], id);
    assert_eq!(active["tenant"], "acme");
    assert_eq!(
        introspect("not-a-token".into()).await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn admin_api_statuses() {
    use reqwest::Method;
    let server = start().await;
    let (id, secret) = server.create("acme", json!({ "name": "svc", "scopes": ["read"], "owner": "user-1", "secret_ttl_seconds": 86400 })).await;
    let path = format!("/admin/v1/tenants/acme/clients/{id}");

    // The client view never holds a secret or a hash.
    let (status, view) = server.admin(Method::GET, &path, ACME_ADMIN, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = view.to_string();
    assert!(
        !text.contains(&secret[12..]) && !text.contains("hmac-sha256"),
        "{text}"
    );
    assert_eq!(
        view["secrets"][0]["display_prefix"].as_str().unwrap().len(),
        "cc_secret_".len() + 8
    );

    // An access token, or an unknown token, is not an admin: 401.
    let token = server
        .oauth(&id, &secret, AuthType::BasicAuth)
        .exchange_client_credentials()
        .request_async(&server.http)
        .await
        .unwrap();
    assert_eq!(
        server
            .admin(Method::GET, &path, token.access_token().secret(), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.admin(Method::GET, &path, "guess", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Another tenant's client is invisible to acme's admin, and a client is
    // only reachable under its own tenant.
    let (other, _) = server.create("globex", json!({ "name": "theirs" })).await;
    assert_eq!(
        server
            .admin(
                Method::GET,
                &format!("/admin/v1/tenants/globex/clients/{other}"),
                ACME_ADMIN,
                None
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .admin(
                Method::GET,
                &format!("/admin/v1/tenants/acme/clients/{other}"),
                ACME_ADMIN,
                None
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .admin(
                Method::GET,
                &format!("/admin/v1/tenants/acme/clients/{other}"),
                ROOT,
                None
            )
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // List, search, filter.
    let (status, list) = server
        .admin(
            Method::GET,
            "/admin/v1/tenants/acme/clients?q=SV&status=active&limit=10",
            ACME_ADMIN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["clients"].as_array().unwrap().len(), 1);
    assert!(list["next_cursor"].is_null());
    assert_eq!(
        server
            .admin(
                Method::GET,
                "/admin/v1/tenants/acme/clients?status=bogus",
                ACME_ADMIN,
                None
            )
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    // Validation: 422 naming the field; malformed JSON: 400; too large: 413.
    let (status, body) = server
        .admin(
            Method::POST,
            "/admin/v1/tenants/acme/clients",
            ACME_ADMIN,
            Some(json!({ "name": "" })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("name"))
    );
    let (status, body) = server
        .admin(
            Method::PATCH,
            &path,
            ACME_ADMIN,
            Some(json!({ "status": "revoked" })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
    let raw = server
        .http
        .post(format!("{}/admin/v1/tenants/acme/clients", server.base))
        .bearer_auth(ACME_ADMIN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    let huge = server
        .http
        .post(format!("{}/admin/v1/tenants/acme/clients", server.base))
        .bearer_auth(ACME_ADMIN)
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // PATCH, rotate (both modes), end-grace, revoke, and 409 after revoke.
    let (status, patched) = server
        .admin(
            Method::PATCH,
            &path,
            ACME_ADMIN,
            Some(json!({ "name": "svc-2", "status": "inactive" })),
        )
        .await;
    assert_eq!(
        (status, patched["name"].as_str(), patched["status"].as_str()),
        (StatusCode::OK, Some("svc-2"), Some("inactive"))
    );
    server
        .admin(
            Method::PATCH,
            &path,
            ACME_ADMIN,
            Some(json!({ "status": "active" })),
        )
        .await;
    let (status, rotated) = server
        .admin(
            Method::POST,
            &format!("{path}/rotate"),
            ACME_ADMIN,
            Some(json!({ "mode": "secret", "grace_seconds": 3600 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rotated["client_id"], id);
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert!(
        server
            .oauth(&id, &secret, AuthType::BasicAuth)
            .exchange_client_credentials()
            .request_async(&server.http)
            .await
            .is_ok(),
        "old works in grace"
    );
    assert_eq!(
        server
            .admin(Method::POST, &format!("{path}/end-grace"), ACME_ADMIN, None)
            .await
            .0,
        StatusCode::OK
    );
    assert!(
        server
            .oauth(&id, &secret, AuthType::BasicAuth)
            .exchange_client_credentials()
            .request_async(&server.http)
            .await
            .is_err(),
        "old dies"
    );
    assert!(
        server
            .oauth(&id, &new_secret, AuthType::BasicAuth)
            .exchange_client_credentials()
            .request_async(&server.http)
            .await
            .is_ok()
    );
    let (status, replaced) = server
        .admin(
            Method::POST,
            &format!("{path}/rotate"),
            ACME_ADMIN,
            Some(json!({ "mode": "client" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(replaced["client_id"], id);
    assert_eq!(
        server
            .admin(Method::POST, &format!("{path}/revoke"), ACME_ADMIN, None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .admin(
                Method::PATCH,
                &path,
                ACME_ADMIN,
                Some(json!({ "status": "active" }))
            )
            .await
            .0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        server
            .admin(Method::POST, &format!("{path}/rotate"), ACME_ADMIN, None)
            .await
            .0,
        StatusCode::CONFLICT
    );

    // Audit, then delete.
    let (status, audit) = server
        .admin(
            Method::GET,
            "/admin/v1/tenants/acme/audit",
            ACME_ADMIN,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(audit["records"].as_array().unwrap().len() >= 6);
    assert!(!audit.to_string().contains(&new_secret[12..]));
    assert_eq!(
        server
            .admin(Method::DELETE, &path, ACME_ADMIN, None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        server.admin(Method::GET, &path, ACME_ADMIN, None).await.0,
        StatusCode::NOT_FOUND
    );
}

/// `DATABASE_URL` (PostgreSQL, started by scripts/with-postgres.sh) and a
/// SQLite file: the same flow as in memory, migrations run at start.
#[tokio::test]
async fn runs_on_postgres_and_sqlite() {
    let postgres = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run through scripts/test.sh or scripts/with-postgres.sh");
    let sqlite = format!(
        "sqlite://{}",
        std::env::temp_dir()
            .join(format!("clientcreds-server-{}.db", std::process::id()))
            .display()
    );
    for url in [postgres, sqlite] {
        let server = start_on(Some(url.clone())).await;
        let (id, secret) = server
            .create("acme", json!({ "name": "db-backed", "scopes": ["echo"] }))
            .await;
        let token = server
            .oauth(&id, &secret, AuthType::BasicAuth)
            .exchange_client_credentials()
            .add_scope(Scope::new("echo".into()))
            .request_async(&server.http)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e:?}"));
        let whoami: Value = server
            .http
            .get(format!("{}/api/v1/whoami", server.base))
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(whoami["client_id"], id, "{url}");
        let (status, _) = server
            .admin(
                reqwest::Method::POST,
                &format!("/admin/v1/tenants/acme/clients/{id}/revoke"),
                ROOT,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{url}");
    }
}
