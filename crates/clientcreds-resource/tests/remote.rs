//! The remote key set's cache, driven by a manual clock through a transport
//! double: lifetimes from `Cache-Control` (clamped), background refresh,
//! unknown-`kid` refetch with cooldown and one shared fetch, stale serving
//! then failing closed, and what is never fetched.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use clientcreds_jwt::{Algorithm, SigningKey, Validation, VerifyError};
use clientcreds_resource::{Error, Issuers, RemoteConfig, RemoteKeySet};
use common::{API, FakeIssuer, ISSUER, Issuer, JWKS_URL, ManualClock};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

struct World {
    issuer: Issuer,
    fake: FakeIssuer,
    clock: Arc<ManualClock>,
    remote: RemoteKeySet,
}

fn world(config: RemoteConfig) -> World {
    let issuer = Issuer::new();
    let fake = FakeIssuer::new(issuer.keys.clone());
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let remote = common::remote(&issuer, &fake, &clock, config);
    World {
        issuer,
        fake,
        clock,
        remote,
    }
}

impl World {
    fn token(&self) -> String {
        self.issuer.token_at("c1", &["read"], self.clock_now())
    }

    fn clock_now(&self) -> OffsetDateTime {
        use clientcreds_resource::Clock as _;
        self.clock.now()
    }

    async fn verify(&self, token: &str) -> Result<clientcreds_jwt::AccessContext, Error> {
        self.remote.verify(token).await
    }

    /// Waits (a little, real time) until the transport saw `n` fetches.
    async fn fetched(&self, n: usize) {
        for _ in 0..500 {
            if self.fake.fetches() >= n {
                // Let the fetch task finish its swap.
                tokio::time::sleep(StdDuration::from_millis(20)).await;
                return;
            }
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
        panic!("expected {n} fetches, saw {}", self.fake.fetches());
    }
}

/// A token signed by the issuer's current key but naming another `kid`,
/// with extra header members.
fn forged(issuer: &Issuer, kid: &str, extra: &[(&str, Value)], now: OffsetDateTime) -> String {
    let key = issuer.keys.signing_key().unwrap();
    let mut header = json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid });
    for (name, value) in extra {
        header[*name] = value.clone();
    }
    let t = now.unix_timestamp();
    let claims = json!({
        "iss": issuer.name, "sub": "c1", "aud": API, "exp": t + 3600, "iat": t,
        "jti": "j", "client_id": "c1", "scope": "read", "tenant": "acme",
    });
    let input = format!(
        "{}.{}",
        B64URL.encode(serde_json::to_vec(&header).unwrap()),
        B64URL.encode(serde_json::to_vec(&claims).unwrap())
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", B64URL.encode(signature))
}

#[tokio::test]
async fn the_first_verification_loads_once_and_later_ones_hit_the_cache() {
    let w = world(RemoteConfig::default());
    assert!(w.remote.jwks().is_none());
    let token = w.token();
    for _ in 0..50 {
        assert_eq!(w.verify(&token).await.unwrap().client_id, "c1");
    }
    assert_eq!(w.fake.fetches(), 1);
    assert_eq!(*w.fake.urls.lock().unwrap(), [JWKS_URL]);
    assert_eq!(w.remote.jwks().unwrap(), w.issuer.keys.jwks());
}

#[tokio::test]
async fn max_age_sets_the_lifetime_and_the_refresh_runs_in_the_background_before_it_ends() {
    let w = world(RemoteConfig::default());
    w.fake.set_cache_control(Some("public, max-age=600"));
    let token = w.token();
    w.verify(&token).await.unwrap();

    // Before four fifths of 600 s: no fetch.
    w.clock.advance(Duration::seconds(479));
    w.verify(&token).await.unwrap();
    assert_eq!(w.fake.fetches(), 1);

    // Past them: the refresh starts, and the request does not wait for it
    // even though the issuer holds its answer.
    let held = w.fake.gate.acquire_many(common::GATE).await.unwrap();
    w.clock.advance(Duration::seconds(2));
    let quick = tokio::time::timeout(StdDuration::from_secs(2), w.verify(&token)).await;
    assert!(quick.expect("the hit path never waits for a fetch").is_ok());
    w.fetched(2).await;
    // Only one refresh for all requests meanwhile.
    for _ in 0..20 {
        w.verify(&token).await.unwrap();
    }
    assert_eq!(w.fake.fetches(), 2);
    drop(held);
}

