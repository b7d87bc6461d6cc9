//! DPoP at the resource server (RFC 9449 §7), through the tower layer's
//! public API: every refusal with its status, challenge order and code;
//! the schemes a layer accepts; replay on one and on two replicas;
//! nonces; proxies; and nested layers.

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

use clientcreds_jwt::dpop::{ProofRequest, key_thumbprint, make_proof};
use clientcreds_jwt::{
    AccessContext, Algorithm, KeySet, SigningKey, TokenVerifier, Validation, sign_jws,
};
use clientcreds_resource::{
    BearerAuthLayer, BoxFuture, DpopConfig, DpopNonces, ProofReplay, ReplayCache,
    ReplayUnavailable, Scheme, Schemes,
};
use common::{API, ISSUER, ManualClock};
use http::{Request, Response};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tower::{Layer, ServiceExt, service_fn};

const ALGS: &str = "EdDSA ES256 ES384 PS256 RS256";
const URL: &str = "https://api.example.com/orders";

/// An issuer that signs tokens directly (so that `cnf` can be anything),
/// a verifier of them, a caller's DPoP key, and a clock.
struct World {
    signer: SigningKey,
    verifier: Arc<TokenVerifier>,
    caller: SigningKey,
    clock: Arc<ManualClock>,
    now: OffsetDateTime,
}

impl World {
    fn new() -> Self {
        let der = SigningKey::generate_pkcs8(Algorithm::EdDSA).unwrap();
        let signer = SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap();
        let keys = Arc::new(KeySet::new(
            SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der).unwrap(),
        ));
        let now = OffsetDateTime::now_utc();
        Self {
            signer,
            verifier: Arc::new(TokenVerifier::new(keys, Validation::new(ISSUER, API))),
            caller: SigningKey::generate(Algorithm::ES256).unwrap(),
            clock: ManualClock::new(now),
            now,
        }
    }

    /// A token with `cnf` as given (none: unbound).
    fn token_with(&self, cnf: Option<Value>) -> String {
        let iat = self.now.unix_timestamp();
        let mut claims = json!({
            "iss": ISSUER, "sub": "acme_client_1", "aud": API, "iat": iat, "nbf": iat,
            "exp": iat + 3600, "jti": "t-1", "client_id": "acme_client_1",
            "scope": "read", "tenant": "acme",
        });
        if let Some(cnf) = cnf {
            claims["cnf"] = cnf;
        }
        sign_jws(&self.signer, "at+jwt", false, &claims).unwrap()
    }

    /// A token bound to the caller's key.
    fn bound(&self) -> String {
        self.token_with(Some(
            json!({ "jkt": key_thumbprint(&self.caller).unwrap() }),
        ))
    }

    fn unbound(&self) -> String {
        self.token_with(None)
    }

    /// A proof by `key` of `method url` for `token`, at `self.now`.
    fn proof_by(
        &self,
        key: &SigningKey,
        method: &str,
        url: &str,
        token: &str,
        jti: &str,
    ) -> String {
        make_proof(
            key,
            &ProofRequest {
                method,
                url,
                access_token: Some(token),
                nonce: None,
                now: self.now,
                jti,
            },
        )
        .unwrap()
    }

    fn proof(&self, token: &str, jti: &str) -> String {
        self.proof_by(&self.caller, "GET", URL, token, jti)
    }

    fn layer(&self) -> BearerAuthLayer {
        BearerAuthLayer::new(self.verifier.clone()).with_clock(self.clock.clone())
    }
}

/// `GET /orders` on `api.example.com` with these headers.
fn request(headers: &[(&str, &str)]) -> Request<String> {
    let mut builder = Request::get("/orders").header("host", "api.example.com");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(String::new()).unwrap()
}

fn dpop(token: &str, proof: &str) -> Request<String> {
    request(&[("authorization", &format!("DPoP {token}")), ("dpop", proof)])
}

