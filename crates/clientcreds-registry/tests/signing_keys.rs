//! The key manager, driven by a manual clock over the in-memory store:
//! first key, publish-before-sign rotation, replicas, master-key rotation,
//! withdraw and rotate-now, and refusals that write nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::sync::Arc;

use clientcreds_jwt::{
    AccessToken, Algorithm, KeySet, TokenClaims, TokenIssuer, TokenVerifier, Validation,
};
use clientcreds_registry::{Clock as _, Error, KeyManager, KeyRotationPolicy, ManualClock};
use clientcreds_secret::MasterKeys;
use clientcreds_store::{KeyStore, MemoryStore};
use time::{Duration, OffsetDateTime};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
const K1_IMPOSTOR: &str = "k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

fn op() -> clientcreds_registry::Actor {
    clientcreds_registry::Actor::platform_admin("ops")
}

fn start_instant() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// Hours instead of days, so a simulation covers several rotations.
fn fast_policy() -> KeyRotationPolicy {
    KeyRotationPolicy::default()
        .with_rotate_every(Duration::hours(2))
        .with_publish_lead(Duration::minutes(30))
        .with_jwks_max_age(Duration::minutes(15))
        .with_refresh_every(Duration::minutes(1))
        .with_keep_after_signing(Duration::hours(1) + Duration::minutes(5))
}

fn master(text: &str) -> Arc<MasterKeys> {
    Arc::new(MasterKeys::parse(text).unwrap())
}

async fn manager(
    store: &Arc<MemoryStore>,
    master_text: &str,
    clock: &Arc<ManualClock>,
) -> Result<KeyManager, Error> {
    KeyManager::start_manual(
        store.clone(),
        master(master_text),
        fast_policy(),
        clock.clone(),
    )
    .await
}

fn mint(keys: &Arc<KeySet>, now: OffsetDateTime) -> AccessToken {
    TokenIssuer::new(keys.clone(), "https://issuer.test")
        .mint(&TokenClaims {
            client_id: "c",
            tenant: "t",
            audience: &["https://api.test".to_owned()],
            scopes: &[],
            extra: &BTreeMap::<String, String>::new(),
            lifetime: Duration::hours(1),
            now,
            secret_id: None,
        })
        .unwrap()
        .access_token
}

fn verifier(keys: Arc<KeySet>) -> TokenVerifier {
    TokenVerifier::new(
        keys,
        Validation::new("https://issuer.test", "https://api.test"),
    )
}

#[tokio::test]
async fn the_first_start_creates_one_key_and_replicas_share_it() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let a = manager(&store, K1, &clock).await.unwrap();
    let b = manager(&store, K1, &clock).await.unwrap();
    let ring = store.signing_keys().await.unwrap();
    assert_eq!(ring.keys.len(), 1);
    assert_eq!(ring.revision, 1);
    let kid = ring.keys[0].kid.clone();
    assert_eq!(a.key_set().signing_key().unwrap().kid(), kid);
    assert_eq!(b.key_set().signing_key().unwrap().kid(), kid);
    // The private key is stored sealed, never in clear.
    assert!(
        ring.keys[0]
            .sealed_private_key
            .starts_with("aes256gcm$v1$k1$")
    );
    assert!(!format!("{:?}", ring.keys[0]).contains("aes256gcm"));
    // A token from one replica verifies with the other's keys.
    let token = mint(&a.key_set(), clock.now());
    verifier(b.key_set())
        .verify_at(token.expose(), clock.now())
        .unwrap();
}

#[tokio::test]
async fn rotation_publishes_before_signing_then_retires_then_unpublishes() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let m = manager(&store, K1, &clock).await.unwrap();
    let first = m.key_set().signing_key().unwrap().kid().to_owned();

    // Just before the lead time: nothing to do.
    clock.advance(Duration::minutes(89));
    let step = m.tick().await.unwrap();
    assert_eq!(step.created, None);
    assert_eq!(m.key_set().jwks().keys.len(), 1);

    // Lead time reached: the next key is published, the first still signs.
    clock.advance(Duration::minutes(1));
    let step = m.tick().await.unwrap();
    let next = step.created.clone().expect("the next key");
    assert_eq!(m.key_set().jwks().keys.len(), 2);
    assert_eq!(m.key_set().signing_key().unwrap().kid(), first);
    let infos = m.keys().await.unwrap();
    let next_info = infos.iter().find(|k| k.kid == next).unwrap();
    assert!(next_info.published && !next_info.signing);
    assert_eq!(next_info.sign_from, start_instant() + Duration::hours(2));

    // A second tick does not make a third key.
    assert_eq!(m.tick().await.unwrap().created, None);

    // At sign_from the next key signs; the first stays published.
    clock.set(start_instant() + Duration::hours(2));
    m.tick().await.unwrap();
    assert_eq!(m.key_set().signing_key().unwrap().kid(), next);
    assert!(m.key_set().verifying_key(&first).is_some());

    // After keep_after_signing + refresh_every the first is gone from the
    // JWKS, and then from the store.
    clock.set(start_instant() + Duration::hours(2) + Duration::minutes(66));
    let step = m.tick().await.unwrap();
    assert_eq!(step.purged, vec![first.clone()]);
    assert!(m.key_set().verifying_key(&first).is_none());
    assert!(
        store
            .signing_keys()
            .await
            .unwrap()
            .keys
            .iter()
            .all(|k| k.kid != first)
    );
}