#[tokio::test]
async fn max_age_is_clamped_to_the_bounds_and_no_store_gets_the_minimum() {
    for (header, refresh_after) in [
        // 5 s is below the 60 s minimum: refreshed after 48 s.
        (Some("max-age=5"), Duration::seconds(48)),
        (Some("no-store"), Duration::seconds(48)),
        (Some("max-age=0, must-revalidate"), Duration::seconds(48)),
        // A year is above the 1 h maximum set here: refreshed after 48 min.
        (Some("max-age=31536000"), Duration::minutes(48)),
        // None: the default lifetime, 5 min, refreshed after 4.
        (None, Duration::minutes(4)),
        (Some("max-age=garbage"), Duration::minutes(4)),
    ] {
        let config =
            RemoteConfig::default().with_ttl_bounds(Duration::seconds(60), Duration::hours(1));
        let w = world(config);
        w.fake.set_cache_control(header);
        let token = w.token();
        w.verify(&token).await.unwrap();
        w.clock.advance(refresh_after - Duration::seconds(1));
        w.verify(&token).await.unwrap();
        tokio::time::sleep(StdDuration::from_millis(30)).await;
        assert_eq!(w.fake.fetches(), 1, "{header:?}: refreshed too early");
        w.clock.advance(Duration::seconds(1));
        w.verify(&token).await.unwrap();
        w.fetched(2).await;
    }
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_on_its_first_token() {
    let w = world(RemoteConfig::default());
    w.verify(&w.token()).await.unwrap();
    w.issuer.rotate(w.clock_now());
    let fresh = w.token();
    assert_eq!(w.verify(&fresh).await.unwrap().client_id, "c1");
    assert_eq!(w.fake.fetches(), 2);
}

#[tokio::test]
async fn an_unknown_kid_flood_fetches_at_most_once_per_cooldown() {
    let w = Arc::new(world(RemoteConfig::default()));
    w.verify(&w.token()).await.unwrap();
    for round in 1..=3 {
        let mut tasks = Vec::new();
        for i in 0..1000 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                let token = forged(
                    &w.issuer,
                    &format!("random-{round}-{i}"),
                    &[],
                    w.clock_now(),
                );
                w.verify(&token).await
            }));
        }
        for task in tasks {
            assert_eq!(
                task.await.unwrap(),
                Err(Error::Token(VerifyError::UnknownKid))
            );
        }
        assert_eq!(w.fake.fetches(), 1 + round, "round {round}");
        // Within the cooldown: none at all.
        w.clock.advance(Duration::seconds(29));
        let token = forged(&w.issuer, "within", &[], w.clock_now());
        assert!(w.verify(&token).await.is_err());
        assert_eq!(w.fake.fetches(), 1 + round);
        w.clock.advance(Duration::seconds(1));
    }
}

#[tokio::test]
async fn concurrent_misses_share_one_fetch_and_none_holds_a_lock_across_it() {
    let w = Arc::new(world(RemoteConfig::default()));
    let old = w.token();
    w.verify(&old).await.unwrap();
    w.issuer.rotate(w.clock_now());
    let fresh = w.token();

    let held = w.fake.gate.acquire_many(common::GATE).await.unwrap();
    let mut waiting = Vec::new();
    for _ in 0..64 {
        let (w, fresh) = (w.clone(), fresh.clone());
        waiting.push(tokio::spawn(async move { w.verify(&fresh).await }));
    }
    w.fetched(2).await;
    // While that fetch hangs, tokens with known keys still verify at once.
    let quick = tokio::time::timeout(StdDuration::from_secs(2), w.verify(&old)).await;
    assert!(quick.expect("no lock across the fetch").is_ok());
    drop(held);
    for task in waiting {
        assert_eq!(task.await.unwrap().unwrap().client_id, "c1");
    }
    assert_eq!(w.fake.fetches(), 2);
}