/// The inner service's calls, and the last context and scheme it saw.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    last: Mutex<Option<(AccessContext, Scheme)>>,
}

async fn send(layer: &BearerAuthLayer, request: Request<String>) -> (Response<String>, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let inner = seen.clone();
    let service = layer.layer(service_fn(move |request: Request<String>| {
        let seen = inner.clone();
        async move {
            seen.calls.fetch_add(1, Ordering::SeqCst);
            let context = request.extensions().get::<AccessContext>().cloned();
            let scheme = request.extensions().get::<Scheme>().copied();
            *seen.last.lock().unwrap() = context.zip(scheme);
            Ok::<_, Infallible>(Response::new("inner".to_owned()))
        }
    }));
    (service.oneshot(request).await.unwrap(), seen)
}

fn challenges(response: &Response<String>) -> Vec<String> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A refusal: status, the challenges in order, the body's code, and an
/// inner service never called.
fn assert_refused(response: &Response<String>, seen: &Seen, status: u16, www: &[&str], code: &str) {
    assert_eq!(response.status(), status, "{}", response.body());
    assert_eq!(challenges(response), www);
    let body: Value = serde_json::from_str(response.body()).unwrap();
    assert_eq!(body, json!({ "error": code }));
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
}

fn passed(response: &Response<String>, seen: &Seen) -> (AccessContext, Scheme) {
    assert_eq!(
        response.status(),
        200,
        "{} {:?}",
        response.body(),
        challenges(response)
    );
    assert_eq!(seen.calls.load(Ordering::SeqCst), 1);
    seen.last
        .lock()
        .unwrap()
        .clone()
        .expect("a context and a scheme")
}

/// The DPoP challenge with an error, then the Bearer one: what a DPoP
/// request's refusal carries under `Schemes::Both`.
fn dpop_first(code: &str, description: &str) -> [String; 2] {
    [
        format!(
            "DPoP realm=\"api\", algs=\"{ALGS}\", error=\"{code}\", error_description=\"{description}\""
        ),
        "Bearer realm=\"api\"".to_owned(),
    ]
}

async fn refused_dpop(
    layer: &BearerAuthLayer,
    request: Request<String>,
    code: &str,
    description: &str,
) {
    let (response, seen) = send(layer, request).await;
    let www = dpop_first(code, description);
    assert_refused(&response, &seen, 401, &[&www[0], &www[1]], code);
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes_and_says_so() {
    let world = World::new();
    let token = world.bound();
    let (response, seen) = send(&world.layer(), dpop(&token, &world.proof(&token, "p-1"))).await;
    let (context, scheme) = passed(&response, &seen);
    assert_eq!(scheme, Scheme::Dpop);
    assert_eq!(
        context.extra["cnf"]["jkt"],
        key_thumbprint(&world.caller).unwrap()
    );
    // The scheme's name in any case, and an unbound token as Bearer.
    let (response, seen) = send(
        &world.layer(),
        request(&[
            ("authorization", &format!("dpop {token}")),
            ("dpop", &world.proof(&token, "p-2")),
        ]),
    )
    .await;
    passed(&response, &seen);
    let unbound = world.unbound();
    let (response, seen) = send(
        &world.layer(),
        request(&[("authorization", &format!("Bearer {unbound}"))]),
    )
    .await;
    assert_eq!(passed(&response, &seen).1, Scheme::Bearer);
}

#[tokio::test]
async fn a_replayed_proof_is_refused_by_the_same_layer() {
    let world = World::new();
    let layer = world.layer();
    let token = world.bound();
    let proof = world.proof(&token, "p-1");
    let (response, seen) = send(&layer, dpop(&token, &proof)).await;
    passed(&response, &seen);
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_dpop_proof",
        "DPoP proof was replayed",
    )
    .await;
    // Once its window has passed, the proof is refused for its age.
    world.clock.advance(Duration::minutes(2));
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_dpop_proof",
        "DPoP proof `iat` is outside the accepted window",
    )
    .await;
}

