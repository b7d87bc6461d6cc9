//! A real issuer (this reference server) and a resource server
//! (clientcreds-resource's `RemoteKeySet` behind its tower layer, in its
//! own axum app) talking over loopback HTTP: key rotation without a
//! single 401, an unknown-`kid` flood, the JWKS endpoint going down, and
//! an issuer not on the allow-list. JWKS fetches are counted at the
//! issuer by a middleware around its router.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{Algorithm, SigningKey, Validation, VerifyError};
use clientcreds_registry::{Actor, NewClient};
use clientcreds_resource::{
    Access, BearerAuthLayer, Clock, Error, Issuers, RemoteKeySet, ReqwestTransport,
};
use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;
use serde_json::json;
use time::{Duration, OffsetDateTime};

/// The resource server's cache clock, moved by hand (token lifetimes are
/// checked by the system clock, as in production).
#[derive(Debug)]
struct CacheClock(Mutex<OffsetDateTime>);

impl CacheClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for CacheClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The reference server, served with a middleware that counts JWKS
/// requests and can make that endpoint fail.
struct Issuer {
    server: Server,
    url: String,
    audience: String,
    jwks_fetches: Arc<AtomicUsize>,
    jwks_up: Arc<AtomicBool>,
    http: reqwest::Client,
}

async fn issuer() -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = Config::for_addr(listener.local_addr().unwrap());
    // A JWKS max-age of 5 minutes: the resource server refreshes in the
    // background at four fifths of it, which the tests' clock reaches.
    config.key_rotation = config
        .key_rotation
        .clone()
        .with_jwks_max_age(time::Duration::minutes(5));
    let (url, audience) = (config.issuer.clone(), config.audience.clone());
    let server = Server::new(config).await.unwrap();
    let jwks_fetches = Arc::new(AtomicUsize::new(0));
    let jwks_up = Arc::new(AtomicBool::new(true));
    let (fetches, up) = (jwks_fetches.clone(), jwks_up.clone());
    let router = server
        .router()
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let (fetches, up) = (fetches.clone(), up.clone());
            async move {
                if request.uri().path() == "/.well-known/jwks.json" {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    if !up.load(Ordering::SeqCst) {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                }
                next.run(request).await
            }
        }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Issuer {
        server,
        url,
        audience,
        jwks_fetches,
        jwks_up,
        http: reqwest::Client::new(),
    }
}

impl Issuer {
    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// A client of tenant `acme` with scope `read`; its id and secret.
    async fn client(&self) -> (String, String) {
        let issued = self
            .server
            .registry()
            .create(
                &Actor::System,
                &TenantId::new("acme").unwrap(),
                NewClient::named("svc").with_scopes(["read"]),
            )
            .await
            .unwrap();
        (
            issued.credentials.client_id.clone(),
            issued.credentials.client_secret.expose_secret().to_owned(),
        )
    }

    /// A token from the token endpoint, over HTTP.
    async fn token(&self, (id, secret): &(String, String)) -> String {
        let response = self
            .http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth(id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=read")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A resource server's key set for this issuer (RFC 8414 discovery).
    fn remote(&self, clock: &Arc<CacheClock>) -> RemoteKeySet {
        RemoteKeySet::builder(Validation::new(self.url.clone(), self.audience.clone()))
            .clock(clock.clone())
            .build(ReqwestTransport::new())
            .unwrap()
    }

    /// A token from this issuer signed by a key it never had, with `kid`.
    fn forged(&self, key: &SigningKey, kid: &str) -> String {
        let t = OffsetDateTime::now_utc().unix_timestamp();
        let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid });
        let claims = json!({
            "iss": self.url, "aud": self.audience, "sub": "x", "client_id": "x",
            "jti": "j", "tenant": "acme", "iat": t, "exp": t + 600, "scope": "read",
        });
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims.to_string())
        );
        format!(
            "{input}.{}",
            B64URL.encode(key.sign(input.as_bytes()).unwrap())
        )
    }
}

fn cache_clock() -> Arc<CacheClock> {
    Arc::new(CacheClock(Mutex::new(OffsetDateTime::now_utc())))
}

