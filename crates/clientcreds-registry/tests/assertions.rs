//! Keys instead of secrets, through the public API: `private_key_jwt`
//! (inline keys and `jwks_uri`), federated workload identity against a
//! real HTTP issuer on loopback, and every refusal.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};

use clientcreds_jwt::{
    Algorithm, Jwks, KeySet, PublicJwk, SigningKey, TokenIssuer, TokenVerifier, Validation,
    sign_jws,
};
use clientcreds_registry::{
    Actor, AssertionCheck, AssertionPolicy, AuthFailure, ClientAssertion, ClientAssertions, Error,
    ExchangeRequest, NewClient, NewClientAuth, NewClientKey, NewFederatedCredential, Registry,
    TokenErrorCode, TokenService,
};
use clientcreds_resource::ReqwestTransport;
use clientcreds_store::{MemoryReplayStore, ReplayStore, Store};
use common::tenant;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

const ISSUER: &str = "https://auth.example.com";
const API: &str = "https://api.example.com";

struct Setup {
    tokens: TokenService,
    verifier: TokenVerifier,
    clock: Arc<clientcreds_registry::ManualClock>,
}

fn setup_with(policy: AssertionPolicy, replay: Arc<dyn ReplayStore>) -> Setup {
    let world = common::world(clientcreds_registry::Policy::default());
    let assertions = ClientAssertions::new(policy, replay)
        .unwrap()
        .with_transport(Arc::new(ReqwestTransport::new()));
    let registry = Arc::new(
        Registry::new(
            world.store.clone() as Arc<dyn Store>,
            common::hasher(),
            world.registry.policy().clone(),
        )
        .unwrap()
        .with_clock(world.clock.clone())
        .with_client_assertions(assertions),
    );
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(registry, TokenIssuer::new(keys.clone(), ISSUER), API);
    let verifier = TokenVerifier::new(keys, Validation::new(ISSUER, API));
    Setup {
        tokens,
        verifier,
        clock: world.clock,
    }
}

fn setup() -> Setup {
    setup_with(
        AssertionPolicy::default().danger_allow_loopback_http(),
        Arc::new(MemoryReplayStore::default()),
    )
}

fn public(key: &SigningKey) -> PublicJwk {
    key.verifying_key().public_jwk().unwrap().clone()
}

impl Setup {
    fn now(&self) -> i64 {
        use clientcreds_registry::Clock as _;
        self.clock.now().unix_timestamp()
    }

    fn registry(&self) -> &Registry {
        self.tokens.registry()
    }

    async fn keyed_client(&self, keys: &[&SigningKey]) -> String {
        let keys = keys.iter().map(|k| NewClientKey::new(public(k)));
        self.registry()
            .create_with_keys(
                &Actor::System,
                &tenant("acme"),
                NewClient::named("keyed"),
                NewClientAuth::private_key_jwt(keys),
            )
            .await
            .unwrap()
            .client_id
    }

    /// The claims of a good assertion by `client_id`.
    fn claims(&self, client_id: &str) -> Value {
        let now = self.now();
        json!({
            "iss": client_id, "sub": client_id, "aud": ISSUER,
            "iat": now, "exp": now + 60, "jti": format!("jti-{now}-{}", rand_suffix()),
        })
    }

