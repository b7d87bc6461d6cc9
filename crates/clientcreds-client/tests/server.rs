//! The token cache against the real reference server over loopback HTTP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use clientcreds_client::{
    AuthMethod, ClientSecret, Error, OAuthErrorCode, TokenClient, TokenRequest,
};
use common::{ManualClock, claims, start};

async fn whoami(base: &str, token: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .get(format!("{base}/api/v1/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_token_is_fetched_once_and_reused() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let tokens = server
        .builder(&id, &secret, ManualClock::new())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new().scope("echo")).unwrap();
    let first = source.token().await.unwrap();
    for _ in 0..10 {
        assert!(source.token().await.unwrap().same_token(&first));
    }
    // Another source for the same request shares the entry.
    let again = tokens
        .token(&TokenRequest::new().scope("echo"))
        .await
        .unwrap();
    assert!(again.same_token(&first));
    assert_eq!(server.token_requests(), 1);
    assert_eq!(first.scope(), Some("echo"));
    assert_eq!(claims(first.expose_secret())["client_id"], id.as_str());
    assert_eq!(whoami(&server.base, first.expose_secret()).await, 200);
}

#[tokio::test]
async fn refreshed_when_less_than_the_margin_remains_and_the_api_works_across() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let clock = ManualClock::new();
    let tokens = server.builder(&id, &secret, clock.clone()).build().unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let first = source.token().await.unwrap();
    assert_eq!(whoami(&server.base, first.expose_secret()).await, 200);

    // 3600 s tokens, 60 s margin: at 3539 s, 61 s remain: no refresh.
    clock.advance(Duration::from_secs(3539));
    assert!(source.token().await.unwrap().same_token(&first));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.token_requests(), 1);

    // At 3541 s, 59 s remain: the still-valid token is served at once and
    // one background refresh starts.
    clock.advance(Duration::from_secs(2));
    assert!(source.token().await.unwrap().same_token(&first));
    server.await_token_requests(2).await;
    let mut second = source.token().await.unwrap();
    for _ in 0..100 {
        if !second.same_token(&first) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        second = source.token().await.unwrap();
    }
    assert!(!second.same_token(&first));
    assert_eq!(server.token_requests(), 2);
    assert_eq!(whoami(&server.base, second.expose_secret()).await, 200);
    assert_eq!(whoami(&server.base, first.expose_secret()).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_on_an_empty_cache_cause_one_request() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let tokens = server
        .builder(&id, &secret, ManualClock::new())
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new().scope("echo")).unwrap();
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await.unwrap() })
        })
        .collect();
    let mut got = Vec::new();
    for task in tasks {
        got.push(task.await.unwrap());
    }
    assert_eq!(server.token_requests(), 1);
    assert!(got.iter().all(|t| t.same_token(&got[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_inside_the_margin_cause_one_request_and_none_waits() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let clock = ManualClock::new();
    let tokens = server.builder(&id, &secret, clock.clone()).build().unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let first = source.token().await.unwrap();
    clock.advance(Duration::from_secs(3570));
    // Hold the token endpoint: a caller that waited for the refresh would
    // never finish.
    server.gate.send_replace(false);
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await.unwrap() })
        })
        .collect();
    let all = async {
        let mut got = Vec::new();
        for task in tasks {
            got.push(task.await.unwrap());
        }
        got
    };
    let got = tokio::time::timeout(Duration::from_secs(10), all)
        .await
        .expect("a caller waited for the refresh");
    assert!(got.iter().all(|t| t.same_token(&first)));
    server.await_token_requests(1 + 1).await;
    server.gate.send_replace(true);
    let mut fresh = source.token().await.unwrap();
    for _ in 0..200 {
        if !fresh.same_token(&first) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        fresh = source.token().await.unwrap();
    }
    assert!(!fresh.same_token(&first));
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test]
async fn endpoint_down_serves_the_valid_token_then_a_typed_error_then_recovers() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let clock = ManualClock::new();
    let tokens = server
        .builder(&id, &secret, clock.clone())
        .backoff(Duration::from_secs(2), Duration::from_secs(8))
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let first = source.token().await.unwrap();

    server.counters.down.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(3550)); // inside the margin
    assert!(source.token().await.unwrap().same_token(&first));
    server.await_token_requests(2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Backing off (at least 1 s of the 2 s): no request, the valid token.
    for _ in 0..100 {
        assert!(source.token().await.unwrap().same_token(&first));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.token_requests(), 2);
    // After the backoff, the next caller starts one more attempt.
    clock.advance(Duration::from_secs(3));
    assert!(source.token().await.unwrap().same_token(&first));
    server.await_token_requests(3).await;

    // Expired: a typed error with the cause, and no request storm.
    clock.advance(Duration::from_secs(60));
    let mut errors = Vec::new();
    for _ in 0..20 {
        errors.push(source.token().await.unwrap_err());
    }
    for error in &errors {
        let cause = match error {
            Error::BackingOff { cause, .. } => cause.as_ref(),
            other => other,
        };
        assert_eq!(cause, &Error::Status { status: 503 }, "{error}");
    }
    assert!(server.token_requests() <= 4, "{}", server.token_requests());

    // The endpoint returns: after the backoff, a new token.
    server.counters.down.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(9));
    let recovered = source.token().await.unwrap();
    assert!(!recovered.same_token(&first));
    assert_eq!(whoami(&server.base, recovered.expose_secret()).await, 200);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_network_error() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let tokens = TokenClient::builder("id", ClientSecret::new("secret"))
        .token_endpoint(format!("http://{addr}/oauth/token"))
        .build()
        .unwrap();
    let error = tokens.token(&TokenRequest::new()).await.unwrap_err();
    assert!(matches!(error, Error::Network(_)), "{error:?}");
    // The next caller does not retry at once: backing off, same cause.
    let again = tokens.token(&TokenRequest::new()).await.unwrap_err();
    assert!(
        matches!(&again, Error::BackingOff { cause, .. } if matches!(**cause, Error::Network(_))),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_client_fails_fast_without_a_request_storm() {
    let server = start().await;
    let (id, _secret) = server.create_client(&["echo"], &[]).await;
    let clock = ManualClock::new();
    let tokens = server
        .builder(&id, "cc_wrong_secret", clock.clone())
        .negative_cache(Duration::from_secs(30))
        .build()
        .unwrap();
    let source = tokens.source(TokenRequest::new()).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await.unwrap_err() })
        })
        .collect();
    for task in tasks {
        let error = task.await.unwrap();
        assert_eq!(
            error.oauth_code(),
            Some(&OAuthErrorCode::InvalidClient),
            "{error}"
        );
        assert!(error.is_credentials_rejected());
    }
    assert_eq!(server.token_requests(), 1);
    clock.advance(Duration::from_secs(29));
    assert!(source.token().await.unwrap_err().is_credentials_rejected());
    assert_eq!(server.token_requests(), 1);
    // After the negative cache time: one more attempt, not more.
    clock.advance(Duration::from_secs(2));
    for _ in 0..10 {
        assert!(source.token().await.unwrap_err().is_credentials_rejected());
    }
    assert_eq!(server.token_requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_scopes_and_audiences_never_get_each_others_tokens() {
    let server = start().await;
    let audiences = ["https://a.example", "https://b.example"];
    let (id, secret) = server.create_client(&["s1", "s2", "s3"], &audiences).await;
    let clock = ManualClock::new();
    let tokens = server.builder(&id, &secret, clock.clone()).build().unwrap();
    let scope_sets: [&[&str]; 4] = [&["s1"], &["s2"], &["s1", "s2"], &["s3", "s1"]];
    let mut tasks = Vec::new();
    for round in 0..3 {
        for i in 0..48usize {
            let scopes = scope_sets[(i * 7 + round) % 4];
            let audience = audiences[(i / 4 + round) % 2];
            let request = TokenRequest::new()
                .scopes(scopes.iter().copied())
                .audience(audience);
            let tokens = tokens.clone();
            tasks.push(tokio::spawn(async move {
                let token = tokens.token(&request).await.unwrap();
                (request, token)
            }));
        }
        // Move into the margin between rounds so that refreshes interleave.
        clock.advance(Duration::from_secs(1200));
    }
    for task in tasks {
        let (request, token) = task.await.unwrap();
        let claims = claims(token.expose_secret());
        let mut granted: Vec<&str> = claims["scope"].as_str().unwrap().split(' ').collect();
        granted.sort_unstable();
        let asked: Vec<&str> = request.scope_set().collect();
        assert_eq!(granted, asked);
        let aud = &claims["aud"];
        let aud = aud.as_str().or_else(|| aud[0].as_str()).unwrap();
        assert_eq!(Some(aud), request.audience_param());
    }
    // Eight distinct keys; at most a few requests each.
    assert!(server.token_requests() >= 8);
}

#[tokio::test]
async fn discovery_and_body_authentication() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let tokens = TokenClient::builder(id.clone(), ClientSecret::new(secret))
        .issuer(server.base.clone())
        .auth_method(AuthMethod::Body)
        .discover()
        .await
        .unwrap();
    assert_eq!(tokens.token_endpoint(), server.endpoint());
    let token = tokens
        .token(&TokenRequest::new().scope("echo"))
        .await
        .unwrap();
    assert_eq!(whoami(&server.base, token.expose_secret()).await, 200);
    // Neither the Debug of the client nor the token shows a secret.
    let shown = format!("{tokens:?} {token:?}");
    assert!(!shown.contains(token.expose_secret()));
    assert!(shown.contains("[redacted]"));
}

