//! A small authorization server on loopback for the assertion tests: it
//! serves RFC 8414 metadata naming itself as issuer, records every token
//! request (form fields and whether an `Authorization` header came), and
//! answers `tok-N` tokens, or 401 `invalid_client` while told to refuse.
//! The tests check the recorded assertions themselves.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};

/// One token request as the endpoint received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub form: Vec<(String, String)>,
    pub authorization_header: bool,
}

impl Seen {
    /// The one value of `name` (panics when absent or repeated).
    pub fn field(&self, name: &str) -> &str {
        let values: Vec<_> = self.form.iter().filter(|(n, _)| n == name).collect();
        assert_eq!(values.len(), 1, "form field {name}: {:?}", self.names());
        &values[0].1
    }

    pub fn has(&self, name: &str) -> bool {
        self.form.iter().any(|(n, _)| n == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.form.iter().map(|(n, _)| n.as_str()).collect()
    }
}

#[derive(Default)]
pub struct Recorder {
    pub seen: Mutex<Vec<Seen>>,
    pub refuse: AtomicBool,
    next: AtomicUsize,
    base: Mutex<String>,
}

pub struct Running {
    pub base: String,
    pub recorder: Arc<Recorder>,
}

impl Running {
    pub fn endpoint(&self) -> String {
        format!("{}/oauth/token", self.base)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.recorder.seen.lock().unwrap().clone()
    }

    pub fn refuse(&self, refuse: bool) {
        self.recorder.refuse.store(refuse, Ordering::SeqCst);
    }
}

pub async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let recorder = Arc::new(Recorder::default());
    base.clone_into(&mut recorder.base.lock().unwrap());
    let app = Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/oauth/token", post(token))
        .with_state(recorder.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Running { base, recorder }
}

async fn metadata(State(recorder): State<Arc<Recorder>>) -> Json<serde_json::Value> {
    let base = recorder.base.lock().unwrap().clone();
    Json(serde_json::json!({
        "issuer": base,
        "token_endpoint": format!("{base}/oauth/token"),
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
    }))
}

async fn token(
    State(recorder): State<Arc<Recorder>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    recorder.seen.lock().unwrap().push(Seen {
        form,
        authorization_header: headers.contains_key("authorization"),
    });
    if recorder.refuse.load(Ordering::SeqCst) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let n = recorder.next.fetch_add(1, Ordering::SeqCst);
    Json(serde_json::json!({
        "access_token": format!("tok-{n}"),
        "token_type": "Bearer",
        "expires_in": 3600,
    }))
    .into_response()
}
