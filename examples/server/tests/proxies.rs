//! The reference server behind a proxy (issue 20, medium 1; and the admin
//! tokens' smaller item), over real HTTP: the two lock-out attacks fail
//! with `CLIENTCREDS_TRUSTED_PROXIES` set and without it, and the admin
//! API throttles failed authentications per caller.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;

use clientcreds_axum::TrustedProxies;
use clientcreds_registry::{Actor, NewClient};
use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use reqwest::StatusCode;

const ROOT: &str = "proxies-root-token-0123456789abcdef";
/// The proxy the tests stand in for: the server sees every request from
/// loopback.
const PROXY: &str = "127.0.0.1";
const ATTACKER: &str = "198.51.100.7";
const OWNER: &str = "203.0.113.9";

struct Running {
    base: String,
    http: reqwest::Client,
    server: Server,
}

async fn start(trusted: Option<&str>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    config.root_token = Some(zeroize::Zeroizing::new(ROOT.into()));
    if let Some(list) = trusted {
        config.trusted_proxies = TrustedProxies::parse(list).unwrap();
    }
    let server = Server::new(config).await.unwrap();
    let app = server
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        server,
    }
}

impl Running {
    async fn client(&self) -> (String, String) {
        let issued = self
            .server
            .registry()
            .create(
                &Actor::System,
                &TenantId::new("acme").unwrap(),
                NewClient::named("svc"),
            )
            .await
            .unwrap();
        let c = issued.credentials;
        (c.client_id, c.client_secret.expose_secret().to_owned())
    }

    /// A token request as the proxy forwards it for `caller`.
    async fn token(&self, caller: &str, id: &str, secret: &str) -> StatusCode {
        self.http
            .post(format!("{}/oauth/token", self.base))
            .header("x-forwarded-for", caller)
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn admin(&self, caller: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/admin/v1/tenants/acme/clients", self.base))
            .header("x-forwarded-for", caller)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// Attack 1: ten wrong secrets on a victim's id through the proxy.
#[tokio::test]
async fn wrong_secrets_on_a_victims_id_through_the_proxy_do_not_lock_its_owner_out() {
    // With the proxy trusted: the owner is told apart by its own address,
    // even if it never authenticated before.
    let running = start(Some(PROXY)).await;
    let (id, secret) = running.client().await;
    for _ in 0..10 {
        let status = running.token(ATTACKER, &id, "cc_secret_wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        running.token(ATTACKER, &id, &secret).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(running.token(OWNER, &id, &secret).await, StatusCode::OK);

    // Without the setting, everyone is the proxy: an owner that fetched a
    // token is known-good and is admitted before its pair's limit.
    let running = start(None).await;
    let (id, secret) = running.client().await;
    assert_eq!(running.token(OWNER, &id, &secret).await, StatusCode::OK);
    for _ in 0..10 {
        let status = running.token(ATTACKER, &id, "cc_secret_wrong").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(running.token(OWNER, &id, &secret).await, StatusCode::OK);
}

/// Attack 2: about a hundred junk requests through the proxy.
#[tokio::test]
async fn junk_through_the_proxy_does_not_lock_out_everyone_else() {
    for trusted in [Some(PROXY), None] {
        let running = start(trusted).await;
        let (id, secret) = running.client().await;
        let mut throttled = 0;
        for i in 0..110 {
            let status = running
                .token(ATTACKER, &format!("cc_junk{i}"), "cc_secret_junk")
                .await;
            if status == StatusCode::TOO_MANY_REQUESTS {
                throttled += 1;
            }
        }
        // Trusted: the sprayer's own address is stopped at its limit (100).
        // Untrusted: the proxy is a shared source, not counted per source.
        let expected = if trusted.is_some() { 10 } else { 0 };
        assert_eq!(throttled, expected, "{trusted:?}");
        // Someone else, who never authenticated before, gets in.
        assert_eq!(
            running.token(OWNER, &id, &secret).await,
            StatusCode::OK,
            "{trusted:?}"
        );
    }
}

#[tokio::test]
async fn failed_admin_authentications_are_throttled_per_caller() {
    let running = start(Some(PROXY)).await;
    for i in 0..100 {
        let response = running.admin(ATTACKER, &format!("guess-{i}")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let slowed = running.admin(ATTACKER, ROOT).await;
    assert_eq!(slowed.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = slowed.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after));
    let body: serde_json::Value = slowed.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    // The administrator, elsewhere, is not locked out.
    assert_eq!(running.admin(OWNER, ROOT).await.status(), StatusCode::OK);

    // Through an unconfigured proxy, repeating one wrong token is still
    // slowed (per credential), and the administrator still gets in.
    let running = start(None).await;
    assert_eq!(running.admin(OWNER, ROOT).await.status(), StatusCode::OK);
    for _ in 0..10 {
        let response = running.admin(ATTACKER, "the-same-guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        running.admin(ATTACKER, "the-same-guess").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(running.admin(OWNER, ROOT).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_short_admin_token_stops_the_server_from_starting() {
    let mut config = Config::for_addr("127.0.0.1:0".parse().unwrap());
    config.root_token = Some(zeroize::Zeroizing::new("root".into()));
    let error = Server::new(config).await.err().unwrap().to_string();
    assert!(
        error.contains("CLIENTCREDS_ROOT_TOKEN") && error.contains("at least 32"),
        "{error}"
    );
    let mut config = Config::for_addr("127.0.0.1:0".parse().unwrap());
    config.tenant_admins = vec![(
        TenantId::new("acme").unwrap(),
        zeroize::Zeroizing::new("acme-admin".into()),
    )];
    let error = Server::new(config).await.err().unwrap().to_string();
    assert!(
        error.contains("CLIENTCREDS_TENANT_ADMINS") && !error.contains("acme-admin"),
        "{error}"
    );
}