#[tokio::test]
async fn a_plain_http_endpoint_off_loopback_is_refused() {
    let error = TokenClient::builder("id", ClientSecret::new("s"))
        .token_endpoint("http://auth.example/oauth/token")
        .build()
        .unwrap_err();
    assert!(matches!(
        error,
        Error::Config {
            field: "token_endpoint",
            ..
        }
    ));
}

#[tokio::test]
async fn replicas_sharing_a_cache_share_the_token() {
    let server = start().await;
    let (id, secret) = server
        .create_client(&["echo"], &["https://a.example"])
        .await;
    let shared = std::sync::Arc::new(clientcreds_client::MemoryCache::new());
    let clock = ManualClock::new();
    let replica = || {
        server
            .builder(&id, &secret, clock.clone())
            .cache(shared.clone())
            .build()
            .unwrap()
    };
    let (one, two) = (replica(), replica());
    let request = TokenRequest::new()
        .scope("echo")
        .audience("https://a.example");
    let first = one.token(&request).await.unwrap();
    let second = two.token(&request).await.unwrap();
    assert!(second.same_token(&first));
    assert_eq!(server.token_requests(), 1);
    // A different audience is a different entry, even in the shared cache.
    let other = two.token(&TokenRequest::new().scope("echo")).await.unwrap();
    assert!(!other.same_token(&first));
    assert_eq!(server.token_requests(), 2);
    assert_eq!(shared.len(), 2);
}

