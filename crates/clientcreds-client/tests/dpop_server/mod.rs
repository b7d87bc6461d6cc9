//! A small DPoP authorization server and API on loopback for the DPoP
//! tests: the token endpoint and every other path check the `DPoP` proof
//! with `clientcreds_jwt::dpop::check_proof` (the code the real issuer
//! and resource server use), record what they saw, bind tokens to the
//! proof's key, and ask for nonces when told to.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use clientcreds_client::jwt::dpop::{CheckedProof, DPOP_ALGORITHMS, ProofCheck, check_proof};
use clientcreds_client::jwt::time::{Duration, OffsetDateTime};

/// How a server treats nonces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Nonces {
    /// None asked for.
    #[default]
    Off,
    /// This nonce is required (and sent on every response).
    Fixed(String),
    /// Every proof is refused with a new nonce: a server that never
    /// accepts.
    Rotating,
}

/// One proof a server checked.
#[derive(Debug, Clone)]
pub struct SeenProof {
    pub method: String,
    pub url: String,
    pub checked: CheckedProof,
}

#[derive(Default)]
pub struct State0 {
    pub base: Mutex<String>,
    pub token_nonces: Mutex<Nonces>,
    pub api_nonces: Mutex<Nonces>,
    /// A `DPoP-Nonce` added to every successful API response.
    pub api_fresh_nonce: Mutex<Option<String>>,
    /// Overrides the `token_type` answered.
    pub token_type: Mutex<Option<&'static str>>,
    /// Tokens the API refuses with `DPoP error="invalid_token"`.
    pub revoked: Mutex<Vec<String>>,
    pub token_requests: AtomicUsize,
    pub api_requests: AtomicUsize,
    pub token_proofs: Mutex<Vec<SeenProof>>,
    pub api_proofs: Mutex<Vec<SeenProof>>,
    /// `Authorization` headers the API received.
    pub api_authorization: Mutex<Vec<String>>,
    /// Checks that failed (a correct client causes none).
    pub failures: Mutex<Vec<String>>,
    /// Token -> the key it is bound to; shared by servers started with
    /// [`start_api_for`].
    bound: Arc<Mutex<HashMap<String, Option<String>>>>,
    next: AtomicUsize,
    nonce_counter: AtomicUsize,
}

pub struct DpopServer {
    pub base: String,
    pub state: Arc<State0>,
}

impl DpopServer {
    pub fn endpoint(&self) -> String {
        format!("{}/oauth/token", self.base)
    }
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }
    pub fn api_requests(&self) -> usize {
        self.state.api_requests.load(Ordering::SeqCst)
    }
    pub fn token_proofs(&self) -> Vec<SeenProof> {
        self.state.token_proofs.lock().unwrap().clone()
    }
    pub fn api_proofs(&self) -> Vec<SeenProof> {
        self.state.api_proofs.lock().unwrap().clone()
    }
    pub fn api_authorization(&self) -> Vec<String> {
        self.state.api_authorization.lock().unwrap().clone()
    }
    pub fn failures(&self) -> Vec<String> {
        self.state.failures.lock().unwrap().clone()
    }
    pub fn token_nonces(&self, nonces: Nonces) {
        *self.state.token_nonces.lock().unwrap() = nonces;
    }
    pub fn api_nonces(&self, nonces: Nonces) {
        *self.state.api_nonces.lock().unwrap() = nonces;
    }
    pub fn answer_token_type(&self, token_type: &'static str) {
        *self.state.token_type.lock().unwrap() = Some(token_type);
    }
    pub fn revoke(&self, token: &str) {
        self.state.revoked.lock().unwrap().push(token.to_owned());
    }
}

pub async fn start() -> DpopServer {
    serve(State0::default()).await
}

/// Another origin whose API accepts the tokens `issuer` binds.
pub async fn start_api_for(issuer: &DpopServer) -> DpopServer {
    serve(State0 {
        bound: issuer.state.bound.clone(),
        ..State0::default()
    })
    .await
}

async fn serve(state: State0) -> DpopServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(state);
    base.clone_into(&mut state.base.lock().unwrap());
    let app = Router::new()
        .route("/oauth/token", post(token))
        .fallback(any(api))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    DpopServer { base, state }
}

fn check(
    proof: &str,
    method: &str,
    url: &str,
    token: Option<&str>,
) -> Result<CheckedProof, String> {
    check_proof(
        proof,
        &ProofCheck {
            method,
            url,
            access_token: token,
            algorithms: &DPOP_ALGORITHMS,
            max_age: Duration::seconds(60),
            leeway: Duration::seconds(5),
            now: OffsetDateTime::now_utc(),
        },
    )
    .map_err(|error| format!("{method} {url}: {error}"))
}

/// The nonce check: `Ok` to go on, or the nonce to demand.
fn nonce_check(
    nonces: &Mutex<Nonces>,
    counter: &AtomicUsize,
    sent: Option<&str>,
) -> Result<(), String> {
    match &*nonces.lock().unwrap() {
        Nonces::Off => Ok(()),
        Nonces::Fixed(nonce) if sent == Some(nonce.as_str()) => Ok(()),
        Nonces::Fixed(nonce) => Err(nonce.clone()),
        Nonces::Rotating => Err(format!("r-{}", counter.fetch_add(1, Ordering::SeqCst))),
    }
}