/// A replay record shared by two replicas, reached through the trait as
/// a host's adapter to a shared store would be.
#[derive(Debug, Default)]
struct SharedRecord {
    cache: ReplayCache,
    calls: AtomicUsize,
}

impl ProofReplay for SharedRecord {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, ReplayUnavailable>> {
        Box::pin(async move {
            assert!(key.starts_with("dpop-rs:") && key.len() <= 64, "{key}");
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.cache.record(key, expires_at, now)
        })
    }
}

#[tokio::test]
async fn a_proof_replayed_on_a_second_replica_is_refused_when_they_share_a_record() {
    let world = World::new();
    let token = world.bound();
    let proof = world.proof(&token, "p-1");
    let shared = Arc::new(SharedRecord::default());
    let replica = |record: Arc<dyn ProofReplay>| {
        world
            .layer()
            .with_dpop(DpopConfig::default().replay(record))
    };
    let (first, second) = (replica(shared.clone()), replica(shared.clone()));
    let (response, seen) = send(&first, dpop(&token, &proof)).await;
    passed(&response, &seen);
    refused_dpop(
        &second,
        dpop(&token, &proof),
        "invalid_dpop_proof",
        "DPoP proof was replayed",
    )
    .await;
    assert_eq!(shared.calls.load(Ordering::SeqCst), 2);
    // Each replica with only its own cache cannot tell (why one shares).
    let alone = world.layer();
    let (response, seen) = send(&alone, dpop(&token, &proof)).await;
    passed(&response, &seen);
}

#[derive(Debug)]
struct Down;

impl ProofReplay for Down {
    fn first_use<'a>(
        &'a self,
        _: &'a str,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, ReplayUnavailable>> {
        Box::pin(async { Err(ReplayUnavailable) })
    }
}

#[tokio::test]
async fn a_replay_record_outage_fails_closed_with_503() {
    let world = World::new();
    let layer = world
        .layer()
        .with_dpop(DpopConfig::default().replay(Arc::new(Down)));
    let token = world.bound();
    let (response, seen) = send(&layer, dpop(&token, &world.proof(&token, "p-1"))).await;
    assert_refused(&response, &seen, 503, &[], "temporarily_unavailable");
    assert_eq!(response.headers()["retry-after"], "5");
}

#[tokio::test]
async fn a_bound_token_presented_as_bearer_is_refused() {
    let world = World::new();
    let token = world.bound();
    for schemes in [Schemes::Both, Schemes::BearerOnly] {
        let (response, seen) = send(
            &world.layer().schemes(schemes),
            request(&[("authorization", &format!("Bearer {token}"))]),
        )
        .await;
        let bearer = "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"DPoP-bound token presented as a bearer token\"";
        let dpop = format!("DPoP realm=\"api\", algs=\"{ALGS}\"");
        let www: &[&str] = if schemes == Schemes::Both {
            &[bearer, &dpop]
        } else {
            &[bearer]
        };
        assert_refused(&response, &seen, 401, www, "invalid_token");
    }
}