/// Two replicas ticking at different phases, and a verifier that refetches
/// the JWKS from one of them whenever its copy is `jwks_max_age` old: over
/// many rotations, every token minted by either replica verifies with the
/// verifier's copy for its whole life.
#[tokio::test]
async fn a_verifier_honouring_max_age_never_meets_an_unknown_kid() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let a = manager(&store, K1, &clock).await.unwrap();
    let b = manager(&store, K1, &clock).await.unwrap();
    let policy = fast_policy();
    let mut copy = Arc::new(KeySet::from_jwks(&a.key_set().jwks()).unwrap());
    let mut fetched_at = clock.now();
    let mut live: Vec<(AccessToken, OffsetDateTime)> = Vec::new();
    let mut kids = std::collections::BTreeSet::new();
    let step = Duration::seconds(20);
    let end = start_instant() + Duration::hours(12);
    let mut tick = 0u64;
    while clock.now() < end {
        clock.advance(step);
        tick += 1;
        let now = clock.now();
        // Replica a refreshes on the minute, b 40 s later.
        if tick.is_multiple_of(3) {
            a.tick().await.unwrap();
        }
        if tick % 3 == 2 {
            b.tick().await.unwrap();
        }
        if now - fetched_at >= policy.jwks_max_age {
            let source = if tick.is_multiple_of(2) { &a } else { &b };
            copy = Arc::new(KeySet::from_jwks(&source.key_set().jwks()).unwrap());
            fetched_at = now;
        }
        // Each replica mints every 2 minutes (one token a minute in all).
        if tick % 6 < 2 {
            let replica = if tick.is_multiple_of(6) { &a } else { &b };
            let token = mint(&replica.key_set(), now);
            kids.insert(replica.key_set().signing_key().unwrap().kid().to_owned());
            live.push((token, now + Duration::hours(1)));
        }
        live.retain(|(_, exp)| *exp > now);
        // Check the live tokens twice a minute, right after either replica
        // refreshed.
        if tick % 3 == 1 {
            continue;
        }
        let check = verifier(copy.clone());
        for (token, _) in &live {
            if let Err(error) = check.verify_at(token.expose(), now) {
                panic!("at {now}: a live token failed: {error}");
            }
        }
    }
    // Twelve hours of two-hour keys: the first key and five rotations (the
    // sixth key is published at 11:30 and signs at 12:00).
    assert!(kids.len() >= 6, "{kids:?}");
    assert!(store.signing_keys().await.unwrap().keys.len() <= 3);
}

#[tokio::test]
async fn racing_replicas_rotate_once() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let replicas: Vec<KeyManager> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(manager(&store, K1, &clock).await.unwrap());
        }
        v
    };
    clock.advance(Duration::minutes(95));
    let steps = futures_join(replicas.iter().map(KeyManager::tick).collect()).await;
    let created: Vec<_> = steps
        .iter()
        .filter_map(|s| s.as_ref().unwrap().created.clone())
        .collect();
    assert_eq!(created.len(), 1, "{steps:?}");
    assert_eq!(store.signing_keys().await.unwrap().keys.len(), 2);
    for replica in &replicas {
        assert_eq!(replica.key_set().jwks().keys.len(), 2);
    }
}

