//! Shared set-up for the resource crate's tests: an issuer minting real
//! tokens, a manual clock, and a transport double that serves a JWKS,
//! counts fetches and can be switched off (the trait is the point).

#![allow(dead_code, unreachable_pub)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clientcreds_jwt::{
    Algorithm, KeySet, SigningKey, TokenClaims, TokenIssuer, TokenVerifier, Validation,
};
use clientcreds_resource::{BoxFuture, Clock, RemoteConfig, RemoteKeySet, Transport};
use http::{Response, Uri};
use time::{Duration, OffsetDateTime};

pub const ISSUER: &str = "https://auth.example.com";
pub const API: &str = "https://api.example.com";
pub const JWKS_URL: &str = "https://auth.example.com/.well-known/jwks.json";
pub const CLIENT_ID: &str = "acme_client_1";
/// The permits of a [`FakeIssuer`]'s gate: acquire them all to hold every
/// response until they are released.
pub const GATE: u32 = 1 << 20;

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Arc<Self> {
        Arc::new(Self(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// An issuer: its key set, minting tokens for `API`.
pub struct Issuer {
    pub keys: Arc<KeySet>,
    pub name: String,
}

impl Issuer {
    pub fn new() -> Self {
        Self::named(ISSUER)
    }

    pub fn named(name: &str) -> Self {
        Self {
            keys: Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap())),
            name: name.to_owned(),
        }
    }

    /// A token for `client_id` with `scopes`, issued at `now`, one hour long.
    pub fn token_at(&self, client_id: &str, scopes: &[&str], now: OffsetDateTime) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        TokenIssuer::new(self.keys.clone(), self.name.clone())
            .mint(&TokenClaims {
                client_id,
                tenant: "acme",
                audience: &[API.to_owned()],
                scopes: &scopes,
                extra: &BTreeMap::<String, String>::new(),
                lifetime: Duration::hours(1),
                now,
                secret_id: None,
            })
            .unwrap()
            .access_token
            .expose()
            .to_owned()
    }

    pub fn token(&self, scopes: &[&str]) -> String {
        self.token_at(CLIENT_ID, scopes, OffsetDateTime::now_utc())
    }

    /// A local verifier of this issuer's tokens for `API`.
    pub fn verifier(&self) -> Arc<TokenVerifier> {
        Arc::new(TokenVerifier::new(
            self.keys.clone(),
            Validation::new(self.name.clone(), API),
        ))
    }

    /// Rotates publish-before-sign: a next key in the JWKS, then signing.
    pub fn rotate(&self, now: OffsetDateTime) {
        self.keys
            .publish_next(SigningKey::generate(Algorithm::EdDSA).unwrap())
            .unwrap();
        self.keys.promote_next(now, Duration::hours(1)).unwrap();
    }
}

/// Serves `keys`' JWKS at any URL, with an optional `Cache-Control`;
/// counts requests; can be switched off (then it fails like a refused
/// connection); can hold responses until released.
#[derive(Debug, Clone)]
pub struct FakeIssuer {
    pub keys: Arc<KeySet>,
    pub fetches: Arc<AtomicUsize>,
    pub up: Arc<AtomicBool>,
    pub cache_control: Arc<Mutex<Option<String>>>,
    pub gate: Arc<tokio::sync::Semaphore>,
    pub urls: Arc<Mutex<Vec<String>>>,
}

impl FakeIssuer {
    pub fn new(keys: Arc<KeySet>) -> Self {
        Self {
            keys,
            fetches: Arc::default(),
            up: Arc::new(AtomicBool::new(true)),
            cache_control: Arc::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(GATE as usize)),
            urls: Arc::default(),
        }
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.cache_control.lock().unwrap() = value.map(str::to_owned);
    }
}

impl Transport for FakeIssuer {
    fn get(
        &self,
        uri: Uri,
    ) -> BoxFuture<'static, Result<Response<Vec<u8>>, Box<dyn StdError + Send + Sync>>> {
        let this = self.clone();
        Box::pin(async move {
            this.fetches.fetch_add(1, Ordering::SeqCst);
            this.urls.lock().unwrap().push(uri.to_string());
            drop(this.gate.acquire().await.unwrap());
            if !this.up.load(Ordering::SeqCst) {
                return Err("connection refused".into());
            }
            let mut response = Response::new(serde_json::to_vec(&this.keys.jwks()).unwrap());
            if let Some(value) = this.cache_control.lock().unwrap().clone() {
                response
                    .headers_mut()
                    .insert("cache-control", value.parse().unwrap());
            }
            Ok(response)
        })
    }
}

/// A remote key set of `issuer` through `transport` (direct JWKS URL).
pub fn remote(
    issuer: &Issuer,
    transport: &FakeIssuer,
    clock: &Arc<ManualClock>,
    config: RemoteConfig,
) -> RemoteKeySet {
    RemoteKeySet::builder(Validation::new(issuer.name.clone(), API))
        .jwks_url(format!("{}/.well-known/jwks.json", issuer.name))
        .config(config)
        .clock(clock.clone())
        .build(transport.clone())
        .unwrap()
}

/// A compact JWS over JSON `header` and `claims`, signed by `key`.
pub fn forge(header: &serde_json::Value, claims: &serde_json::Value, key: &SigningKey) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    let input = format!(
        "{}.{}",
        B64URL.encode(serde_json::to_vec(header).unwrap()),
        B64URL.encode(serde_json::to_vec(claims).unwrap())
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", B64URL.encode(signature))
}

/// An in-process issuer over loopback HTTP: RFC 8414 metadata (at the
/// path RFC 8414 §3.1 gives for `path`), optionally `OpenID` discovery, and
/// the JWKS of `keys`. Returns the issuer URL.
pub async fn serve_issuer(
    keys: Arc<KeySet>,
    path: &str,
    rfc8414: bool,
    openid: bool,
    claimed_issuer: Option<&str>,
) -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let issuer = format!("{base}{path}");
    let metadata = serde_json::json!({
        "issuer": claimed_issuer.unwrap_or(&issuer),
        "jwks_uri": format!("{base}/keys{path}"),
    });
    let mut router = axum::Router::new().route(
        &format!("/keys{}", if path.is_empty() { "" } else { path }),
        get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys.jwks()) }
        }),
    );
    if rfc8414 {
        let metadata = metadata.clone();
        router = router.route(
            &format!("/.well-known/oauth-authorization-server{path}"),
            get(move || async move { axum::Json(metadata) }),
        );
    }
    if openid {
        router = router.route(
            &format!("{path}/.well-known/openid-configuration"),
            get(move || async move { axum::Json(metadata) }),
        );
    }
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    issuer
}
