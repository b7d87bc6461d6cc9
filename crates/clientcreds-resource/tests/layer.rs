//! The tower layer (feature `tower`): bearer verification, required scopes, the RFC 6750 challenges, the opt-in live check hook, the injected clock, and a remote key set behind it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clientcreds_jwt::{AccessContext, TokenVerifier, Validation, VerifyError};
use clientcreds_resource::{BearerAuthLayer, BoxFuture, LiveCheck, RemoteConfig};
use common::{API, CLIENT_ID, FakeIssuer, ISSUER, Issuer, ManualClock};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tower::{Layer, Service, ServiceExt, service_fn};

fn header<'a>(response: &'a Response<String>, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

fn json(response: &Response<String>) -> serde_json::Value {
    serde_json::from_str(response.body()).unwrap()
}

/// The issuer, what it verifies with locally, and a token with scope `read`.
struct Server {
    issuer: Issuer,
    verifier: Arc<TokenVerifier>,
}

/// What the inner service saw: how often it was called, and the last
/// request's `AccessContext`.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    context: Mutex<Option<AccessContext>>,
}

/// `layer` around an inner service that records what reached it.
fn protected(
    layer: &BearerAuthLayer,
    seen: &Arc<Seen>,
) -> impl Service<Request<String>, Response = Response<String>, Error = Infallible> + Clone + use<>
{
    let seen = seen.clone();
    layer.layer(service_fn(move |request: Request<String>| {
        let seen = seen.clone();
        async move {
            seen.calls.fetch_add(1, Ordering::SeqCst);
            let context = request.extensions().get::<AccessContext>().cloned();
            *seen.context.lock().unwrap() = context;
            Ok::<_, Infallible>(Response::new("inner".to_owned()))
        }
    }))
}

fn request(authorization: Option<&str>) -> Request<String> {
    let mut request = Request::new(String::new());
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    }
    request
}

/// Sends one request through `layer`; the response and what the inner
/// service saw.
async fn send(
    layer: &BearerAuthLayer,
    authorization: Option<&str>,
) -> (Response<String>, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let response = protected(layer, &seen)
        .oneshot(request(authorization))
        .await
        .unwrap();
    (response, seen)
}