/// Runs futures concurrently on this task.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out = Vec::new();
    // Sequential awaits still interleave at the store's await points only
    // if polled together: poll them together.
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (slot, result) in pending.iter_mut().zip(results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => {
                        *result = Some(value);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for result in results {
        out.push(result.unwrap());
    }
    out
}

#[tokio::test]
async fn a_master_rotation_reseals_and_old_master_can_then_be_dropped() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let old = manager(&store, K1, &clock).await.unwrap();
    let token = mint(&old.key_set(), clock.now());
    drop(old);

    let rotated = manager(&store, &format!("{K2},{K1}"), &clock)
        .await
        .unwrap();
    let ring = store.signing_keys().await.unwrap();
    assert!(
        ring.keys
            .iter()
            .all(|k| k.sealed_private_key.starts_with("aes256gcm$v1$k2$"))
    );
    verifier(rotated.key_set())
        .verify_at(token.expose(), clock.now())
        .unwrap();

    // Now k1 can go.
    let only_new = manager(&store, K2, &clock).await.unwrap();
    verifier(only_new.key_set())
        .verify_at(token.expose(), clock.now())
        .unwrap();
}

#[tokio::test]
async fn a_wrong_master_key_is_a_clear_error_and_writes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let kid = {
        let m = manager(&store, K1, &clock).await.unwrap();
        m.key_set().signing_key().unwrap().kid().to_owned()
    };
    let before = store.signing_keys().await.unwrap();

    let missing = manager(&store, K2, &clock).await.unwrap_err();
    match &missing {
        Error::SealedSigningKey { kid: k, source } => {
            assert_eq!(k, &kid);
            assert_eq!(
                source,
                &clientcreds_secret::Error::UnknownMasterKey {
                    key_id: "k1".into()
                }
            );
        }
        other => panic!("expected SealedSigningKey, got {other:?}"),
    }
    // The message names the kid; its source (not repeated in it) names
    // the master key that is missing.
    assert!(missing.to_string().contains(&kid));
    let cause = std::error::Error::source(&missing).unwrap().to_string();
    assert!(cause.contains("master key `k1`"), "{cause}");
    assert!(!missing.to_string().contains(&cause));

    let impostor = manager(&store, K1_IMPOSTOR, &clock).await.unwrap_err();
    assert!(matches!(
        impostor,
        Error::SealedSigningKey {
            source: clientcreds_secret::Error::SealedDataRejected { .. },
            ..
        }
    ));
    assert_eq!(store.signing_keys().await.unwrap(), before);
}

#[tokio::test]
async fn withdrawing_the_signer_kills_its_tokens_and_a_new_key_signs() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let a = manager(&store, K1, &clock).await.unwrap();
    let b = manager(&store, K1, &clock).await.unwrap();
    let compromised = a.key_set().signing_key().unwrap().kid().to_owned();
    let token = mint(&a.key_set(), clock.now());

    a.withdraw(&op(), &compromised).await.unwrap();
    assert!(a.key_set().verifying_key(&compromised).is_none());
    let signer = a.key_set().signing_key().unwrap().kid().to_owned();
    assert_ne!(signer, compromised);
    assert!(
        verifier(a.key_set())
            .verify_at(token.expose(), clock.now())
            .is_err()
    );

    // The other replica drops it at its next reload.
    b.reload().await.unwrap();
    assert!(b.key_set().verifying_key(&compromised).is_none());
    assert_eq!(b.key_set().signing_key().unwrap().kid(), signer);

    assert!(matches!(
        a.withdraw(&op(), "no-such-kid").await,
        Err(Error::NotFound)
    ));
}

#[tokio::test]
async fn withdrawing_the_signer_promotes_a_published_next_key() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let m = manager(&store, K1, &clock).await.unwrap();
    let first = m.key_set().signing_key().unwrap().kid().to_owned();
    let next = m.rotate_now(&op()).await.unwrap();
    // Rotate now publishes at once and signs after the lead.
    assert!(m.key_set().verifying_key(&next).is_some());
    assert_eq!(m.key_set().signing_key().unwrap().kid(), first);
    clock.advance(Duration::minutes(30));
    m.tick().await.unwrap();
    assert_eq!(m.key_set().signing_key().unwrap().kid(), next);

    // A next key, then the signer withdrawn: the next key signs at once.
    let third = m.rotate_now(&op()).await.unwrap();
    m.withdraw(&op(), &next).await.unwrap();
    assert_eq!(m.key_set().signing_key().unwrap().kid(), third);
    assert_eq!(store.signing_keys().await.unwrap().keys.len(), 2);
}

#[tokio::test]
async fn unsafe_policies_are_refused() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    for (policy, needle) in [
        (fast_policy().with_algorithm(Algorithm::HS256), "HS256"),
        (
            fast_policy().with_publish_lead(Duration::minutes(10)),
            "publish_lead",
        ),
        (
            fast_policy().with_rotate_every(Duration::minutes(20)),
            "rotate_every",
        ),
        (
            fast_policy().with_refresh_every(Duration::ZERO),
            "refresh_every",
        ),
        (
            fast_policy().with_rotate_every(Duration::days(10_000)),
            "at most 10 years",
        ),
        (
            fast_policy().with_jwks_max_age(Duration::seconds(i64::MAX / 2)),
            "at most 10 years",
        ),
    ] {
        let error = KeyManager::start_manual(store.clone(), master(K1), policy, clock.clone())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::KeyPolicy { .. }), "{error:?}");
        assert!(error.to_string().contains(needle), "{error}");
    }
    assert_eq!(store.signing_keys().await.unwrap().revision, 0);
}

