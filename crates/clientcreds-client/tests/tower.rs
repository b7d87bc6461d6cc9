//! `BearerLayer` on hyper-util's tower client against the real reference
//! server.

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

use bytes::Bytes;
use clientcreds_client::{AccessToken, BearerLayer, MemoryCache, TokenCache as _, TokenRequest};
use common::{ManualClock, start};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Layer as _, ServiceExt as _};

#[tokio::test]
async fn the_layer_attaches_tokens_and_retries_a_rejected_one_once() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let cache = Arc::new(MemoryCache::new());
    let tokens = server
        .builder(&id, &secret, ManualClock::new())
        .cache(cache.clone())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new().scope("echo")).unwrap();
    let stale = AccessToken::new(
        "stale.not-a.token",
        SystemTime::now() + Duration::from_secs(3600),
        None,
    );
    cache.put(source.key(), &stale).await.unwrap();

    let hyper = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let api = BearerLayer::new(source.clone()).layer(hyper);

    let post = |path: &str, body: &'static str| {
        http::Request::post(format!("{}{path}", server.base))
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    // Stale token: 401 invalid_token, one retry with a fresh token.
    let response = api
        .clone()
        .oneshot(post("/api/v1/echo", "via tower"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["echo"], "via tower");
    assert_eq!(server.counters.echo_requests.load(Ordering::SeqCst), 2);
    assert_eq!(server.token_requests(), 1);

    // The fresh token is cached and reused.
    let response = api
        .clone()
        .oneshot(post("/api/v1/echo", "again"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.counters.echo_requests.load(Ordering::SeqCst), 3);
    assert_eq!(server.token_requests(), 1);

    // An API that always rejects: two attempts, never three.
    let response = api
        .clone()
        .oneshot(post("/test/always-invalid", ""))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(server.counters.probe_requests.load(Ordering::SeqCst), 2);
    assert_eq!(server.token_requests(), 2);
}
