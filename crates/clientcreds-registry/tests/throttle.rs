//! The failure throttle after the second review (issue 20): shared
//! sources, the known-good exemption, dead secrets counted as failures
//! with bounded denial rows, and IPv6 counted by /64, /48 and /32 with
//! NAT64 as IPv4. Each through the public API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, TokenIssuer};
use clientcreds_registry::{
    Actor, AuthThrottle, ClientUpdate, DENIAL_ROW_INTERVAL, ExchangeRequest, Issued, ManualClock,
    MemoryThrottle, NewClient, Policy, Registry, RotateOptions, RotationMode, SecretLifetime,
    Source, ThrottleLimits, TokenErrorCode, TokenService,
};
use clientcreds_secret::Secret;
use clientcreds_store::{
    ActivityKind, ActivityLog, ActivityQuery, ClientStatus, MemoryStore, Store,
};
use common::{hasher, keep, start, tenant};
use time::Duration;

struct Setup {
    tokens: TokenService,
    clock: Arc<ManualClock>,
    store: Arc<MemoryStore>,
}

fn setup(limits: ThrottleLimits) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start()));
    let registry = Registry::new(store.clone() as Arc<dyn Store>, hasher(), Policy::default())
        .unwrap()
        .with_clock(clock.clone())
        .with_throttle(Arc::new(MemoryThrottle::new(limits)));
    let keys = Arc::new(KeySet::new(SigningKey::generate(Algorithm::EdDSA).unwrap()));
    let tokens = TokenService::new(
        Arc::new(registry),
        TokenIssuer::new(keys, "https://auth.example.com"),
        "https://api.example.com",
    );
    Setup {
        tokens,
        clock,
        store,
    }
}

fn tight() -> ThrottleLimits {
    let mut limits = ThrottleLimits::default();
    limits.per_client_and_source = 3;
    limits.per_source = 5;
    limits
}

async fn client(s: &Setup, new: NewClient) -> (String, String) {
    let issued: Issued = s
        .tokens
        .registry()
        .create(&Actor::System, &tenant("acme"), new)
        .await
        .unwrap();
    keep(&issued.credentials)
}

fn request(id: &str, secret: &str, source: Source) -> ExchangeRequest {
    ExchangeRequest::client_credentials(id, Secret::from(secret)).with_source(source)
}

fn throttled(
    result: &Result<clientcreds_registry::TokenResponse, clientcreds_registry::TokenError>,
) -> bool {
    matches!(result, Err(e) if matches!(e.code, TokenErrorCode::SlowDown { .. }))
}

fn shared(text: &str) -> Source {
    Source::shared(text.parse().unwrap())
}

fn own(text: &str) -> Source {
    text.parse().unwrap()
}

/// Medium 1, the second attack: behind a proxy the host cannot see past,
/// junk on many ids must not lock out everyone else. A shared source is
/// not counted per source; its pairs still are.
#[tokio::test]
async fn junk_through_a_shared_source_locks_nobody_else_out() {
    let s = setup(tight());
    let (id, secret) = client(&s, NewClient::named("bystander")).await;
    let proxy = shared("10.0.0.5");
    for i in 0..100 {
        let result = s
            .tokens
            .exchange(request(&format!("cc_junk{i}"), "cc_guess", proxy))
            .await;
        assert!(!throttled(&result), "junk request {i} was throttled");
    }
    // A client that never authenticated before still gets in through it.
    assert!(
        s.tokens
            .exchange(request(&id, &secret, proxy))
            .await
            .is_ok()
    );
    // The same junk from a client source is stopped at its limit (5).
    let sprayer = own("198.51.100.7");
    for i in 0..5 {
        let _ = s
            .tokens
            .exchange(request(&format!("cc_junk{i}"), "cc_guess", sprayer))
            .await;
    }
    assert!(throttled(
        &s.tokens.exchange(request(&id, &secret, sprayer)).await
    ));
    // Guessing one id through the shared source is still slowed (its pair).
    let (other, other_secret) = client(&s, NewClient::named("other")).await;
    for _ in 0..3 {
        let _ = s.tokens.exchange(request(&other, "cc_guess", proxy)).await;
    }
    assert!(throttled(
        &s.tokens
            .exchange(request(&other, &other_secret, proxy))
            .await
    ));
}