#[tokio::test]
async fn each_proof_check_refuses_with_invalid_dpop_proof() {
    let world = World::new();
    let layer = world.layer();
    let token = world.bound();
    let other = world.unbound();
    let cases = [
        // ath of another token.
        (
            world.proof_by(&world.caller, "GET", URL, &other, "a"),
            "DPoP proof `ath` does not match the access token",
        ),
        // htm of another method.
        (
            world.proof_by(&world.caller, "POST", URL, &token, "b"),
            "DPoP proof `htm` does not match the request",
        ),
        // htu of another path, host, or scheme.
        (
            world.proof_by(
                &world.caller,
                "GET",
                "https://api.example.com/other",
                &token,
                "c",
            ),
            "DPoP proof `htu` does not match the request",
        ),
        (
            world.proof_by(
                &world.caller,
                "GET",
                "https://evil.example.com/orders",
                &token,
                "d",
            ),
            "DPoP proof `htu` does not match the request",
        ),
        (
            world.proof_by(
                &world.caller,
                "GET",
                "http://api.example.com/orders",
                &token,
                "e",
            ),
            "DPoP proof `htu` does not match the request",
        ),
        // Not a JWS, and a tampered signature.
        ("not-a-proof".to_owned(), "DPoP proof is malformed"),
        (
            {
                let proof = world.proof(&token, "f");
                let (head, _) = proof.rsplit_once('.').unwrap();
                format!("{head}.{}", "A".repeat(86))
            },
            "DPoP proof signature is invalid",
        ),
        // A token's typ instead of dpop+jwt.
        (
            sign_jws(
                &world.caller,
                "JWT",
                true,
                &json!({"htm": "GET", "htu": URL}),
            )
            .unwrap(),
            "DPoP proof `typ` is not dpop+jwt",
        ),
    ];
    for (proof, description) in cases {
        refused_dpop(
            &layer,
            dpop(&token, &proof),
            "invalid_dpop_proof",
            description,
        )
        .await;
    }
    // A proof from before the window, and one from the future.
    for offset in [Duration::minutes(-5), Duration::minutes(5)] {
        let proof = make_proof(
            &world.caller,
            &ProofRequest {
                method: "GET",
                url: URL,
                access_token: Some(&token),
                nonce: None,
                now: world.now + offset,
                jti: "g",
            },
        )
        .unwrap();
        refused_dpop(
            &layer,
            dpop(&token, &proof),
            "invalid_dpop_proof",
            "DPoP proof `iat` is outside the accepted window",
        )
        .await;
    }
    // No proof, and two.
    refused_dpop(
        &layer,
        request(&[("authorization", &format!("DPoP {token}"))]),
        "invalid_dpop_proof",
        "DPoP proof is missing",
    )
    .await;
    let proof = world.proof(&token, "h");
    refused_dpop(
        &layer,
        request(&[
            ("authorization", &format!("DPoP {token}")),
            ("dpop", &proof),
            ("dpop", &proof),
        ]),
        "invalid_dpop_proof",
        "more than one DPoP proof",
    )
    .await;
    // An algorithm the configuration does not accept.
    let es256_only = world
        .layer()
        .with_dpop(DpopConfig::default().algorithms(&[Algorithm::ES384]));
    let (response, seen) = send(&es256_only, dpop(&token, &proof)).await;
    assert_refused(
        &response,
        &seen,
        401,
        &[
            "DPoP realm=\"api\", algs=\"ES384\", error=\"invalid_dpop_proof\", error_description=\"DPoP proof algorithm not allowed\"",
            "Bearer realm=\"api\"",
        ],
        "invalid_dpop_proof",
    );
}

#[tokio::test]
async fn binding_faults_are_invalid_token_in_the_dpop_challenge() {
    let world = World::new();
    let layer = world.layer();
    // A proof by another key than the token's.
    let token = world.bound();
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let proof = world.proof_by(&stranger, "GET", URL, &token, "a");
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_token",
        "DPoP proof key does not match the token's binding",
    )
    .await;
    // An unbound token under the DPoP scheme.
    let token = world.unbound();
    refused_dpop(
        &layer,
        dpop(&token, &world.proof(&token, "b")),
        "invalid_token",
        "token is not DPoP-bound",
    )
    .await;
    // A token bound by another method (mTLS).
    let token = world.token_with(Some(json!({ "x5t#S256": "abc" })));
    refused_dpop(
        &layer,
        dpop(&token, &world.proof(&token, "c")),
        "invalid_token",
        "token is bound by an unsupported confirmation method",
    )
    .await;
    let (response, seen) = send(
        &layer,
        request(&[("authorization", &format!("Bearer {token}"))]),
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0);
    // A token that does not verify, under DPoP: the DPoP challenge first.
    let token = world.bound();
    world.clock.advance(Duration::hours(2));
    let proof = world.proof_by_at(&token, world.clock_now());
    refused_dpop(
        &layer,
        dpop(&token, &proof),
        "invalid_token",
        "token has expired",
    )
    .await;
}

