//! The reference server after the attacker's review (issue 13) and with
//! the token endpoint as product B documents it (issue 16, part 4), over
//! real HTTP: `oauth2` for the token endpoint, `reqwest` for the rest.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;

use clientcreds_registry::{Actor, NewClient};
use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use serde_json::Value;

struct Running {
    base: String,
    http: reqwest::Client,
    server: Server,
}

async fn start(change: impl FnOnce(&mut Config)) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    change(&mut config);
    let server = Server::new(config).await.unwrap();
    // As the binary serves it: with the peer address, for the throttle.
    let app = server
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        server,
    }
}

impl Running {
    async fn client(&self, tenant: &str, scopes: &[&str]) -> (String, String) {
        let issued = self
            .server
            .registry()
            .create(
                &Actor::System,
                &TenantId::new(tenant).unwrap(),
                NewClient::named("svc").with_scopes(scopes.iter().copied()),
            )
            .await
            .unwrap();
        let c = issued.credentials;
        (c.client_id, c.client_secret.expose_secret().to_owned())
    }

    fn oauth(
        &self,
        id: &str,
        secret: &str,
        auth: AuthType,
    ) -> BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>
    {
        BasicClient::new(ClientId::new(id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_token_uri(TokenUrl::new(format!("{}/oauth/token", self.base)).unwrap())
            .set_auth_type(auth)
    }

    async fn token(&self, id: &str, secret: &str) -> String {
        self.oauth(id, secret, AuthType::BasicAuth)
            .exchange_client_credentials()
            .request_async(&self.http)
            .await
            .unwrap()
            .access_token()
            .secret()
            .clone()
    }

    async fn introspect(&self, asking: Option<(&str, &str)>, token: &str) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/oauth/introspect", self.base))
            .form(&[("token", token)]);
        if let Some((id, secret)) = asking {
            request = request.basic_auth(id, Some(secret));
        }
        request.send().await.unwrap()
    }
}

#[tokio::test]
async fn invalid_client_is_401_for_body_and_basic_credentials() {
    let running = start(|_| {}).await;
    let (id, _) = running.client("acme", &["read"]).await;
    for auth in [AuthType::RequestBody, AuthType::BasicAuth] {
        let error = running
            .oauth(&id, "acme_secret_wrong", auth.clone())
            .exchange_client_credentials()
            .request_async(&running.http)
            .await
            .unwrap_err();
        match error {
            RequestTokenError::ServerResponse(e) => {
                assert_eq!(e.error(), &BasicErrorResponseType::InvalidClient);
            }
            other => panic!("{auth:?}: {other:?}"),
        }
    }
    // Body credentials: 401 (product B), with the challenge every 401 has.
    let raw = running
        .http
        .post(format!("{}/oauth/token", running.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id.as_str()),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::UNAUTHORIZED);
    assert!(raw.headers().contains_key("www-authenticate"));
    let body: Value = raw.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn a_required_scope_is_400_invalid_request_when_missing() {
    let running = start(|config| config.require_scope = true).await;
    let (id, secret) = running.client("acme", &["read"]).await;
    let error = running
        .oauth(&id, &secret, AuthType::RequestBody)
        .exchange_client_credentials()
        .request_async(&running.http)
        .await
        .unwrap_err();
    match error {
        RequestTokenError::ServerResponse(e) => {
            assert_eq!(e.error(), &BasicErrorResponseType::InvalidRequest);
        }
        other => panic!("{other:?}"),
    }
    let token = running
        .oauth(&id, &secret, AuthType::RequestBody)
        .exchange_client_credentials()
        .add_scope(Scope::new("read".into()))
        .request_async(&running.http)
        .await
        .unwrap();
    assert_eq!(
        token.scopes().unwrap().first().map(|s| s.as_str()),
        Some("read")
    );
}

#[tokio::test]
async fn introspection_is_authenticated_tenant_bound_and_fresh() {
    let running = start(|_| {}).await;
    let (id, secret) = running.client("acme", &["read"]).await;
    let (peer, peer_secret) = running.client("acme", &[]).await;
    let (foreign, foreign_secret) = running.client("globex", &[]).await;
    let token = running.token(&id, &secret).await;

    let anonymous = running.introspect(None, &token).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );

    let own: Value = running
        .introspect(Some((&peer, &peer_secret)), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["active"], true);
    assert_eq!(own["client_id"], id.as_str());

    let other: Value = running
        .introspect(Some((&foreign, &foreign_secret)), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other, serde_json::json!({ "active": false }));

    running
        .server
        .registry()
        .revoke(&Actor::System, &TenantId::new("acme").unwrap(), &id)
        .await
        .unwrap();
    let revoked: Value = running
        .introspect(Some((&peer, &peer_secret)), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revoked, serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn deleting_a_client_kills_its_tokens_at_the_demo_api() {
    let running = start(|_| {}).await;
    let (id, secret) = running.client("acme", &[]).await;
    let token = running.token(&id, &secret).await;
    running
        .server
        .registry()
        .delete(&Actor::System, &TenantId::new("acme").unwrap(), &id)
        .await
        .unwrap();
    let response = running
        .http
        .get(format!("{}/api/v1/whoami", running.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_slowed_with_429() {
    let running = start(|_| {}).await;
    let (id, secret) = running.client("acme", &[]).await;
    let attempt = |secret: String| {
        let running = &running;
        let id = id.clone();
        async move {
            running
                .http
                .post(format!("{}/oauth/token", running.base))
                .basic_auth(&id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
        }
    };
    // The default limit: 10 failures per (client, address) per window.
    for _ in 0..10 {
        let response = attempt("acme_secret_wrong".into()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let slowed = attempt(secret).await;
    assert_eq!(slowed.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = slowed.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after));
    let body: Value = slowed.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
}