/// Medium 1, the first attack: ten wrong secrets on a victim's id through
/// the owner's shared source do not lock the owner out, for as long as
/// its token lives and beyond.
#[tokio::test]
async fn an_owner_that_authenticated_is_admitted_before_its_pair_limit() {
    let s = setup(ThrottleLimits::default());
    let (id, secret) = client(&s, NewClient::named("victim")).await;
    let proxy = shared("127.0.0.1");
    assert!(
        s.tokens
            .exchange(request(&id, &secret, proxy))
            .await
            .is_ok()
    );
    for _ in 0..10 {
        let _ = s.tokens.exchange(request(&id, "cc_wrong", proxy)).await;
    }
    assert!(
        s.tokens
            .exchange(request(&id, &secret, proxy))
            .await
            .is_ok()
    );
    // 23 hours later (a 24-hour token is still live), the attack again.
    s.clock.advance(Duration::hours(23));
    for _ in 0..10 {
        let _ = s.tokens.exchange(request(&id, "cc_wrong", proxy)).await;
    }
    assert!(
        s.tokens
            .exchange(request(&id, &secret, proxy))
            .await
            .is_ok()
    );
    // Past the known-good period without a success, the pair limit holds.
    s.clock.advance(Duration::hours(25));
    for _ in 0..10 {
        let _ = s.tokens.exchange(request(&id, "cc_wrong", proxy)).await;
    }
    assert!(throttled(
        &s.tokens.exchange(request(&id, &secret, proxy)).await
    ));
}

#[test]
fn the_default_known_good_period_covers_the_longest_token_lifetime() {
    let limits = ThrottleLimits::default();
    assert!(
        limits.known_good
            >= Duration::seconds(i64::from(clientcreds_registry::MAX_TOKEN_LIFETIME_SECS))
    );
}

/// Low 3: a secret that hashes correctly but may not authenticate is a
/// failure: it neither clears the pair's failures nor makes it known-good.
#[tokio::test]
async fn a_matching_but_dead_secret_counts_as_a_failure() {
    let acme = tenant("acme");
    for case in ["revoked", "inactive", "suspended", "expired", "rotated_out"] {
        let s = setup(tight());
        let registry = s.tokens.registry().clone();
        let new = NewClient::named("dead");
        let new = if case == "expired" {
            new.with_secret_lifetime(SecretLifetime::After(Duration::days(1)))
        } else {
            new
        };
        let (id, secret) = client(&s, new).await;
        match case {
            "revoked" => registry.revoke(&Actor::System, &acme, &id).await.map(drop),
            "inactive" | "suspended" => {
                let actor = if case == "inactive" {
                    Actor::tenant_admin(acme.clone(), "alice")
                } else {
                    Actor::platform_admin("root")
                };
                registry
                    .update(
                        &actor,
                        &acme,
                        &id,
                        ClientUpdate::default().status(ClientStatus::Inactive),
                    )
                    .await
                    .map(drop)
            }
            "expired" => {
                s.clock.advance(Duration::days(2));
                Ok(())
            }
            _ => registry
                .rotate(
                    &Actor::System,
                    &acme,
                    &id,
                    RotateOptions::default()
                        .mode(RotationMode::ReplaceSecret)
                        .grace(Duration::ZERO),
                )
                .await
                .map(drop),
        }
        .unwrap();
        let source = own("198.51.100.7");
        for _ in 0..3 {
            let err = s
                .tokens
                .exchange(request(&id, &secret, source))
                .await
                .unwrap_err();
            assert_eq!(err.code, TokenErrorCode::InvalidClient, "{case}");
        }
        // The pair is over its limit: the dead secret is a failure.
        assert!(
            throttled(&s.tokens.exchange(request(&id, &secret, source)).await),
            "{case}"
        );
        // And it made nothing known-good: a sprayer there hits the source
        // limit even on the dead secret's id.
        let (other, other_secret) = client(&s, NewClient::named("other")).await;
        for _ in 0..5 {
            let _ = s.tokens.exchange(request(&other, "cc_guess", source)).await;
        }
        assert!(
            throttled(
                &s.tokens
                    .exchange(request(&other, &other_secret, source))
                    .await
            ),
            "{case}"
        );
    }
}

/// Rotation without grace: old instances still presenting the old secret
/// from the same address do not slow the instances with the new one.
#[tokio::test]
async fn old_instances_do_not_slow_the_rotated_ones_at_their_address() {
    let s = setup(tight());
    let acme = tenant("acme");
    let (id, old) = client(&s, NewClient::named("fleet")).await;
    let rotated = s
        .tokens
        .registry()
        .rotate(
            &Actor::System,
            &acme,
            &id,
            RotateOptions::default()
                .mode(RotationMode::ReplaceSecret)
                .grace(Duration::ZERO),
        )
        .await
        .unwrap();
    let new = rotated.credentials.client_secret.expose_secret().to_owned();
    let nat = own("192.0.2.1");
    assert!(s.tokens.exchange(request(&id, &new, nat)).await.is_ok());
    for _ in 0..10 {
        let _ = s.tokens.exchange(request(&id, &old, nat)).await;
    }
    assert!(s.tokens.exchange(request(&id, &new, nat)).await.is_ok());
}