impl World {
    fn clock_now(&self) -> OffsetDateTime {
        use clientcreds_resource::Clock;
        self.clock.now()
    }

    fn proof_by_at(&self, token: &str, now: OffsetDateTime) -> String {
        make_proof(
            &self.caller,
            &ProofRequest {
                method: "GET",
                url: URL,
                access_token: Some(token),
                nonce: None,
                now,
                jti: "late",
            },
        )
        .unwrap()
    }
}

#[tokio::test]
async fn behind_a_proxy_htu_is_the_external_url() {
    let world = World::new();
    let token = world.bound();
    // The proxy forwards to an internal host and strips `/v1`.
    let internal = |proof: &str| {
        Request::get("/orders")
            .header("host", "orders.internal:8080")
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .body(String::new())
            .unwrap()
    };
    let external = "https://api.example.com/v1/orders";
    let proxied = world.layer().with_dpop(
        DpopConfig::default()
            .external_url("https://API.example.com:443/v1/")
            .unwrap(),
    );
    let (response, seen) = send(
        &proxied,
        internal(&world.proof_by(&world.caller, "GET", external, &token, "a")),
    )
    .await;
    passed(&response, &seen);
    // A proof for the internal URL is not one for the service.
    let inside = world.proof_by(
        &world.caller,
        "GET",
        "https://orders.internal:8080/orders",
        &token,
        "b",
    );
    refused_dpop(
        &proxied,
        internal(&inside),
        "invalid_dpop_proof",
        "DPoP proof `htu` does not match the request",
    )
    .await;
    // Without the setting, the Host decides (and the external proof fails).
    refused_dpop(
        &world.layer(),
        internal(&world.proof_by(&world.caller, "GET", external, &token, "c")),
        "invalid_dpop_proof",
        "DPoP proof `htu` does not match the request",
    )
    .await;
    // No Host and a relative URI: nothing to compare with, refused.
    let proof = world.proof(&token, "d");
    let bare = Request::get("/orders")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", &proof)
        .body(String::new())
        .unwrap();
    refused_dpop(
        &world.layer(),
        bare,
        "invalid_dpop_proof",
        "DPoP proof `htu` does not match the request",
    )
    .await;
    // Unusable settings are refused when configured.
    for bad in ["ftp://api.example.com", "https://api.example.com/?q", "/v1"] {
        assert!(DpopConfig::default().external_url(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn nonces_are_asked_for_then_accepted_then_renewed() {
    let world = World::new();
    let nonces = DpopNonces::new(&[9u8; 32], Duration::minutes(5)).unwrap();
    let layer = world
        .layer()
        .with_dpop(DpopConfig::default().nonces(nonces.clone()));
    let token = world.bound();
    // No nonce: use_dpop_nonce with one.
    let (response, seen) = send(&layer, dpop(&token, &world.proof(&token, "a"))).await;
    let www = dpop_first("use_dpop_nonce", "a fresh DPoP nonce is required");
    assert_refused(&response, &seen, 401, &[&www[0], &www[1]], "use_dpop_nonce");
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    let with_nonce = |nonce: &str, jti: &str, now: OffsetDateTime| {
        make_proof(
            &world.caller,
            &ProofRequest {
                method: "GET",
                url: URL,
                access_token: Some(&token),
                nonce: Some(nonce),
                now,
                jti,
            },
        )
        .unwrap()
    };
    // With it: accepted, no new nonce yet.
    let (response, seen) = send(&layer, dpop(&token, &with_nonce(&nonce, "b", world.now))).await;
    passed(&response, &seen);
    assert!(response.headers().get("dpop-nonce").is_none());
    // A step later it still works, and a fresh one comes back.
    world.clock.advance(Duration::minutes(5));
    let later = world.now + Duration::minutes(5);
    let (response, seen) = send(&layer, dpop(&token, &with_nonce(&nonce, "c", later))).await;
    passed(&response, &seen);
    let fresh = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(fresh, nonce);
    // Two steps later it is stale; a forged one never worked.
    world.clock.advance(Duration::minutes(5));
    let latest = later + Duration::minutes(5);
    for stale in [nonce.as_str(), "forged-nonce"] {
        let (response, seen) = send(&layer, dpop(&token, &with_nonce(stale, stale, latest))).await;
        assert_refused(&response, &seen, 401, &[&www[0], &www[1]], "use_dpop_nonce");
    }
}

#[tokio::test]
async fn a_layer_accepts_the_schemes_it_is_configured_with() {
    let world = World::new();
    let (bound, unbound) = (world.bound(), world.unbound());
    let dpop_only = world.layer().schemes(Schemes::DpopOnly);
    // Bearer at a DPoP-only resource: as if no credentials.
    let (response, seen) = send(
        &dpop_only,
        request(&[("authorization", &format!("Bearer {unbound}"))]),
    )
    .await;
    let only_dpop = format!("DPoP realm=\"api\", algs=\"{ALGS}\"");
    assert_refused(&response, &seen, 401, &[&only_dpop], "unauthorized");
    let (response, seen) = send(&dpop_only, dpop(&bound, &world.proof(&bound, "a"))).await;
    passed(&response, &seen);
    // DPoP at a Bearer-only resource: as if no credentials.
    let bearer_only = world.layer().schemes(Schemes::BearerOnly);
    let (response, seen) = send(&bearer_only, dpop(&bound, &world.proof(&bound, "b"))).await;
    assert_refused(
        &response,
        &seen,
        401,
        &["Bearer realm=\"api\""],
        "unauthorized",
    );
    // Both: no credentials get both challenges, Bearer first.
    let (response, seen) = send(&world.layer(), request(&[])).await;
    assert_refused(
        &response,
        &seen,
        401,
        &["Bearer realm=\"api\"", &only_dpop],
        "unauthorized",
    );
    // A malformed DPoP header value is invalid_request on the DPoP challenge.
    let (response, seen) = send(
        &world.layer(),
        request(&[("authorization", "DPoP two tokens")]),
    )
    .await;
    assert_refused(
        &response,
        &seen,
        400,
        &[
            &format!(
                "DPoP realm=\"api\", algs=\"{ALGS}\", error=\"invalid_request\", error_description=\"malformed Authorization header\""
            ),
            "Bearer realm=\"api\"",
        ],
        "invalid_request",
    );
}

#[tokio::test]
async fn challenges_name_the_resource_metadata_and_scopes() {
    let world = World::new();
    let meta = "https://api.example.com/.well-known/oauth-protected-resource";
    let layer = world
        .layer()
        .with_resource_metadata(meta)
        .require_scope("write");
    let (response, seen) = send(&layer, request(&[])).await;
    assert_refused(
        &response,
        &seen,
        401,
        &[
            &format!("Bearer realm=\"api\", resource_metadata=\"{meta}\""),
            &format!("DPoP realm=\"api\", algs=\"{ALGS}\", resource_metadata=\"{meta}\""),
        ],
        "unauthorized",
    );
    // 403 insufficient_scope under DPoP: on the DPoP challenge.
    let token = world.bound();
    let (response, seen) = send(&layer, dpop(&token, &world.proof(&token, "a"))).await;
    assert_refused(
        &response,
        &seen,
        403,
        &[
            &format!(
                "DPoP realm=\"api\", algs=\"{ALGS}\", error=\"insufficient_scope\", error_description=\"insufficient scope: `write` is required\", scope=\"write\", resource_metadata=\"{meta}\""
            ),
            &format!("Bearer realm=\"api\", resource_metadata=\"{meta}\""),
        ],
        "insufficient_scope",
    );
}

#[tokio::test]
async fn nested_layers_check_a_proof_each_and_record_it_once() {
    let world = World::new();
    let config = DpopConfig::default();
    let outer = world.layer().with_dpop(config.clone());
    let inner = world.layer().with_dpop(config).require_scope("read");
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let service = outer.layer(inner.layer(service_fn(move |_: Request<String>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new("inner".to_owned())) }
    })));
    let token = world.bound();
    let proof = world.proof(&token, "a");
    let response = service.clone().oneshot(dpop(&token, &proof)).await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", challenges(&response));
    // The same proof again, through both: refused by the first.
    let response = service.oneshot(dpop(&token, &proof)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn authorize_serves_hosts_without_tower_services() {
    let world = World::new();
    let layer = world.layer();
    let token = world.bound();
    let mut ok = dpop(&token, &world.proof(&token, "a"));
    assert_eq!(layer.authorize(&mut ok).await.unwrap(), None);
    assert_eq!(ok.extensions().get::<Scheme>(), Some(&Scheme::Dpop));
    assert!(ok.extensions().get::<AccessContext>().is_some());
    let mut replayed = dpop(&token, &world.proof(&token, "a"));
    let refusal = layer.authorize(&mut replayed).await.unwrap_err();
    assert_eq!(refusal.status(), 401);
    assert!(replayed.extensions().get::<AccessContext>().is_none());
}

#[test]
fn the_replay_cache_is_bounded_refuses_when_full_and_forgets_expired_proofs() {
    // 32 shards of one entry: 33 keys cannot all fit.
    let cache = ReplayCache::with_capacity(32);
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::seconds(65);
    let outcomes: Vec<_> = (0..33)
        .map(|i| cache.record(&format!("dpop-rs:{i}"), until, now))
        .collect();
    let refused: Vec<usize> = (0..33).filter(|i| outcomes[*i].is_err()).collect();
    assert!(!refused.is_empty(), "a full cache forgot a live proof");
    assert!(cache.len() <= 32);
    // A recorded key is a replay until it expires, then a first use again.
    let kept = (0..33).find(|i| outcomes[*i].is_ok()).unwrap();
    let key = format!("dpop-rs:{kept}");
    assert_eq!(cache.record(&key, until, now), Ok(false));
    let later = until + Duration::seconds(1);
    assert_eq!(
        cache.record(&key, later + Duration::seconds(65), later),
        Ok(true)
    );
    // Expired entries make room.
    let key = format!("dpop-rs:{}", refused[0]);
    assert_eq!(
        cache.record(&key, later + Duration::seconds(65), later),
        Ok(true)
    );
}

#[test]
fn nonces_of_another_secret_or_step_size_are_refused() {
    let now = OffsetDateTime::now_utc();
    let ours = DpopNonces::new(&[1u8; 32], Duration::minutes(5)).unwrap();
    let replica = DpopNonces::new(&[1u8; 32], Duration::minutes(5)).unwrap();
    let theirs = DpopNonces::new(&[2u8; 32], Duration::minutes(5)).unwrap();
    let nonce = ours.current(now);
    assert!(replica.accepts(&nonce, now), "replicas share nonces");
    assert!(!theirs.accepts(&nonce, now));
    assert!(
        !ours.accepts(&nonce, now - Duration::minutes(10)),
        "a nonce from the future"
    );
    assert!(!ours.accepts("", now));
    assert!(!ours.accepts(&"A".repeat(100), now));
    assert!(DpopNonces::new(&[1u8; 31], Duration::minutes(5)).is_err());
    assert!(
        !format!("{ours:?}").contains("[1"),
        "the secret never prints"
    );
}
