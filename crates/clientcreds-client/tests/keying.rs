//! Property: however requests for different scopes and audiences
//! interleave (with refreshes, expiry and invalidations between them), each
//! caller gets a token minted for exactly its own scopes and audience.
//!
//! The transport is the point here: it mints distinguishable tokens and
//! remembers what each was minted for.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clientcreds_client::{ClientSecret, TokenClient, TokenRequest, Transport, TransportError};
use common::ManualClock;
use proptest::prelude::*;

/// What a token was minted for: (scope, audience) as sent.
type MintedFor = (Option<String>, Option<String>);

/// Mints `tok-N` tokens living 120 s and records (scope, audience) of each.
#[derive(Debug, Default)]
struct Minting {
    next: AtomicUsize,
    minted: Mutex<HashMap<String, MintedFor>>,
}

fn form_value(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| v.replace('+', " ").replace("%3A", ":").replace("%2F", "/"))
    })
}

#[async_trait::async_trait]
impl Transport for Minting {
    async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        // Yield so that concurrent refreshes really interleave.
        tokio::task::yield_now().await;
        let body = String::from_utf8(request.into_body()).unwrap();
        let token = format!("tok-{}", self.next.fetch_add(1, Ordering::SeqCst));
        self.minted.lock().unwrap().insert(
            token.clone(),
            (form_value(&body, "scope"), form_value(&body, "audience")),
        );
        let json =
            format!(r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":120}}"#);
        Ok(http::Response::new(json.into_bytes()))
    }
}

const SCOPES: [&[&str]; 5] = [&[], &["a"], &["b"], &["a", "b"], &["b", "c"]];
const AUDIENCES: [Option<&str>; 3] = [None, Some("https://x.example"), Some("https://y.example")];

#[derive(Debug, Clone)]
enum Op {
    Ask { scopes: usize, audience: usize },
    Advance(u64),
    Invalidate { scopes: usize, audience: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..SCOPES.len(), 0..AUDIENCES.len()).prop_map(|(scopes, audience)| Op::Ask { scopes, audience }),
        2 => (0u64..90).prop_map(Op::Advance),
        1 => (0..SCOPES.len(), 0..AUDIENCES.len()).prop_map(|(scopes, audience)| Op::Invalidate { scopes, audience }),
    ]
}

fn request(scopes: usize, audience: usize) -> TokenRequest {
    let request = TokenRequest::new().scopes(SCOPES[scopes].iter().copied());
    match AUDIENCES[audience] {
        Some(audience) => request.audience(audience),
        None => request,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_token_is_only_served_to_its_own_scopes_and_audience(ops in proptest::collection::vec(op(), 1..120)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let transport = Arc::new(Minting::default());
            let clock = ManualClock::new();
            let tokens = TokenClient::builder("client-1", ClientSecret::new("s"))
                .token_endpoint("https://as.example/token")
                .transport(transport.clone())
                .clock(clock.clone())
                .refresh_margin(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut tasks = Vec::new();
            for op in ops {
                match op {
                    Op::Ask { scopes, audience } => {
                        let tokens = tokens.clone();
                        tasks.push(tokio::spawn(async move {
                            let token = tokens.token(&request(scopes, audience)).await.unwrap();
                            (scopes, audience, token)
                        }));
                    }
                    Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                    Op::Invalidate { scopes, audience } => {
                        let source = tokens.source(request(scopes, audience)).unwrap();
                        if let Ok(token) = source.token().await {
                            source.invalidate(&token).await;
                        }
                    }
                }
            }
            for task in tasks {
                let (scopes, audience, token) = task.await.unwrap();
                let minted = transport.minted.lock().unwrap()[token.expose_secret()].clone();
                let asked = request(scopes, audience);
                assert_eq!(minted.0, asked.scope_param(), "{token:?}");
                assert_eq!(minted.1.as_deref(), asked.audience_param(), "{token:?}");
            }
        });
    }
}