fn fixed_nonce(nonces: &Mutex<Nonces>) -> Option<String> {
    match &*nonces.lock().unwrap() {
        Nonces::Fixed(nonce) => Some(nonce.clone()),
        _ => None,
    }
}

async fn token(State(state): State<Arc<State0>>, headers: HeaderMap) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let url = format!("{}/oauth/token", state.base.lock().unwrap());
    let mut jkt = None;
    if let Some(proof) = headers.get("dpop") {
        match check(proof.to_str().unwrap(), "POST", &url, None) {
            Ok(checked) => {
                if let Err(nonce) = nonce_check(
                    &state.token_nonces,
                    &state.nonce_counter,
                    checked.nonce.as_deref(),
                ) {
                    state.token_proofs.lock().unwrap().push(SeenProof {
                        method: "POST".into(),
                        url,
                        checked,
                    });
                    let mut response = (
                        StatusCode::BAD_REQUEST,
                        Json(serde_json::json!({"error": "use_dpop_nonce"})),
                    )
                        .into_response();
                    response
                        .headers_mut()
                        .insert("dpop-nonce", HeaderValue::from_str(&nonce).unwrap());
                    return response;
                }
                jkt = Some(checked.jkt.clone());
                state.token_proofs.lock().unwrap().push(SeenProof {
                    method: "POST".into(),
                    url,
                    checked,
                });
            }
            Err(failure) => {
                state.failures.lock().unwrap().push(failure);
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({"error": "invalid_dpop_proof"})),
                )
                    .into_response();
            }
        }
    }
    let n = state.next.fetch_add(1, Ordering::SeqCst);
    let access_token = format!("tok-{n}");
    let token_type = state
        .token_type
        .lock()
        .unwrap()
        .unwrap_or(if jkt.is_some() { "DPoP" } else { "Bearer" });
    // A server that answers Bearer ignored the proof: nothing is bound.
    let jkt = jkt.filter(|_| token_type == "DPoP");
    state
        .bound
        .lock()
        .unwrap()
        .insert(access_token.clone(), jkt);
    let mut response = Json(serde_json::json!({
        "access_token": access_token,
        "token_type": token_type,
        "expires_in": 3600,
    }))
    .into_response();
    if let Some(nonce) = fixed_nonce(&state.token_nonces) {
        response
            .headers_mut()
            .insert("dpop-nonce", HeaderValue::from_str(&nonce).unwrap());
    }
    response
}

fn challenge(error: &str, nonce: Option<&str>) -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_str(&format!(
            r#"DPoP algs="EdDSA ES256", error="{error}", Bearer realm="api""#
        ))
        .unwrap(),
    );
    if let Some(nonce) = nonce {
        response
            .headers_mut()
            .insert("dpop-nonce", HeaderValue::from_str(nonce).unwrap());
    }
    response
}

async fn api(State(state): State<Arc<State0>>, request: Request) -> Response {
    state.api_requests.fetch_add(1, Ordering::SeqCst);
    let method: Method = request.method().clone();
    let url = format!("{}{}", state.base.lock().unwrap(), request.uri());
    let headers = request.headers().clone();
    let body: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap();
    let authorization = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    state
        .api_authorization
        .lock()
        .unwrap()
        .push(authorization.clone());
    if let Some(token) = authorization.strip_prefix("DPoP ") {
        let Some(proof) = headers.get("dpop") else {
            state
                .failures
                .lock()
                .unwrap()
                .push("DPoP token without a proof".into());
            return challenge("invalid_dpop_proof", None);
        };
        let checked = match check(proof.to_str().unwrap(), method.as_str(), &url, Some(token)) {
            Ok(checked) => checked,
            Err(failure) => {
                state.failures.lock().unwrap().push(failure);
                return challenge("invalid_dpop_proof", None);
            }
        };
        let bound = state.bound.lock().unwrap().get(token).cloned().flatten();
        if bound.as_deref() != Some(checked.jkt.as_str()) {
            state
                .failures
                .lock()
                .unwrap()
                .push(format!("{token}: proof key is not the bound key"));
            return challenge("invalid_token", None);
        }
        let nonce = checked.nonce.clone();
        state.api_proofs.lock().unwrap().push(SeenProof {
            method: method.to_string(),
            url,
            checked,
        });
        if let Err(nonce) = nonce_check(&state.api_nonces, &state.nonce_counter, nonce.as_deref()) {
            return challenge("use_dpop_nonce", Some(&nonce));
        }
        if state.revoked.lock().unwrap().iter().any(|t| t == token) {
            return challenge("invalid_token", None);
        }
    } else if let Some(token) = authorization.strip_prefix("Bearer ") {
        if headers.contains_key("dpop") {
            state
                .failures
                .lock()
                .unwrap()
                .push("a DPoP proof with a Bearer token".into());
        }
        if state
            .bound
            .lock()
            .unwrap()
            .get(token)
            .cloned()
            .flatten()
            .is_some()
        {
            state
                .failures
                .lock()
                .unwrap()
                .push(format!("{token}: bound token sent as Bearer"));
            return challenge("invalid_token", None);
        }
    } else {
        return challenge("invalid_request", None);
    }
    let mut response = (StatusCode::OK, body).into_response();
    if let Some(nonce) = state.api_fresh_nonce.lock().unwrap().clone() {
        response
            .headers_mut()
            .insert("dpop-nonce", HeaderValue::from_str(&nonce).unwrap());
    }
    response
}
