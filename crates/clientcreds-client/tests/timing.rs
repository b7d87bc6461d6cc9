//! The time rules on a manual clock, with a transport that counts requests
//! and answers with a chosen lifetime: half-life refresh for short tokens,
//! jitter bounds, the default lifetime, and backoff doubling.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use clientcreds_client::{
    ClientSecret, Error, TokenClient, TokenRequest, TokenSource, Transport, TransportError,
};
use common::ManualClock;

#[derive(Debug)]
struct Counting {
    sent: AtomicUsize,
    /// `expires_in` of the answers; `None` leaves it out.
    expires_in: Option<u64>,
    fail: AtomicBool,
}

#[async_trait::async_trait]
impl Transport for Counting {
    async fn send(
        &self,
        _request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let n = self.sent.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(TransportError::new("connection refused"));
        }
        let expires = self
            .expires_in
            .map(|s| format!(r#","expires_in":{s}"#))
            .unwrap_or_default();
        let body = format!(r#"{{"access_token":"t{n}","token_type":"Bearer"{expires}}}"#);
        Ok(http::Response::new(body.into_bytes()))
    }
}

fn setup(
    expires_in: Option<u64>,
    configure: impl FnOnce(
        clientcreds_client::TokenClientBuilder,
    ) -> clientcreds_client::TokenClientBuilder,
) -> (Arc<Counting>, Arc<ManualClock>, TokenSource) {
    let transport = Arc::new(Counting {
        sent: AtomicUsize::new(0),
        expires_in,
        fail: AtomicBool::new(false),
    });
    let clock = ManualClock::new();
    let builder = TokenClient::builder("id", ClientSecret::new("secret"))
        .token_endpoint("https://as.example/token")
        .transport(transport.clone())
        .clock(clock.clone());
    let source = configure(builder)
        .build()
        .unwrap()
        .source(TokenRequest::new())
        .unwrap();
    (transport, clock, source)
}

/// Calls `token()` and lets a background refresh run to its end.
async fn token_settled(source: &TokenSource) -> String {
    let token = source.token().await.unwrap();
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    token.expose_secret().to_owned()
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_at_half_life() {
    // 60 s tokens with a 60 s margin would otherwise be refreshed on every call.
    let (transport, clock, source) = setup(Some(60), |b| b.refresh_jitter(Duration::ZERO));
    assert_eq!(token_settled(&source).await, "t0");
    clock.advance(Duration::from_secs(29));
    assert_eq!(token_settled(&source).await, "t0");
    assert_eq!(transport.sent.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(2));
    assert_eq!(token_settled(&source).await, "t0"); // still valid: served, refresh starts
    assert_eq!(token_settled(&source).await, "t1");
    assert_eq!(transport.sent.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn jitter_refreshes_between_margin_and_margin_plus_jitter() {
    for _ in 0..20 {
        let (transport, clock, source) = setup(Some(3600), |b| {
            b.refresh_margin(Duration::from_secs(60))
                .refresh_jitter(Duration::from_secs(30))
        });
        token_settled(&source).await;
        // More than margin + jitter left: never refreshed.
        clock.advance(Duration::from_secs(3600 - 91));
        token_settled(&source).await;
        assert_eq!(transport.sent.load(Ordering::SeqCst), 1);
        // Less than the margin left: always refreshed.
        clock.advance(Duration::from_secs(32));
        token_settled(&source).await;
        assert_eq!(transport.sent.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn without_expires_in_the_default_lifetime_applies() {
    let (transport, clock, source) = setup(None, |b| {
        b.default_lifetime(Duration::from_secs(120))
            .refresh_margin(Duration::from_secs(10))
            .refresh_jitter(Duration::ZERO)
    });
    let token = source.token().await.unwrap();
    assert_eq!(
        token
            .expires_at()
            .duration_since(clock_now(&clock))
            .unwrap(),
        Duration::from_secs(120)
    );
    clock.advance(Duration::from_secs(111));
    token_settled(&source).await;
    assert_eq!(transport.sent.load(Ordering::SeqCst), 2);
}

fn clock_now(clock: &ManualClock) -> std::time::SystemTime {
    use clientcreds_client::Clock as _;
    clock.now()
}

#[tokio::test]
async fn backoff_doubles_up_to_the_maximum_and_resets_on_success() {
    let (transport, clock, source) = setup(Some(3600), |b| {
        b.backoff(Duration::from_secs(4), Duration::from_secs(16))
    });
    transport.fail.store(true, Ordering::SeqCst);
    let sent = || transport.sent.load(Ordering::SeqCst);
    assert!(matches!(source.token().await, Err(Error::Network(_))));
    // Delays are between half and all of 4, 8, 16, 16 s.
    for (attempt, full) in [4u64, 8, 16, 16].into_iter().enumerate() {
        let before = sent();
        assert_eq!(before, attempt + 1);
        clock.advance(Duration::from_secs(full / 2) - Duration::from_millis(1));
        let error = source.token().await.unwrap_err();
        assert!(matches!(error, Error::BackingOff { .. }), "{error}");
        assert_eq!(sent(), before, "retried before half the delay");
        clock.advance(Duration::from_secs(full / 2) + Duration::from_millis(2));
        assert!(matches!(source.token().await, Err(Error::Network(_))));
        assert_eq!(sent(), before + 1, "not retried after the full delay");
    }
    transport.fail.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(17));
    source.token().await.unwrap();
    // A later failure starts again from the initial delay.
    transport.fail.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(3600));
    assert!(matches!(source.token().await, Err(Error::Network(_))));
    clock.advance(Duration::from_secs(4) + Duration::from_millis(1));
    assert!(matches!(source.token().await, Err(Error::Network(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_rejections_of_one_token_causes_one_refresh() {
    let (transport, _clock, source) = setup(Some(3600), |b| b);
    let sent = || transport.sent.load(Ordering::SeqCst);
    let first = source.token().await.unwrap();
    // 50 requests rejected with the same token, all at once.
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (source, first) = (source.clone(), first.clone());
            tokio::spawn(async move {
                source.invalidate(&first).await;
                source.token().await.unwrap()
            })
        })
        .collect();
    let mut fresh = Vec::new();
    for task in tasks {
        fresh.push(task.await.unwrap());
    }
    assert_eq!(sent(), 2);
    assert!(fresh.iter().all(|t| t.expose_secret() == "t1"));
    // A late rejection of the old token leaves the new one alone.
    source.invalidate(&first).await;
    assert_eq!(source.token().await.unwrap().expose_secret(), "t1");
    assert_eq!(sent(), 2);
}