/// Asserts a refusal: status, exact challenge, JSON code, and that the
/// inner service was never called.
fn assert_refused(response: &Response<String>, seen: &Seen, status: u16, www: &str, code: &str) {
    assert_eq!(response.status(), status, "{}", response.body());
    assert_eq!(header(response, "www-authenticate"), Some(www));
    assert_eq!(header(response, "cache-control"), Some("no-store"));
    assert_eq!(json(response), json!({ "error": code }));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

fn assert_passed(response: &Response<String>, seen: &Seen) -> AccessContext {
    assert_eq!(response.status(), 200, "{}", response.body());
    assert_eq!(response.body(), "inner");
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    seen.context
        .lock()
        .unwrap()
        .clone()
        .expect("an AccessContext in the extensions")
}

async fn setup() -> (Server, String, (), String) {
    let issuer = Issuer::new();
    let token = issuer.token(&["read"]);
    let verifier = issuer.verifier();
    (Server { issuer, verifier }, CLIENT_ID.to_owned(), (), token)
}

#[tokio::test]
async fn a_valid_token_reaches_the_inner_service_with_its_context() {
    let (server, id, _, token) = setup().await;
    let layer = BearerAuthLayer::new(server.verifier.clone());
    let (response, seen) = send(&layer, Some(&format!("Bearer {token}"))).await;
    let context = assert_passed(&response, &seen);
    assert_eq!(context, server.verifier.verify(&token).unwrap());
    assert_eq!(
        (
            context.tenant().unwrap_or_default(),
            context.client_id.as_str()
        ),
        ("acme", id.as_str())
    );
    assert_eq!(context.scopes, ["read"]);

    // Any case of the scheme.
    let (response, seen) = send(&layer, Some(&format!("bearer {token}"))).await;
    assert_passed(&response, &seen);
}

#[tokio::test]
async fn a_tenant_bound_layer_refuses_tokens_of_other_tenants() {
    let (server, _, _, token) = setup().await;
    let authorization = format!("Bearer {token}");
    // The token is tenant "acme"'s: a layer for "globex" refuses it.
    let layer = BearerAuthLayer::new(server.verifier.clone()).require_tenant("globex");
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // One of several accepted tenants passes.
    let layer = layer.require_tenant("acme");
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_passed(&response, &seen);
}

#[tokio::test]
async fn a_token_without_a_tenant_passes_unless_the_layer_requires_one() {
    // A token as any RFC 9068 issuer mints it: no tenant claim.
    let issuer = Issuer::new();
    let key = issuer.keys.signing_key().unwrap();
    let t = OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": ISSUER, "sub": CLIENT_ID, "aud": API, "exp": t + 600, "iat": t,
        "jti": "j1", "client_id": CLIENT_ID, "scope": "read",
    });
    let header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": key.kid() });
    let token = common::forge(&header, &claims, &key);
    let authorization = format!("Bearer {token}");

    let layer = BearerAuthLayer::new(issuer.verifier());
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_eq!(assert_passed(&response, &seen).tenant(), None);

    let layer = layer.require_tenant("acme");
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_service_can_be_driven_more_than_once() {
    let (server, _, _, token) = setup().await;
    let seen = Arc::new(Seen::default());
    let mut service = protected(&BearerAuthLayer::new(server.verifier.clone()), &seen);
    let authorization = format!("Bearer {token}");
    for (value, status) in [
        (Some(authorization.as_str()), 200),
        (None, 401),
        (Some(authorization.as_str()), 200),
    ] {
        let response = service
            .ready()
            .await
            .unwrap()
            .call(request(value))
            .await
            .unwrap();
        assert_eq!(response.status(), status);
    }
    assert_eq!(seen.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn no_bearer_token_is_401_without_an_error_code() {
    let (server, _, _, _) = setup().await;
    let layer = BearerAuthLayer::new(server.verifier.clone());
    for authorization in [None, Some("Basic c3ZjOnMzY3JldA=="), Some("Token abc")] {
        let (response, seen) = send(&layer, authorization).await;
        assert_refused(
            &response,
            &seen,
            401,
            "Bearer realm=\"api\"",
            "unauthorized",
        );
    }
}

#[tokio::test]
async fn a_malformed_authorization_header_is_400_invalid_request() {
    let (server, _, _, token) = setup().await;
    let layer = BearerAuthLayer::new(server.verifier.clone());
    for authorization in ["Bearer", "Bearer a b", &format!("Bearer {token} x")] {
        let (response, seen) = send(&layer, Some(authorization)).await;
        assert_refused(
            &response,
            &seen,
            400,
            "Bearer realm=\"api\", error=\"invalid_request\", error_description=\"malformed Authorization header\"",
            "invalid_request",
        );
    }
}

#[tokio::test]
async fn an_invalid_token_is_401_invalid_token_with_the_reason() {
    let (server, id, (), token) = setup().await;
    let layer = BearerAuthLayer::new(server.verifier.clone());

    // Signed by another server's key.
    let foreign = Issuer::new().token(&["read"]);

    // The signature's last characters changed.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    tampered.push_str("AAAA");

    // Minted two hours ago with a one-hour lifetime.
    let expired = server.issuer.token_at(
        &id,
        &["read"],
        OffsetDateTime::now_utc() - Duration::hours(2),
    );

    let cases = [
        // Three parts, but the header is `notjson`.
        ("bm90anNvbg.e30.c2ln", "token header is invalid"),
        ("abc", "token is not a compact JWS"),
        ("a.b.c.d", "token is not a compact JWS"),
        (foreign.as_str(), "no key for the token's `kid`"),
        (tampered.as_str(), "token signature is invalid"),
        (expired.as_str(), "token has expired"),
    ];
    for (bad, reason) in cases {
        let (response, seen) = send(&layer, Some(&format!("Bearer {bad}"))).await;
        assert_refused(
            &response,
            &seen,
            401,
            &format!(
                "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{reason}\""
            ),
            "invalid_token",
        );
    }

    // A token for another audience.
    let elsewhere = Arc::new(TokenVerifier::new(
        server.issuer.keys.clone(),
        Validation::new(ISSUER, "https://other.example.com"),
    ));
    let (response, seen) = send(
        &BearerAuthLayer::new(elsewhere),
        Some(&format!("Bearer {token}")),
    )
    .await;
    assert_refused(
        &response,
        &seen,
        401,
        "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token audience is not accepted\"",
        "invalid_token",
    );
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope_naming_it() {
    let (server, _, _, token) = setup().await;
    let authorization = format!("Bearer {token}");

    let layer = BearerAuthLayer::new(server.verifier.clone()).require_scope("write");
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_refused(
        &response,
        &seen,
        403,
        "Bearer realm=\"api\", error=\"insufficient_scope\", error_description=\"insufficient scope: `write` is required\", scope=\"write\"",
        "insufficient_scope",
    );

    // Every required scope is checked; the first missing one is named.
    let layer = BearerAuthLayer::new(server.verifier.clone())
        .require_scope("read")
        .require_scope("orders:write")
        .with_realm("orders");
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_refused(
        &response,
        &seen,
        403,
        "Bearer realm=\"orders\", error=\"insufficient_scope\", error_description=\"insufficient scope: `orders:write` is required\", scope=\"orders:write\"",
        "insufficient_scope",
    );

    // The realm is used for every challenge.
    let (response, seen) = send(&layer, None).await;
    assert_refused(
        &response,
        &seen,
        401,
        "Bearer realm=\"orders\"",
        "unauthorized",
    );

    // A granted scope passes.
    let layer = BearerAuthLayer::new(server.verifier.clone()).require_scope("read");
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_passed(&response, &seen);
}

/// A live check that refuses the clients on its list, or cannot answer.
#[derive(Debug, Default)]
struct Refusing {
    gone: Mutex<Vec<String>>,
    down: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
}

impl LiveCheck for Refusing {
    fn check<'a>(&'a self, context: &'a AccessContext) -> BoxFuture<'a, Result<(), VerifyError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let result = if self.down.load(Ordering::SeqCst) {
            Err(VerifyError::CheckUnavailable)
        } else if self.gone.lock().unwrap().contains(&context.client_id) {
            Err(VerifyError::ClientInactive)
        } else {
            Ok(())
        };
        Box::pin(async move { result })
    }
}

#[tokio::test]
async fn the_live_check_runs_after_verification_its_refusal_is_invalid_token_and_its_outage_503() {
    let (server, id, (), token) = setup().await;
    let check = Arc::new(Refusing::default());
    let layer = BearerAuthLayer::new(server.verifier.clone()).with_live_check(check.clone());
    let authorization = format!("Bearer {token}");

    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_passed(&response, &seen);
    assert_eq!(check.calls.load(Ordering::SeqCst), 1);

    check.gone.lock().unwrap().push(id);
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_refused(
        &response,
        &seen,
        401,
        "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token's client is no longer active\"",
        "invalid_token",
    );

    // A live-check outage is not the token's fault: 503 with Retry-After
    // and no `invalid_token` (a caller keeps its token and retries, rather
    // than dropping it and stampeding the token endpoint).
    check.down.store(true, Ordering::SeqCst);
    let (response, seen) = send(&layer, Some(&authorization)).await;
    assert_eq!(response.status(), 503, "{}", response.body());
    assert_eq!(header(&response, "retry-after"), Some("5"));
    assert_eq!(header(&response, "www-authenticate"), None);
    assert_eq!(
        json(&response),
        json!({ "error": "temporarily_unavailable" })
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0, "refused: fail closed");

    // A token that fails verification never reaches the check.
    let calls = check.calls.load(Ordering::SeqCst);
    let (response, _) = send(&layer, Some("Bearer abc")).await;
    assert_eq!(response.status(), 401);
    assert_eq!(check.calls.load(Ordering::SeqCst), calls);
}

#[tokio::test]
async fn the_layer_verifies_expiry_by_its_clock() {
    let (server, _, (), token) = setup().await;
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let layer = BearerAuthLayer::new(server.verifier.clone()).with_clock(clock.clone());
    let (response, seen) = send(&layer, Some(&format!("Bearer {token}"))).await;
    assert_passed(&response, &seen);
    clock.advance(Duration::hours(2));
    let (response, seen) = send(&layer, Some(&format!("Bearer {token}"))).await;
    assert_refused(
        &response,
        &seen,
        401,
        "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token has expired\"",
        "invalid_token",
    );
}

#[tokio::test]
async fn a_remote_key_set_behind_the_layer_passes_tokens_and_fails_closed_with_503() {
    let issuer = Issuer::new();
    let fake = FakeIssuer::new(issuer.keys.clone());
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let remote = Arc::new(common::remote(
        &issuer,
        &fake,
        &clock,
        RemoteConfig::default(),
    ));
    let layer = BearerAuthLayer::new(remote)
        .with_clock(clock.clone())
        .require_scope("read");
    let token = issuer.token(&["read"]);

    let (response, seen) = send(&layer, Some(&format!("Bearer {token}"))).await;
    let context = assert_passed(&response, &seen);
    assert_eq!(context.audience, [API]);

    // Endpoint down and the set past its lifetime plus the stale bound.
    fake.set_up(false);
    clock.advance(Duration::minutes(5) + Duration::hours(1));
    let (response, seen) = send(&layer, Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), 503, "{}", response.body());
    assert_eq!(header(&response, "retry-after"), Some("5"));
    assert_eq!(header(&response, "www-authenticate"), None);
    assert_eq!(
        json(&response),
        json!({ "error": "temporarily_unavailable" })
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}
