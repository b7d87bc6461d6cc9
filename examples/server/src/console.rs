//! The admin console at `/console`, behind a simple sign-in with the
//! server's admin tokens (`CLIENTCREDS_ROOT_TOKEN`,
//! `CLIENTCREDS_TENANT_ADMINS`).
//!
//! Signing in trades a token for a session: a random 256-bit id in an
//! `HttpOnly; SameSite=Strict` cookie (`Secure` when the issuer is
//! `https://`), valid for eight hours, kept in memory (a restart signs
//! everyone out; the sessions of one replica are not seen by another). The
//! token itself is never stored: the server keeps only its HMAC tag. Failed
//! sign-ins go through a failure throttle keyed by the caller's address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clientcreds_axum::{AdminAuth, BearerTokens};
use clientcreds_registry::{Actor, AuthThrottle, MemoryThrottle, Source};
use ring::rand::{SecureRandom, SystemRandom};

/// Where the console is mounted.
pub const CONSOLE_PATH: &str = "/console";
/// The sign-in page.
pub const SIGN_IN_PATH: &str = "/console/sign-in";
/// The sign-out action.
pub const SIGN_OUT_PATH: &str = "/console/sign-out";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "clientcreds_session";
/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept at once (the oldest are dropped past it).
const MAX_SESSIONS: usize = 10_000;

/// The sessions, and the tokens they are made from.
pub(crate) struct SignIn {
    admins: BearerTokens,
    sessions: Mutex<HashMap<[u8; 32], (Actor, Instant)>>,
    secure: bool,
    throttle: MemoryThrottle,
    /// Keys the throttle's per-token counters: a presented token reaches
    /// the throttle only as a keyed hash under this process's random key.
    tags: std::hash::RandomState,
    random: SystemRandom,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("admins", &self.admins)
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

fn session_key(id: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

fn session_cookie(parts_headers: &axum::http::HeaderMap) -> Option<&str> {
    parts_headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

impl SignIn {
    pub(crate) fn new(admins: BearerTokens, secure: bool) -> Self {
        Self {
            admins,
            sessions: Mutex::new(HashMap::new()),
            secure,
            throttle: MemoryThrottle::default(),
            tags: std::hash::RandomState::new(),
            random: SystemRandom::new(),
        }
    }

    fn start(&self, actor: Actor) -> Option<String> {
        let mut bytes = [0u8; 32];
        self.random.fill(&mut bytes).ok()?;
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, (_, until)| *until > now);
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        sessions.insert(session_key(&id), (actor, now + SESSION_TTL));
        Some(id)
    }

    fn end(&self, id: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&session_key(id));
    }

    fn cookie(&self, value: &str, max_age: Option<u64>) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        let age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
        format!(
            "{SESSION_COOKIE}={value}; Path={CONSOLE_PATH}; HttpOnly; SameSite=Strict{secure}{age}"
        )
    }
}

#[async_trait]
impl AdminAuth for SignIn {
    async fn actor(&self, request: &Parts) -> Option<Actor> {
        let id = session_cookie(&request.headers)?;
        let sessions = self
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (actor, until) = sessions.get(&session_key(id))?;
        (*until > Instant::now()).then(|| actor.clone())
    }
}

fn page(status: StatusCode, message: Option<&str>) -> Response {
    let alert = message.map_or(String::new(), |m| {
        // Only our own fixed sentences reach here; escaped all the same.
        let escaped = m
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        format!("<p role=\"alert\" class=\"warning\">{escaped}</p>")
    });
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in · clientcreds console</title>\
         <link rel=\"stylesheet\" href=\"{CONSOLE_PATH}/assets/console.css\"></head>\
         <body><main id=\"main\" class=\"error\"><h1>Sign in to the clientcreds console</h1>{alert}\
         <form class=\"stack\" method=\"post\" action=\"{SIGN_IN_PATH}\">\
         <label for=\"token\">Admin token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" required autocomplete=\"current-password\">\
         <button type=\"submit\">Sign in</button></form></main></body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    secure_headers(&mut response);
    response
}

fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(clientcreds_console::CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn see_other(location: &'static str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(location));
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    secure_headers(&mut response);
    response
}

/// `GET /console/sign-in`.
pub(crate) async fn sign_in_page() -> Response {
    page(StatusCode::OK, None)
}

/// `POST /console/sign-in`: `token=...`.
pub(crate) async fn sign_in(
    State(sign_in): State<std::sync::Arc<SignIn>>,
    request: Request,
) -> Response {
    let cross_site = request
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| !matches!(v.as_bytes(), b"same-origin" | b"none"));
    if cross_site {
        return page(
            StatusCode::FORBIDDEN,
            Some("A sign-in from another site is refused."),
        );
    }
    let source = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| Source::client(addr.ip()));
    let now = time::OffsetDateTime::now_utc();
    let Ok(body) = axum::body::to_bytes(request.into_body(), 8 * 1024).await else {
        return page(StatusCode::BAD_REQUEST, Some("The form is too large."));
    };
    let token = form_urlencoded::parse(&body)
        .find(|(name, _)| name == "token")
        .map(|(_, value)| zeroize::Zeroizing::new(value.into_owned()));
    // Counted per (token, address) and per address, like the admin API: a
    // source guessing tokens is stopped, and an administrator's own token
    // is not locked out by someone else's failures.
    let key = format!(
        "console-sign-in:{:016x}",
        std::hash::BuildHasher::hash_one(&sign_in.tags, token.as_deref().map(String::as_str))
    );
    if sign_in.throttle.admit(&key, source, now).is_err() {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed sign-ins from this address; wait and try again."),
        );
    }
    let actor = token
        .as_deref()
        .and_then(|token| sign_in.admins.find(token.trim()).cloned());
    let Some(actor) = actor else {
        sign_in.throttle.failed(&key, source, now);
        return page(
            StatusCode::UNAUTHORIZED,
            Some("That token names no administrator."),
        );
    };
    sign_in.throttle.succeeded(&key, source, now);
    tracing::info!(admin = actor.user_id(), "console sign-in");
    match sign_in.start(actor) {
        Some(id) => see_other(CONSOLE_PATH, Some(sign_in.cookie(&id, None))),
        None => page(
            StatusCode::SERVICE_UNAVAILABLE,
            Some("The random source failed; try again."),
        ),
    }
}

/// `POST /console/sign-out`: ends the session, clears the cookie.
pub(crate) async fn sign_out(
    State(sign_in): State<std::sync::Arc<SignIn>>,
    request: Request,
) -> Response {
    if let Some(id) = session_cookie(request.headers()) {
        sign_in.end(id);
    }
    see_other(SIGN_IN_PATH, Some(sign_in.cookie("", Some(0))))
}

/// The console's "sign in required" answers become a redirect to the
/// sign-in page.
pub(crate) async fn to_sign_in(response: Response) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        see_other(SIGN_IN_PATH, None)
    } else {
        response
    }
}