#[tokio::test]
async fn es256_and_rs256_keys_round_trip_through_the_store() {
    for algorithm in [Algorithm::ES256, Algorithm::RS256] {
        if algorithm == Algorithm::RS256 && clientcreds_jwt::CRYPTO_BACKEND == "ring" {
            continue; // ring cannot generate RSA keys
        }
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(start_instant()));
        let policy = fast_policy().with_algorithm(algorithm);
        let a = KeyManager::start_manual(store.clone(), master(K1), policy.clone(), clock.clone())
            .await
            .unwrap();
        let token = mint(&a.key_set(), clock.now());
        let b = KeyManager::start_manual(store.clone(), master(K1), policy, clock.clone())
            .await
            .unwrap();
        let context = verifier(b.key_set())
            .verify_at(token.expose(), clock.now())
            .unwrap();
        assert_eq!(context.client_id, "c");
    }
}

#[tokio::test]
async fn withdrawing_the_next_key_keeps_the_current_one_signing() {
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(start_instant()));
    let m = manager(&store, K1, &clock).await.unwrap();
    let first = m.key_set().signing_key().unwrap().kid().to_owned();
    let next = m.rotate_now(&op()).await.unwrap();
    m.withdraw(&op(), &next).await.unwrap();
    // Past the withdrawn key's planned start: the first key still signs.
    clock.advance(Duration::minutes(45));
    m.reload().await.unwrap();
    assert_eq!(m.key_set().signing_key().unwrap().kid(), first);
    // No successor yet; when the rotation falls due, a tick publishes one,
    // which signs only after the lead.
    assert_eq!(m.tick().await.unwrap().created, None);
    clock.set(start_instant() + Duration::minutes(90));
    let step = m.tick().await.unwrap();
    let third = step.created.expect("a new successor");
    assert_eq!(m.key_set().signing_key().unwrap().kid(), first);
    assert!(m.key_set().verifying_key(&third).is_some());
    clock.set(start_instant() + Duration::hours(2));
    m.tick().await.unwrap();
    assert_eq!(m.key_set().signing_key().unwrap().kid(), third);
}

/// A key store whose reads can be made to fail.
#[derive(Debug)]
struct Flaky {
    inner: MemoryStore,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl KeyStore for Flaky {
    async fn signing_keys(
        &self,
    ) -> Result<clientcreds_store::KeyRing, clientcreds_store::StoreError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(clientcreds_store::StoreError::backend(
                std::io::Error::other("database down"),
            ));
        }
        self.inner.signing_keys().await
    }

    async fn change_signing_keys(
        &self,
        expected_revision: u64,
        changes: &[clientcreds_store::KeyChange],
    ) -> Result<u64, clientcreds_store::StoreError> {
        self.inner
            .change_signing_keys(expected_revision, changes)
            .await
    }
}

#[tokio::test]
async fn with_the_store_down_the_keys_still_move_on_in_time() {
    let store = Arc::new(Flaky {
        inner: MemoryStore::new(),
        down: std::sync::atomic::AtomicBool::new(false),
    });
    let clock = Arc::new(ManualClock::new(start_instant()));
    let m = KeyManager::start_manual(store.clone(), master(K1), fast_policy(), clock.clone())
        .await
        .unwrap();
    let first = m.key_set().signing_key().unwrap().kid().to_owned();
    clock.advance(Duration::minutes(95));
    let next = m.tick().await.unwrap().created.unwrap();
    store.down.store(true, std::sync::atomic::Ordering::SeqCst);
    // Past the switch while the store is down: the tick fails, but the
    // key set follows the schedule it last read.
    clock.set(start_instant() + Duration::hours(2) + Duration::minutes(10));
    assert!(matches!(m.tick().await, Err(Error::Store(_))));
    assert_eq!(m.key_set().signing_key().unwrap().kid(), next);
    // And the retired key leaves the JWKS when its time is up.
    clock.set(start_instant() + Duration::hours(4) + Duration::minutes(10));
    assert!(m.tick().await.is_err());
    assert!(m.key_set().verifying_key(&first).is_none());
}
