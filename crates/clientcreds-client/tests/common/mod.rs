//! The real reference server on loopback, wrapped in a test layer that
//! counts requests, can hold or fail the token endpoint, and adds one probe
//! route that always answers 401 `invalid_token`; and a manual clock.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use clientcreds_client::{ClientSecret, Clock, TokenClient, TokenClientBuilder};
use clientcreds_registry::{Actor, NewClient};
use clientcreds_server::{Config, Server};
use clientcreds_store::TenantId;

/// What the test layer saw and does.
#[derive(Default)]
pub struct Counters {
    pub token_requests: AtomicUsize,
    pub whoami_requests: AtomicUsize,
    pub echo_requests: AtomicUsize,
    pub probe_requests: AtomicUsize,
    /// Token endpoint answers 503 while set.
    pub down: AtomicBool,
}

pub struct Running {
    pub base: String,
    pub server: Server,
    pub counters: Arc<Counters>,
    /// Token requests wait while this is `false`.
    pub gate: tokio::sync::watch::Sender<bool>,
}

pub async fn start() -> Running {
    start_with(|_| {}).await
}

/// [`start`] with the server's configuration changed by `configure`.
pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_addr(addr);
    configure(&mut config);
    let server = Server::new(config).await.unwrap();
    let counters = Arc::new(Counters::default());
    let (gate, _) = tokio::sync::watch::channel(true);
    let layer_counters = counters.clone();
    let layer_gate = gate.clone();
    let app = server
        .router()
        .route("/test/always-invalid", axum::routing::any(always_invalid))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let counters = layer_counters.clone();
            let mut gate = layer_gate.subscribe();
            async move {
                match request.uri().path() {
                    "/oauth/token" => {
                        counters.token_requests.fetch_add(1, Ordering::SeqCst);
                        gate.wait_for(|open| *open).await.unwrap();
                        if counters.down.load(Ordering::SeqCst) {
                            return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                                .into_response();
                        }
                    }
                    "/api/v1/whoami" => {
                        counters.whoami_requests.fetch_add(1, Ordering::SeqCst);
                    }
                    "/api/v1/echo" => {
                        counters.echo_requests.fetch_add(1, Ordering::SeqCst);
                    }
                    "/test/always-invalid" => {
                        counters.probe_requests.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {}
                }
                next.run(request).await
            }
        }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running {
        base: format!("http://{addr}"),
        server,
        counters,
        gate,
    }
}

async fn always_invalid() -> Response {
    (
        axum::http::StatusCode::UNAUTHORIZED,
        [(
            axum::http::header::WWW_AUTHENTICATE,
            r#"Bearer realm="test", error="invalid_token", error_description="never valid""#,
        )],
    )
        .into_response()
}

impl Running {
    pub fn endpoint(&self) -> String {
        format!("{}/oauth/token", self.base)
    }

    pub fn token_requests(&self) -> usize {
        self.counters.token_requests.load(Ordering::SeqCst)
    }

    /// A client of tenant `t` with these scopes and audiences; (id, secret).
    pub async fn create_client(&self, scopes: &[&str], audiences: &[&str]) -> (String, String) {
        let issued = self
            .server
            .registry()
            .create(
                &Actor::System,
                &TenantId::new("t").unwrap(),
                NewClient::named("svc")
                    .with_scopes(scopes.iter().copied())
                    .with_audiences(audiences.iter().copied()),
            )
            .await
            .unwrap();
        (
            issued.credentials.client_id.clone(),
            issued.credentials.client_secret.expose_secret().to_owned(),
        )
    }

    /// A builder for `id`/`secret` at this server with the clock, no jitter.
    pub fn builder(&self, id: &str, secret: &str, clock: Arc<ManualClock>) -> TokenClientBuilder {
        TokenClient::builder(id, ClientSecret::new(secret))
            .token_endpoint(self.endpoint())
            .refresh_jitter(Duration::ZERO)
            .clock(clock)
    }

    /// Waits (bounded) until the server has seen `n` token requests.
    pub async fn await_token_requests(&self, n: usize) {
        for _ in 0..500 {
            if self.token_requests() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} token requests, saw {}", self.token_requests());
    }
}

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(SystemTime::now())))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap()
    }
}

/// The JSON claims of a JWT (no signature check: test inspection only).
pub fn claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}
