//! Served without the caller's address, the token route cannot throttle:
//! it says so once, in a warning, however many requests arrive; served
//! with `into_make_service_with_connect_info`, it says nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use clientcreds_axum::OAuthRoutes;
use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer, TokenVerifier, Validation};
use clientcreds_registry::{Policy, Registry, TokenService};
use clientcreds_secret::{PepperKey, SecretHasher};
use clientcreds_store::MemoryStore;

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";
const WARNING: &str = "without the caller's address";

/// Log lines written by the test's subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn routes() -> OAuthRoutes {
    let hasher = SecretHasher::hmac_sha256(PepperKey::new("k1", &[9; 32]).unwrap()).unwrap();
    let registry =
        Arc::new(Registry::new(Arc::new(MemoryStore::new()), hasher, Policy::default()).unwrap());
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API);
    OAuthRoutes::new(
        tokens,
        Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API))),
    )
}

/// Three refused token requests against `base`.
async fn three_requests(base: &str) {
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let response = http
            .post(format!("{base}/token"))
            .basic_auth("cc_client_unknown", Some("cc_secret_wrong"))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
}

// One thread: the server's tasks run where the subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn a_token_route_without_the_callers_address_warns_once() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Without connect info: one warning for three requests.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = routes().endpoints();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    three_requests(&base).await;
    let text = captured.text();
    assert_eq!(text.matches(WARNING).count(), 1, "{text}");
    assert!(text.contains("WARN"), "{text}");

    // With connect info: none.
    let quiet = Captured::default();
    let writer = quiet.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = routes()
        .endpoints()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    three_requests(&base).await;
    let text = quiet.text();
    assert_eq!(text.matches(WARNING).count(), 0, "{text}");
}