#[tokio::test]
async fn when_the_endpoint_is_down_the_last_set_serves_for_the_bound_then_fails_closed() {
    let w = world(RemoteConfig::default().with_max_stale(Duration::minutes(30)));
    let token = w.token();
    w.verify(&token).await.unwrap();
    w.fake.set_up(false);

    // Past the lifetime (5 min), refreshes fail, the set still serves.
    w.clock.advance(Duration::minutes(5));
    w.verify(&token).await.unwrap();
    w.fetched(2).await;
    w.clock.advance(Duration::minutes(29));
    w.verify(&token).await.unwrap();
    w.fetched(3).await;

    // 5 + 30 min: refused, with a clear error.
    w.clock.advance(Duration::minutes(1));
    let refused = w.verify(&token).await.unwrap_err();
    assert!(
        matches!(&refused, Error::KeysUnavailable { issuer, reason }
            if issuer == ISSUER && reason.contains("connection refused")),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "keys of issuer `{ISSUER}` are unavailable: fetching `{JWKS_URL}` failed: transport: connection refused"
        )
    );
    // Failing closed does not hammer the issuer: no new fetch before the retry wait.
    let fetches = w.fake.fetches();
    for _ in 0..20 {
        assert!(w.verify(&token).await.is_err());
    }
    assert_eq!(w.fake.fetches(), fetches);

    // Back up: after the retry wait, the next request loads again.
    w.fake.set_up(true);
    w.clock.advance(Duration::seconds(10));
    w.verify(&token).await.unwrap();
}

#[tokio::test]
async fn with_no_set_at_all_it_fails_closed_and_retries_after_the_wait() {
    let w = world(RemoteConfig::default());
    w.fake.set_up(false);
    let token = w.token();
    assert!(matches!(
        w.verify(&token).await,
        Err(Error::KeysUnavailable { .. })
    ));
    assert!(matches!(w.remote.refresh().await, Err(Error::Fetch { .. })));
    assert_eq!(w.fake.fetches(), 2);
    assert!(w.verify(&token).await.is_err());
    assert_eq!(w.fake.fetches(), 2);
    w.fake.set_up(true);
    w.clock.advance(Duration::seconds(10));
    w.verify(&token).await.unwrap();
    assert_eq!(w.fake.fetches(), 3);
}

#[tokio::test]
async fn urls_named_in_a_token_are_never_fetched() {
    let w = world(RemoteConfig::default());
    w.verify(&w.token()).await.unwrap();
    let token = forged(
        &w.issuer,
        "elsewhere",
        &[
            ("jku", json!("https://evil.example.com/jwks.json")),
            ("x5u", json!("https://evil.example.com/cert.pem")),
        ],
        w.clock_now(),
    );
    assert_eq!(
        w.verify(&token).await,
        Err(Error::Token(VerifyError::UnknownKid))
    );
    let urls = w.fake.urls.lock().unwrap().clone();
    assert_eq!(urls, [JWKS_URL, JWKS_URL]);
}

