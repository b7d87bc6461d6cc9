//! `BearerMiddleware` on reqwest-middleware against the real reference
//! server: the token is attached and reused, and a 401 `invalid_token` is
//! retried once with a fresh token, never twice.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use clientcreds_client::{
    AccessToken, BearerMiddleware, MemoryCache, TokenCache as _, TokenRequest, TokenSource,
};
use common::{ManualClock, Running, start};
use serde_json::Value;

async fn setup(
    server: &Running,
) -> (
    TokenSource,
    Arc<MemoryCache>,
    reqwest_middleware::ClientWithMiddleware,
) {
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let cache = Arc::new(MemoryCache::new());
    let tokens = server
        .builder(&id, &secret, ManualClock::new())
        .cache(cache.clone())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new().scope("echo")).unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(source.clone(), &server.base).unwrap())
        .build();
    (source, cache, http)
}

/// A token that another replica left in the shared cache and that the API
/// no longer accepts.
async fn plant_stale_token(source: &TokenSource, cache: &MemoryCache) -> AccessToken {
    let stale = AccessToken::new(
        "stale.not-a.token",
        SystemTime::now() + Duration::from_secs(3600),
        None,
    );
    cache.put(source.key(), &stale).await.unwrap();
    stale
}

#[tokio::test]
async fn requests_carry_the_cached_token() {
    let server = start().await;
    let (_, _, http) = setup(&server).await;
    for i in 0..3 {
        let echo: Value = http
            .post(format!("{}/api/v1/echo", server.base))
            .body(format!("hello {i}"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(echo["echo"], format!("hello {i}"));
    }
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test]
async fn a_rejected_token_is_replaced_and_the_request_replayed_once() {
    let server = start().await;
    let (source, cache, http) = setup(&server).await;
    let stale = plant_stale_token(&source, &cache).await;
    assert!(source.token().await.unwrap().same_token(&stale));
    assert_eq!(server.token_requests(), 0);

    let response = http
        .post(format!("{}/api/v1/echo", server.base))
        .body("replayed body")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echo: Value = response.json().await.unwrap();
    assert_eq!(echo["echo"], "replayed body");
    assert_eq!(server.counters.echo_requests.load(Ordering::SeqCst), 2);
    assert_eq!(server.token_requests(), 1);
    // The stale token is gone from the shared cache too.
    assert!(
        !cache
            .get(source.key())
            .await
            .unwrap()
            .unwrap()
            .same_token(&stale)
    );
}

#[tokio::test]
async fn an_api_that_always_rejects_gets_one_retry_never_two() {
    let server = start().await;
    let (_, _, http) = setup(&server).await;
    let response = http
        .get(format!("{}/test/always-invalid", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(server.counters.probe_requests.load(Ordering::SeqCst), 2);
    // The first token, then one fresh token for the retry.
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn a_403_is_not_retried() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo", "read"], &[]).await;
    let tokens = server
        .builder(&id, &secret, ManualClock::new())
        .build()
        .unwrap();
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            BearerMiddleware::new(
                tokens.source(TokenRequest::new().scope("read")).unwrap(),
                &server.base,
            )
            .unwrap(),
        )
        .build();
    let response = http
        .post(format!("{}/api/v1/echo", server.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(server.counters.echo_requests.load(Ordering::SeqCst), 1);
    assert_eq!(server.token_requests(), 1);
}

/// Answers with the `Authorization` header it received (or `none`).
async fn header_echo() -> String {
    use axum::routing::get;
    let router = axum::Router::new().route(
        "/",
        get(|headers: axum::http::HeaderMap| async move {
            headers
                .get("authorization")
                .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

#[tokio::test]
async fn the_token_goes_to_the_api_origin_only() {
    let server = start().await;
    let (source, _, http) = setup(&server).await;
    // Another origin (same host, another port): no token, no token request.
    let elsewhere = header_echo().await;
    let seen = http.get(&elsewhere).send().await.unwrap().text().await;
    assert_eq!(seen.unwrap(), "none");
    assert_eq!(server.token_requests(), 0);
    // Added explicitly, it gets one.
    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            BearerMiddleware::new(source, &server.base)
                .unwrap()
                .also_for(&elsewhere)
                .unwrap(),
        )
        .build();
    let seen = http.get(&elsewhere).send().await.unwrap().text().await;
    assert!(seen.unwrap().starts_with("Bearer "));
    // Not a URL of an API: a typed error naming the setting.
    let (source, _, _) = setup(&server).await;
    assert!(matches!(
        BearerMiddleware::new(source, "api.example.com"),
        Err(clientcreds_client::Error::Config { field: "api", .. })
    ));
}