/// An issuer serving only `OpenID` discovery (as many issuers do), naming
/// itself (with a trailing slash added, if asked) and the reference
/// server's token endpoint.
async fn openid_only(trailing_slash: bool, endpoint: String) -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}/realms/a", listener.local_addr().unwrap());
    let document = serde_json::json!({
        "issuer": if trailing_slash { format!("{issuer}/") } else { issuer.clone() },
        "token_endpoint": endpoint,
    });
    let router = axum::Router::new().route(
        "/realms/a/.well-known/openid-configuration",
        get(move || async move { axum::Json(document) }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    issuer
}

#[tokio::test]
async fn discovery_falls_back_to_openid_and_metadata_failures_say_so() {
    let server = start().await;
    let (id, secret) = server.create_client(&["echo"], &[]).await;
    let issuer = openid_only(false, server.endpoint()).await;
    let tokens = TokenClient::builder(id.clone(), ClientSecret::new(secret.clone()))
        .issuer(issuer.clone())
        .discover()
        .await
        .unwrap();
    assert_eq!(tokens.token_endpoint(), server.endpoint());

    // A document naming the issuer with a trailing slash: exact comparison,
    // explained, and the error is about the metadata.
    let issuer = openid_only(true, server.endpoint()).await;
    let error = TokenClient::builder(id.clone(), ClientSecret::new(secret.clone()))
        .issuer(issuer)
        .discover()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, clientcreds_client::Error::Metadata { url, reason }
            if url.ends_with("/.well-known/openid-configuration") && reason.contains("trailing slash")),
        "{error}"
    );

    // No metadata anywhere: both locations named, and not the token endpoint.
    let error = TokenClient::builder(id, ClientSecret::new(secret))
        .issuer(format!("{}/nothing", server.base))
        .discover()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("metadata") && text.contains("openid-configuration"),
        "{text}"
    );
    assert!(!text.contains("token endpoint"), "{text}");
}