#[tokio::test]
async fn only_asymmetric_algorithms_are_accepted() {
    let issuer = Issuer::new();
    let fake = FakeIssuer::new(issuer.keys.clone());
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let remote = RemoteKeySet::builder(
        Validation::new(ISSUER, API).with_algorithms([Algorithm::HS256, Algorithm::EdDSA]),
    )
    .jwks_url(JWKS_URL)
    .clock(clock.clone())
    .build(fake.clone())
    .unwrap();
    assert_eq!(remote.validation().algorithms, Some(vec![Algorithm::EdDSA]));
    use clientcreds_resource::Clock as _;
    let now = clock.now();
    assert!(
        remote
            .verify(&issuer.token_at("c1", &[], now))
            .await
            .is_ok()
    );
    // An HS256 token, even one whose secret the attacker chose, is refused
    // before any key is looked up.
    let hs = SigningKey::hs256("hs", &[7; 32]).unwrap();
    let t = now.unix_timestamp();
    let input = format!(
        "{}.{}",
        B64URL.encode(br#"{"alg":"HS256","typ":"at+jwt","kid":"hs"}"#),
        B64URL.encode(
            json!({"iss": ISSUER, "aud": API, "exp": t + 60, "iat": t, "sub": "c", "jti": "j", "client_id": "c", "tenant": "acme"})
                .to_string()
        )
    );
    let token = format!(
        "{input}.{}",
        B64URL.encode(hs.sign(input.as_bytes()).unwrap())
    );
    assert_eq!(
        remote.verify(&token).await,
        Err(Error::Token(VerifyError::AlgorithmNotAllowed))
    );
    assert_eq!(fake.fetches(), 1);
}

#[tokio::test]
async fn tokens_of_other_issuers_cause_no_fetch() {
    let w = world(RemoteConfig::default());
    let stranger = Issuer::named("https://evil.example.com");
    let token = stranger.token(&["read"]);
    // Before the first load: refused without loading.
    assert_eq!(
        w.verify(&token).await,
        Err(Error::Token(VerifyError::WrongIssuer))
    );
    assert_eq!(w.fake.fetches(), 0);
    // After it: refused as another issuer's (never as an unknown kid,
    // whatever the cache holds), and no refetch.
    w.verify(&w.token()).await.unwrap();
    assert_eq!(
        w.verify(&token).await,
        Err(Error::Token(VerifyError::WrongIssuer))
    );
    assert_eq!(w.fake.fetches(), 1);
}

#[tokio::test]
async fn a_key_replaced_under_the_same_kid_is_picked_up_by_one_refetch() {
    use clientcreds_jwt::{KeySet, VerifyingKey};
    // The issuer publishes key A under the kid "k1" ...
    let served = Arc::new(KeySet::empty());
    let publish = |key: &SigningKey| {
        let mut jwk = key.verifying_key().public_jwk().unwrap().clone();
        jwk.kid = Some("k1".into());
        drop(served.remove("k1"));
        served
            .add_verifying_key(VerifyingKey::from_jwk(&jwk).unwrap())
            .unwrap();
    };
    let a = SigningKey::generate(Algorithm::EdDSA).unwrap();
    publish(&a);
    let fake = common::FakeIssuer::new(served.clone());
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let issuer = Issuer::new();
    let remote = common::remote(&issuer, &fake, &clock, RemoteConfig::default());
    let sign = |key: &SigningKey| {
        let t = OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({
            "iss": issuer.name, "sub": "c1", "aud": API, "exp": t + 3600, "iat": t,
            "jti": "j", "client_id": "c1",
        });
        common::forge(
            &json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": "k1" }),
            &claims,
            key,
        )
    };
    remote.verify(&sign(&a)).await.unwrap();
    assert_eq!(fake.fetches(), 1);

    // ... then replaces it with key B under the same kid: B's first token
    // fails its signature under the cached A, refetches once, and passes.
    let b = SigningKey::generate(Algorithm::EdDSA).unwrap();
    publish(&b);
    remote.verify(&sign(&b)).await.unwrap();
    assert_eq!(fake.fetches(), 2);

    // A forgery under that kid costs one refetch per cooldown, no more.
    let forger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    clock.advance(Duration::seconds(31));
    for _ in 0..20 {
        assert_eq!(
            remote.verify(&sign(&forger)).await,
            Err(Error::Token(VerifyError::BadSignature))
        );
    }
    assert_eq!(fake.fetches(), 3);
}

#[tokio::test]
async fn several_issuers_are_chosen_by_iss_from_the_allow_list() {
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let eu = Issuer::named("https://auth.eu.example.com");
    let us = Issuer::named("https://auth.us.example.com");
    let (eu_fake, us_fake) = (
        FakeIssuer::new(eu.keys.clone()),
        FakeIssuer::new(us.keys.clone()),
    );
    let issuers = Issuers::new([
        common::remote(&eu, &eu_fake, &clock, RemoteConfig::default()),
        common::remote(&us, &us_fake, &clock, RemoteConfig::default()),
    ]);
    use clientcreds_resource::Clock as _;
    let now = clock.now();
    let context = issuers.verify_at(&eu.token(&["read"]), now).await.unwrap();
    assert_eq!(context.client_id, common::CLIENT_ID);
    issuers.verify_at(&us.token(&["read"]), now).await.unwrap();
    assert_eq!((eu_fake.fetches(), us_fake.fetches()), (1, 1));

    // Not on the list: refused before any signature work or fetch.
    let stranger = Issuer::named("https://evil.example.com");
    for _ in 0..100 {
        assert_eq!(
            issuers.verify_at(&stranger.token(&["read"]), now).await,
            Err(Error::Token(VerifyError::WrongIssuer))
        );
    }
    assert_eq!((eu_fake.fetches(), us_fake.fetches()), (1, 1));

    // A token claiming the EU issuer but signed by the US key: the EU keys
    // do not know its kid (one refetch), and it is refused.
    let forged = {
        let t = us.token(&["read"]);
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        let mut claims: Value = serde_json::from_slice(&B64URL.decode(&parts[1]).unwrap()).unwrap();
        claims["iss"] = json!(eu.name);
        parts[1] = B64URL.encode(claims.to_string());
        parts.join(".")
    };
    assert_eq!(
        issuers.verify_at(&forged, now).await,
        Err(Error::Token(VerifyError::UnknownKid))
    );

    // Garbage never reaches a key set.
    assert_eq!(
        issuers.verify_at("a.b", now).await,
        Err(Error::Token(VerifyError::Malformed))
    );
    assert_eq!(
        issuers
            .verify_at(&format!("e30.{}.c2ln", B64URL.encode("{}")), now)
            .await,
        Err(Error::Token(VerifyError::MissingClaim("iss")))
    );
}