/// The resource server: its own axum app on its own port, protected by
/// the layer over `remote`. Returns its `/whoami` URL.
async fn resource_server(remote: RemoteKeySet) -> String {
    async fn whoami(Access(context): Access) -> String {
        context.client_id
    }
    let app = axum::Router::new()
        .route("/whoami", get(whoami))
        .layer(BearerAuthLayer::new(Arc::new(remote)).require_scope("read"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/whoami", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn call(http: &reqwest::Client, url: &str, token: &str) -> (u16, String) {
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_issuer_rotates_its_key_and_the_resource_server_never_answers_401() {
    let issuer = issuer().await;
    let clock = cache_clock();
    let remote = issuer.remote(&clock);
    let url = resource_server(remote.clone()).await;
    let client = issuer.client().await;
    let http = reqwest::Client::new();

    // A caller hammering the resource server with fresh tokens throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let statuses = Arc::new(Mutex::new(Vec::new()));
    let caller = {
        let (stop, statuses, http, url) =
            (stop.clone(), statuses.clone(), http.clone(), url.clone());
        let issuer_url = issuer.url.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let token_http = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let response = token_http
                    .post(format!("{issuer_url}/oauth/token"))
                    .basic_auth(&client.0, Some(&client.1))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials&scope=read")
                    .send()
                    .await
                    .unwrap();
                let body: serde_json::Value = response.json().await.unwrap();
                let token = body["access_token"].as_str().unwrap().to_owned();
                for _ in 0..3 {
                    let status = call(&http, &url, &token).await.0;
                    statuses.lock().unwrap().push(status);
                }
            }
        })
    };
    let keys = issuer.server.key_set().clone();
    let kid = || keys.signing_key().unwrap().kid().to_owned();
    let served = || statuses.lock().unwrap().len();
    let wait_for_calls = |n: usize| async move {
        let start = served();
        while served() < start + n {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };

    wait_for_calls(10).await;
    assert_eq!(issuer.fetches(), 1);
    let first = kid();

    // Rotation 1, signing at once with the new key: the first token naming
    // it makes the resource server refetch (an unknown kid), once.
    keys.publish_next(SigningKey::generate(Algorithm::EdDSA).unwrap())
        .unwrap();
    keys.promote_next(OffsetDateTime::now_utc(), Duration::hours(1))
        .unwrap();
    assert_ne!(kid(), first);
    wait_for_calls(10).await;
    assert_eq!(issuer.fetches(), 2);

    // Rotation 2, publish before sign: the next key is published, the
    // resource server's scheduled background refresh picks it up, and
    // tokens it signs later are known already (no unknown-kid fetch).
    keys.publish_next(SigningKey::generate(Algorithm::EdDSA).unwrap())
        .unwrap();
    clock.advance(Duration::minutes(4));
    wait_for_calls(5).await;
    for _ in 0..200 {
        if issuer.fetches() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(issuer.fetches(), 3);
    wait_for_calls(5).await;
    keys.promote_next(OffsetDateTime::now_utc(), Duration::hours(1))
        .unwrap();
    wait_for_calls(10).await;
    assert_eq!(
        issuer.fetches(),
        3,
        "the published key was known before it signed"
    );

    stop.store(true, Ordering::SeqCst);
    caller.await.unwrap();
    let statuses = statuses.lock().unwrap().clone();
    assert!(statuses.len() >= 40);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    // And the resource server's answer is the token's client.
    let token = issuer.token(&client).await;
    assert_eq!(call(&http, &url, &token).await, (200, client.0.clone()));
}

#[tokio::test]
async fn an_unknown_kid_flood_costs_the_issuer_one_fetch_per_cooldown() {
    let issuer = issuer().await;
    let clock = cache_clock();
    let remote = issuer.remote(&clock);
    let client = issuer.client().await;
    remote.verify(&issuer.token(&client).await).await.unwrap();
    assert_eq!(issuer.fetches(), 1);

    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    for round in 1..=2 {
        let mut tasks = Vec::new();
        for i in 0..2000 {
            let token = issuer.forged(&stranger, &format!("kid-{round}-{i}-{}", i * 7919 % 1000));
            let remote = remote.clone();
            tasks.push(tokio::spawn(async move { remote.verify(&token).await }));
        }
        for task in tasks {
            assert_eq!(
                task.await.unwrap(),
                Err(Error::Token(VerifyError::UnknownKid))
            );
        }
        assert_eq!(issuer.fetches(), 1 + round, "round {round}");
        clock.advance(Duration::seconds(30));
    }
    // Honest tokens were never disturbed.
    remote.verify(&issuer.token(&client).await).await.unwrap();
}

#[tokio::test]
async fn with_the_jwks_endpoint_down_the_last_set_serves_for_the_bound_then_fails_closed() {
    let issuer = issuer().await;
    let clock = cache_clock();
    let remote = issuer.remote(&clock);
    let url = resource_server(remote.clone()).await;
    let http = reqwest::Client::new();
    let token = issuer.token(&issuer.client().await).await;
    assert_eq!(call(&http, &url, &token).await.0, 200);

    issuer.jwks_up.store(false, Ordering::SeqCst);
    // The lifetime (5 min by default) passes, refreshes fail: still 200.
    clock.advance(Duration::minutes(6));
    assert_eq!(call(&http, &url, &token).await.0, 200);
    clock.advance(Duration::minutes(58));
    assert_eq!(call(&http, &url, &token).await.0, 200);
    assert!(issuer.fetches() >= 2);

    // Past the lifetime plus the one-hour bound: refused, with a clear error.
    clock.advance(Duration::minutes(2));
    let (status, body) = call(&http, &url, &token).await;
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"error":"temporarily_unavailable"}"#)
    );
    let error = remote.verify(&token).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "keys of issuer `{}` are unavailable: fetching `{}/.well-known/jwks.json` failed: status 503",
            issuer.url, issuer.url
        )
    );

    // Back up: after the retry wait, served again.
    issuer.jwks_up.store(true, Ordering::SeqCst);
    clock.advance(Duration::seconds(10));
    assert_eq!(call(&http, &url, &token).await.0, 200);
}

#[tokio::test]
async fn a_token_from_an_issuer_not_on_the_allow_list_is_refused_without_any_fetch() {
    let (listed, unlisted) = (issuer().await, issuer().await);
    let clock = cache_clock();
    let issuers = Issuers::new([listed.remote(&clock)]);
    let foreign = unlisted.token(&unlisted.client().await).await;
    for _ in 0..50 {
        assert_eq!(
            issuers.verify_at(&foreign, OffsetDateTime::now_utc()).await,
            Err(Error::Token(VerifyError::WrongIssuer))
        );
    }
    assert_eq!((listed.fetches(), unlisted.fetches()), (0, 0));

    // The listed issuer's tokens pass through the same allow-list.
    let token = listed.token(&listed.client().await).await;
    let context = issuers
        .verify_at(&token, OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(context.tenant.as_deref(), Some("acme"));
    assert_eq!((listed.fetches(), unlisted.fetches()), (1, 0));
}