/// Low 3: a dead secret replayed in a loop writes one denial row per
/// interval, the rest are counted.
#[tokio::test]
async fn a_dead_secret_in_a_loop_writes_one_row_per_interval() {
    let s = setup(ThrottleLimits::default());
    let acme = tenant("acme");
    let (id, secret) = client(&s, NewClient::named("dead")).await;
    s.tokens
        .registry()
        .revoke(&Actor::System, &acme, &id)
        .await
        .unwrap();
    let rows = || async {
        s.store
            .activity(&ActivityQuery {
                tenant: acme.clone(),
                client_id: Some(id.clone()),
                after_seq: None,
                limit: 1_000,
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|r| {
                r.event.kind
                    == ActivityKind::TokenDenied {
                        reason: "revoked".into(),
                    }
            })
            .count()
    };
    // No source: nothing throttles the loop, only the rows are bounded.
    for _ in 0..50 {
        let request =
            ExchangeRequest::client_credentials(id.clone(), Secret::from(secret.as_str()));
        assert!(s.tokens.exchange(request).await.is_err());
    }
    assert_eq!(rows().await, 1);
    assert_eq!(
        s.tokens.suppressed_denials().by_reason().get("revoked"),
        Some(&49)
    );
    s.clock.advance(DENIAL_ROW_INTERVAL);
    let request = ExchangeRequest::client_credentials(id.clone(), Secret::from(secret.as_str()));
    assert!(s.tokens.exchange(request).await.is_err());
    assert_eq!(rows().await, 2);
}

/// Low 7: a sprayer hopping over /64s is stopped by its /48, then its /32.
#[test]
fn ipv6_sprayers_are_counted_by_48_and_32_too() {
    let mut limits = tight();
    limits.per_ipv6_48 = 8;
    limits.per_ipv6_32 = 12;
    let throttle = MemoryThrottle::new(limits);
    let now = start();
    // Eight /64s of one /48, one failure each: no /64 is near its limit.
    for i in 0..8 {
        throttle.failed("cc_x", Some(own(&format!("2001:db8:1:{i}::1"))), now);
    }
    assert!(
        throttle
            .admit("cc_y", Some(own("2001:db8:1:ff::1")), now)
            .is_err()
    );
    // Another /48 of the same /32 goes on, until the /32 is full.
    assert!(
        throttle
            .admit("cc_y", Some(own("2001:db8:2::1")), now)
            .is_ok()
    );
    for i in 0..4 {
        throttle.failed("cc_x", Some(own(&format!("2001:db8:2:{i}::1"))), now);
    }
    assert!(
        throttle
            .admit("cc_y", Some(own("2001:db8:3::1")), now)
            .is_err()
    );
    // Another /32 is untouched; so is the window's end.
    assert!(
        throttle
            .admit("cc_y", Some(own("2001:db9::1")), now)
            .is_ok()
    );
    assert!(
        throttle
            .admit(
                "cc_y",
                Some(own("2001:db8:1:ff::1")),
                now + Duration::minutes(16)
            )
            .is_ok()
    );
}

/// Low 7: behind a NAT64 gateway, each IPv4 host is its own source (the
/// /64 of `64:ff9b::` would make all of them one), and is the same source
/// as its plain IPv4 address.
#[test]
fn nat64_sources_count_as_their_ipv4() {
    let throttle = MemoryThrottle::new(tight());
    let now = start();
    let attacker = own("64:ff9b::198.51.100.7");
    for i in 0..5 {
        throttle.failed(&format!("cc_{i}"), Some(attacker), now);
    }
    assert!(throttle.admit("cc_x", Some(attacker), now).is_err());
    assert!(
        throttle
            .admit("cc_x", Some(own("198.51.100.7")), now)
            .is_err()
    );
    assert!(
        throttle
            .admit("cc_x", Some(own("64:ff9b::203.0.113.9")), now)
            .is_ok()
    );
}

/// Mutation testing (issue 20): the window's edges. A pair over its limit
/// is refused until the very end of its window and admitted at it; a
/// failure at or after the end starts a new window, which throttles again
/// (a window that never restarted would never throttle again).
#[test]
fn windows_end_on_time_and_new_ones_throttle_again() {
    let limits = tight();
    let throttle = MemoryThrottle::new(limits);
    let t0 = start();
    let attacker = own("198.51.100.7");
    for _ in 0..3 {
        throttle.failed("cc_victim", Some(attacker), t0);
    }
    assert_eq!(
        throttle.admit("cc_victim", Some(attacker), t0),
        Err(limits.window)
    );
    let end = t0 + limits.window;
    assert_eq!(
        throttle.admit("cc_victim", Some(attacker), end - Duration::seconds(1)),
        Err(Duration::seconds(1))
    );
    assert!(throttle.admit("cc_victim", Some(attacker), end).is_ok());
    for _ in 0..3 {
        throttle.failed("cc_victim", Some(attacker), end);
    }
    assert_eq!(
        throttle.admit("cc_victim", Some(attacker), end),
        Err(limits.window)
    );
    let later = end + limits.window + Duration::minutes(1);
    assert!(throttle.admit("cc_victim", Some(attacker), later).is_ok());
    for _ in 0..3 {
        throttle.failed("cc_victim", Some(attacker), later);
    }
    assert!(throttle.admit("cc_victim", Some(attacker), later).is_err());
}

/// Mutation testing (issue 20): a pair is known-good for exactly
/// `known_good` after it authenticated, and no longer.
#[test]
fn a_pair_is_known_good_for_exactly_its_period() {
    let limits = tight();
    let throttle = MemoryThrottle::new(limits);
    let t0 = start();
    let owner = own("203.0.113.9");
    throttle.succeeded("cc_owner", Some(owner), t0);
    let until = t0 + limits.known_good;
    let before = until - Duration::seconds(1);
    for _ in 0..3 {
        throttle.failed("cc_owner", Some(owner), before);
    }
    assert!(throttle.admit("cc_owner", Some(owner), before).is_ok());
    assert!(throttle.admit("cc_owner", Some(owner), until).is_err());
}

/// Mutation testing (issue 20): what the throttle reports of itself.
#[test]
fn the_throttle_reports_its_limits_and_what_it_holds() {
    let limits = tight();
    let throttle = MemoryThrottle::new(limits);
    assert_eq!(throttle.limits(), &limits);
    assert_ne!(throttle.limits(), &ThrottleLimits::default());
    assert!(throttle.is_empty());
    assert_eq!(throttle.len(), (0, 0));
    let now = start();
    throttle.failed("cc_a", Some(own("198.51.100.7")), now);
    throttle.failed("cc_b", Some(own("198.51.100.7")), now);
    assert_eq!(throttle.len(), (2, 1));
    assert!(!throttle.is_empty());
    // A shared source counts its pairs only.
    throttle.failed("cc_a", Some(shared("192.0.2.1")), now);
    assert_eq!(throttle.len(), (3, 1));
    assert!(shared("192.0.2.1").is_shared());
    assert!(!own("192.0.2.1").is_shared());
}

/// Mutation testing (issue 20): a success refreshes the known-good mark
/// (at most once a minute), so an owner that keeps authenticating stays
/// known-good past the period counted from its first success.
#[test]
fn a_pair_that_keeps_authenticating_stays_known_good() {
    let limits = tight();
    let throttle = MemoryThrottle::new(limits);
    let t0 = start();
    let owner = own("203.0.113.9");
    throttle.succeeded("cc_owner", Some(owner), t0);
    let again = t0 + limits.known_good - Duration::hours(1);
    throttle.succeeded("cc_owner", Some(owner), again);
    let past_first = t0 + limits.known_good + Duration::minutes(1);
    for _ in 0..3 {
        throttle.failed("cc_owner", Some(owner), past_first);
    }
    assert!(throttle.admit("cc_owner", Some(owner), past_first).is_ok());
    // And it ends a period after the last refresh.
    let past_last = again + limits.known_good + Duration::minutes(1);
    for _ in 0..3 {
        throttle.failed("cc_owner", Some(owner), past_last);
    }
    assert!(throttle.admit("cc_owner", Some(owner), past_last).is_err());
}

/// Mutation testing (issue 20): a success clears its pair's failures
/// (they were the owner's typos), even where the known-good exemption
/// does not apply (here: a zero known-good period).
#[test]
fn a_success_clears_its_pairs_failures() {
    let mut limits = tight();
    limits.known_good = Duration::ZERO;
    let throttle = MemoryThrottle::new(limits);
    let now = start();
    let owner = own("203.0.113.9");
    for _ in 0..2 {
        throttle.failed("cc_owner", Some(owner), now);
    }
    throttle.succeeded("cc_owner", Some(owner), now);
    throttle.failed("cc_owner", Some(owner), now);
    assert!(throttle.admit("cc_owner", Some(owner), now).is_ok());
    // Without the success, three failures are the limit.
    throttle.failed("cc_owner", Some(owner), now);
    throttle.failed("cc_owner", Some(owner), now);
    assert!(throttle.admit("cc_owner", Some(owner), now).is_err());
}