    async fn authenticate(&self, client_id: Option<&str>, text: &str) -> Result<(), Error> {
        let assertion = ClientAssertion::new(client_id.map(str::to_owned), text);
        self.registry()
            .authenticate_assertion(&assertion, ISSUER, None)
            .await
            .map(drop)
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    sign_jws(key, "client-authentication+jwt", false, claims).unwrap()
}

fn refused(result: Result<(), Error>) -> AuthFailure {
    match result {
        Err(Error::Authentication(failure)) => failure,
        other => panic!("expected an authentication failure, got {other:?}"),
    }
}

fn check(result: Result<(), Error>) -> AssertionCheck {
    match refused(result) {
        AuthFailure::Assertion(check) => check,
        other => panic!("expected an assertion failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_private_key_jwt_client_gets_a_token_once_per_assertion() {
    let s = setup();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let client_id = s.keyed_client(&[&key]).await;
    let text = sign(&key, &s.claims(&client_id));
    let request = ExchangeRequest::with_assertion(ClientAssertion::new(
        Some(client_id.clone()),
        text.clone(),
    ));
    let response = s.tokens.exchange(request).await.unwrap();
    let context = s
        .verifier
        .verify_at(response.access_token.expose(), s.clock_now())
        .unwrap();
    assert_eq!(context.client_id, client_id);
    // The same assertion again: single use.
    let again = ExchangeRequest::with_assertion(ClientAssertion::new(Some(client_id), text));
    let error = s.tokens.exchange(again).await.unwrap_err();
    assert_eq!(error.code, TokenErrorCode::InvalidClient);
}

impl Setup {
    fn clock_now(&self) -> OffsetDateTime {
        use clientcreds_registry::Clock as _;
        self.clock.now()
    }
}

#[tokio::test]
async fn every_refusal_names_its_check() {
    let s = setup();
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let id = s.keyed_client(&[&key]).await;
    let now = s.now();
    let with = |patch: Value| {
        let mut claims = s.claims(&id);
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    let cases: Vec<(&str, String, AssertionCheck)> = vec![
        (
            "wrong aud",
            sign(&key, &with(json!({"aud": "https://other.example"}))),
            AssertionCheck::Audience,
        ),
        (
            "token endpoint as aud, switch off",
            sign(
                &key,
                &with(json!({"aud": "https://auth.example.com/token"})),
            ),
            AssertionCheck::Audience,
        ),
        (
            "iss is not the client",
            sign(&key, &with(json!({"iss": "someone"}))),
            AssertionCheck::Issuer,
        ),
        (
            "sub is not the client",
            sign(&key, &with(json!({"sub": "someone"}))),
            AssertionCheck::Issuer,
        ),
        (
            "no exp",
            sign(&key, &with(json!({"exp": null}))),
            AssertionCheck::Expired,
        ),
        (
            "expired",
            sign(&key, &with(json!({"iat": now - 300, "exp": now - 120}))),
            AssertionCheck::Expired,
        ),
        (
            "from the future",
            sign(&key, &with(json!({"iat": now + 600, "exp": now + 660}))),
            AssertionCheck::NotYetValid,
        ),
        (
            "valid for an hour",
            sign(&key, &with(json!({"exp": now + 3600}))),
            AssertionCheck::Lifetime,
        ),
        (
            "no jti",
            sign(&key, &with(json!({"jti": null}))),
            AssertionCheck::MissingJti,
        ),
        (
            "another key",
            sign(&other, &s.claims(&id)),
            AssertionCheck::UnknownKey,
        ),
        (
            "wrong typ",
            sign_jws(&key, "at+jwt", false, &s.claims(&id)).unwrap(),
            AssertionCheck::Type,
        ),
        ("garbage", "a.b.c".to_owned(), AssertionCheck::Malformed),
    ];
    for (what, text, want) in cases {
        let client = if what == "iss is not the client" {
            Some(id.as_str())
        } else {
            None
        };
        assert_eq!(check(s.authenticate(client, &text).await), want, "{what}");
    }
    // A forged signature under the right kid.
    let good = sign(&key, &s.claims(&id));
    let (head, _) = good.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", "A".repeat(86));
    assert_eq!(
        check(s.authenticate(None, &forged).await),
        AssertionCheck::Signature
    );
    // HS256 and none are never accepted.
    let hs = SigningKey::hs256("k", &[9; 32]).unwrap();
    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let hs_text = format!(
        "{}.{}.AAAA",
        b64(&json!({"alg": "HS256"})),
        b64(&s.claims(&id))
    );
    assert_eq!(
        check(s.authenticate(None, &hs_text).await),
        AssertionCheck::Algorithm
    );
    assert!(sign_jws(&hs, "JWT", false, &s.claims(&id)).is_err());
    let none_text = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&s.claims(&id)));
    assert_eq!(
        check(s.authenticate(None, &none_text).await),
        AssertionCheck::Malformed
    );
    // A refused assertion did not spend its jti: the good one still works.
    s.authenticate(None, &good).await.unwrap();
}

#[tokio::test]
async fn the_token_endpoint_audience_is_a_switch() {
    let s = setup_with(
        AssertionPolicy::default().accept_token_endpoint_audience("https://auth.example.com/token"),
        Arc::new(MemoryReplayStore::default()),
    );
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let id = s.keyed_client(&[&key]).await;
    let mut claims = s.claims(&id);
    claims["aud"] = json!(["https://auth.example.com/token"]);
    s.authenticate(None, &sign(&key, &claims)).await.unwrap();
}

#[tokio::test]
async fn methods_do_not_mix() {
    let s = setup();
    // A secret client's assertion: method not allowed.
    let issued = s
        .registry()
        .create(&Actor::System, &tenant("acme"), NewClient::named("secret"))
        .await
        .unwrap();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let secret_id = issued.credentials.client_id.clone();
    let text = sign(&key, &s.claims(&secret_id));
    assert_eq!(
        refused(s.authenticate(None, &text).await),
        AuthFailure::MethodNotAllowed
    );
    // An unknown client.
    let ghost = format!("{}x", &secret_id[..secret_id.len() - 1]);
    let text = sign(&key, &s.claims(&ghost));
    assert_eq!(
        refused(s.authenticate(None, &text).await),
        AuthFailure::UnknownClient
    );
    // A secret and an assertion together: invalid_request.
    let keyed = s.keyed_client(&[&key]).await;
    let (cid, secret) = common::keep(&issued.credentials);
    let mut both =
        ExchangeRequest::client_credentials(cid, clientcreds_secret::Secret::new(secret));
    both.assertion = Some(ClientAssertion::new(None, sign(&key, &s.claims(&keyed))));
    let error = s.tokens.exchange(both).await.unwrap_err();
    assert_eq!(error.code, TokenErrorCode::InvalidRequest);
}

#[tokio::test]
async fn inline_keys_rotate_with_overlap_and_expire() {
    let s = setup();
    let (old, new) = (
        SigningKey::generate(Algorithm::EdDSA).unwrap(),
        SigningKey::generate(Algorithm::ES256).unwrap(),
    );
    let id = s.keyed_client(&[&old]).await;
    let acme = tenant("acme");
    let (view, kid) = s
        .registry()
        .add_client_key(&Actor::System, &acme, &id, NewClientKey::new(public(&new)))
        .await
        .unwrap();
    assert_eq!(view.keys.len(), 2);
    assert_eq!(kid, new.kid());
    s.authenticate(None, &sign(&old, &s.claims(&id)))
        .await
        .unwrap();
    s.authenticate(None, &sign(&new, &s.claims(&id)))
        .await
        .unwrap();
    // Last used is recorded per key.
    let view = s.registry().get(&Actor::System, &acme, &id).await.unwrap();
    assert!(view.keys.iter().all(|k| k.last_used_at.is_some()));
    s.registry()
        .remove_client_key(&Actor::System, &acme, &id, old.kid())
        .await
        .unwrap();
    assert_eq!(
        check(s.authenticate(None, &sign(&old, &s.claims(&id))).await),
        AssertionCheck::UnknownKey
    );
    s.authenticate(None, &sign(&new, &s.claims(&id)))
        .await
        .unwrap();
    // A key with an expiry stops at it.
    let short = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let expiry = s.clock_now() + Duration::days(1);
    let (view, short_kid) = s
        .registry()
        .add_client_key(
            &Actor::System,
            &acme,
            &id,
            NewClientKey::new(public(&short)).expiring_at(expiry),
        )
        .await
        .unwrap();
    // Its expiry warning is scheduled like a secret's (the last stage
    // before the expiry still ahead: now, a day out).
    let scheduled = view.keys.iter().find(|k| k.kid == short_kid).unwrap();
    assert_eq!(scheduled.expires_at, Some(expiry));
    assert!(
        scheduled.next_warning_at.is_some_and(|at| at <= expiry),
        "{scheduled:?}"
    );
    s.authenticate(None, &sign(&short, &s.claims(&id)))
        .await
        .unwrap();
    s.clock.advance(Duration::days(2));
    assert_eq!(
        check(s.authenticate(None, &sign(&short, &s.claims(&id))).await),
        AssertionCheck::KeyInactive
    );
    // Adding the same key twice, or a private key, is refused.
    let again = s
        .registry()
        .add_client_key(&Actor::System, &acme, &id, NewClientKey::new(public(&new)))
        .await;
    assert!(
        matches!(again, Err(Error::Invalid { field: "jwks", .. })),
        "{again:?}"
    );
    // Another tenant sees no such client.
    let foreign = s
        .registry()
        .remove_client_key(
            &common::admin("other", "eve"),
            &tenant("other"),
            &id,
            new.kid(),
        )
        .await;
    assert!(matches!(foreign, Err(Error::NotFound)), "{foreign:?}");
}

#[tokio::test]
async fn a_revoked_client_cannot_use_its_key() {
    let s = setup();
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let id = s.keyed_client(&[&key]).await;
    s.registry()
        .revoke(&Actor::System, &tenant("acme"), &id)
        .await
        .unwrap();
    assert_eq!(
        refused(s.authenticate(None, &sign(&key, &s.claims(&id))).await),
        AuthFailure::Revoked
    );
}

/// A Kubernetes-style issuer on loopback: discovery and a JWKS whose keys
/// the test swaps (rotation at the issuer).
struct ExternalIssuer {
    url: String,
    keys: Arc<Mutex<Vec<PublicJwk>>>,
}

async fn external_issuer() -> ExternalIssuer {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys: Arc<Mutex<Vec<PublicJwk>>> = Arc::default();
    let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/openid/v1/jwks")});
    let served = keys.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let d = discovery.clone();
                async move { axum::Json(d) }
            }),
        )
        .route(
            "/openid/v1/jwks",
            get(move || {
                let keys = served.lock().unwrap().clone();
                async move { axum::Json(Jwks { keys }) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    ExternalIssuer { url, keys }
}

#[tokio::test]
async fn a_federated_client_authenticates_with_a_workload_token() {
    let issuer = external_issuer().await;
    let s = setup_with(
        AssertionPolicy::default()
            .danger_allow_loopback_http()
            .allow_federated_issuer(issuer.url.clone()),
        Arc::new(MemoryReplayStore::default()),
    );
    let sa_key = SigningKey::generate(Algorithm::ES256).unwrap();
    issuer.keys.lock().unwrap().push(public(&sa_key));
    let subject = "system:serviceaccount:billing:sync";
    let credential = NewFederatedCredential {
        issuer: issuer.url.clone(),
        subject: subject.to_owned(),
        audience: "clientcreds".to_owned(),
    };
    let view = s
        .registry()
        .create_with_keys(
            &Actor::System,
            &tenant("acme"),
            NewClient::named("k8s"),
            NewClientAuth::federated([credential]),
        )
        .await
        .unwrap();
    let id = view.client_id;
    let now = s.now();
    let token = |key: &SigningKey, sub: &str, aud: &str| {
        sign_jws(
            key,
            "JWT",
            false,
            &json!({"iss": issuer.url, "sub": sub, "aud": [aud], "iat": now, "exp": now + 3600}),
        )
        .unwrap()
    };
    s.authenticate(Some(&id), &token(&sa_key, subject, "clientcreds"))
        .await
        .unwrap();
    // Exact matches only.
    assert_eq!(
        check(
            s.authenticate(
                Some(&id),
                &token(
                    &sa_key,
                    "system:serviceaccount:billing:other",
                    "clientcreds"
                )
            )
            .await
        ),
        AssertionCheck::UnknownKey
    );
    assert_eq!(
        check(
            s.authenticate(Some(&id), &token(&sa_key, subject, "other"))
                .await
        ),
        AssertionCheck::UnknownKey
    );
    // Without client_id, the token's iss is taken as the client id: none such.
    assert_eq!(
        refused(
            s.authenticate(None, &token(&sa_key, subject, "clientcreds"))
                .await
        ),
        AuthFailure::UnknownClient
    );
    // Rotation at the issuer: a new key is fetched on its unknown kid.
    let rotated = SigningKey::generate(Algorithm::EdDSA).unwrap();
    *issuer.keys.lock().unwrap() = vec![public(&rotated)];
    s.authenticate(Some(&id), &token(&rotated, subject, "clientcreds"))
        .await
        .unwrap();
    // A key the issuer never published.
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    assert_eq!(
        check(
            s.authenticate(Some(&id), &token(&stranger, subject, "clientcreds"))
                .await
        ),
        AssertionCheck::UnknownKey
    );
    // An issuer off the allow-list cannot be registered.
    let off_list = s
        .registry()
        .add_federated_credential(
            &Actor::System,
            &tenant("acme"),
            &id,
            NewFederatedCredential {
                issuer: "https://evil.example".to_owned(),
                subject: subject.to_owned(),
                audience: "clientcreds".to_owned(),
            },
        )
        .await;
    assert!(
        matches!(
            off_list,
            Err(Error::Invalid {
                field: "federated",
                ..
            })
        ),
        "{off_list:?}"
    );
}

#[tokio::test]
async fn a_jwks_uri_client_and_https_only() {
    let issuer = external_issuer().await;
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    issuer.keys.lock().unwrap().push(public(&key));
    let s = setup();
    let uri = format!("{}/openid/v1/jwks", issuer.url);
    let view = s
        .registry()
        .create_with_keys(
            &Actor::System,
            &tenant("acme"),
            NewClient::named("jwks"),
            NewClientAuth::jwks_uri(uri),
        )
        .await
        .unwrap();
    s.authenticate(None, &sign(&key, &s.claims(&view.client_id)))
        .await
        .unwrap();
    // Without the test switch, plain http is refused at registration.
    let strict = setup_with(
        AssertionPolicy::default(),
        Arc::new(MemoryReplayStore::default()),
    );
    let refused = strict
        .registry()
        .create_with_keys(
            &Actor::System,
            &tenant("acme"),
            NewClient::named("jwks"),
            NewClientAuth::jwks_uri(format!("{}/openid/v1/jwks", issuer.url)),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::Invalid {
                field: "jwks_uri",
                ..
            })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_replay_is_refused_by_a_second_registry_sharing_the_store() {
    // Two registries (two replicas) over one replay store and one client store.
    let replay: Arc<dyn ReplayStore> = Arc::new(MemoryReplayStore::default());
    let a = setup_with(AssertionPolicy::default(), replay.clone());
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let id = a.keyed_client(&[&key]).await;
    let b_registry = Registry::new(
        a.registry().store().clone(),
        common::hasher(),
        a.registry().policy().clone(),
    )
    .unwrap()
    .with_clock(a.clock.clone())
    .with_client_assertions(ClientAssertions::new(AssertionPolicy::default(), replay).unwrap());
    let text = sign(&key, &a.claims(&id));
    a.authenticate(None, &text).await.unwrap();
    let second = b_registry
        .authenticate_assertion(&ClientAssertion::new(None, text), ISSUER, None)
        .await
        .map(drop);
    assert_eq!(check(second), AssertionCheck::Replayed);
}
