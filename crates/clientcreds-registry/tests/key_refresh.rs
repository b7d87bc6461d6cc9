//! The key manager keeps itself current: with a real clock and a policy of
//! seconds, the refresh task that `KeyManager::start` spawns rotates the
//! signing key with nobody calling `tick`; `shutdown` and drop stop it;
//! `start_manual` runs none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use clientcreds_registry::{Error, KeyManager, KeyRotationPolicy, SystemClock};
use clientcreds_secret::MasterKeys;
use clientcreds_store::{KeyStore, MemoryStore};
use time::Duration;

/// Rotation within two seconds: the next key is published 0.75 s after the
/// first signs and takes over at 2 s; each replica ticks every 250 ms.
fn short_policy() -> KeyRotationPolicy {
    KeyRotationPolicy::default()
        .with_rotate_every(Duration::seconds(2))
        .with_jwks_max_age(Duration::seconds(1))
        .with_refresh_every(Duration::milliseconds(250))
        .with_publish_lead(Duration::milliseconds(1_250))
}

fn master() -> Arc<MasterKeys> {
    Arc::new(MasterKeys::ephemeral().unwrap())
}

fn signing_kid(manager: &KeyManager) -> String {
    manager
        .key_set()
        .signing_key()
        .expect("a signing key")
        .kid()
        .to_owned()
}

/// Waits up to `limit` for the signing kid to differ from `first`.
async fn rotated_within(manager: &KeyManager, first: &str, limit: StdDuration) -> Option<String> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let kid = signing_kid(manager);
        if kid != first {
            return Some(kid);
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_rotates_by_itself_on_a_real_clock() {
    let store = Arc::new(MemoryStore::new());
    let manager = KeyManager::start(
        store.clone(),
        master(),
        short_policy(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    assert!(manager.is_refreshing());
    let first = signing_kid(&manager);
    // Nobody calls tick: the manager's own task publishes the next key
    // (before it signs) and switches to it.
    let published_early = {
        let started = Instant::now();
        loop {
            if manager.key_set().jwks().keys.len() >= 2 {
                break true;
            }
            if started.elapsed() > StdDuration::from_secs(5) {
                break false;
            }
            tokio::time::sleep(StdDuration::from_millis(25)).await;
        }
    };
    assert!(published_early, "the next key was never published");
    assert_eq!(signing_kid(&manager), first, "published before it signs");
    let second = rotated_within(&manager, &first, StdDuration::from_secs(5))
        .await
        .expect("the signing key rotated within 5 s");
    assert_ne!(second, first);
    // The store agrees: the new key was written there, not only loaded.
    let stored = store.signing_keys().await.unwrap();
    assert!(stored.keys.iter().any(|k| k.kid == second));
    manager.shutdown().await;
    assert!(!manager.is_refreshing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_stop_the_task_and_manual_mode_runs_none() {
    // After shutdown nothing writes to the store: the revision stays put
    // over what would have been several rotations.
    let store = Arc::new(MemoryStore::new());
    let manager = KeyManager::start(
        store.clone(),
        master(),
        short_policy(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    manager.shutdown().await;
    let revision = store.signing_keys().await.unwrap().revision;
    tokio::time::sleep(StdDuration::from_millis(2_600)).await;
    assert_eq!(store.signing_keys().await.unwrap().revision, revision);
    // A second shutdown is harmless.
    manager.shutdown().await;

    // Dropped: the same.
    let dropped_store = Arc::new(MemoryStore::new());
    let manager = KeyManager::start(
        dropped_store.clone(),
        master(),
        short_policy(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    drop(manager);
    let revision = dropped_store.signing_keys().await.unwrap().revision;

    // Manual mode: no task; the host's tick does the work.
    let manual_store = Arc::new(MemoryStore::new());
    let manual = KeyManager::start_manual(
        manual_store.clone(),
        master(),
        short_policy(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    assert!(!manual.is_refreshing());
    let first = signing_kid(&manual);
    let manual_revision = manual_store.signing_keys().await.unwrap().revision;
    tokio::time::sleep(StdDuration::from_millis(2_600)).await;
    assert_eq!(
        dropped_store.signing_keys().await.unwrap().revision,
        revision
    );
    assert_eq!(
        manual_store.signing_keys().await.unwrap().revision,
        manual_revision
    );
    assert_eq!(signing_kid(&manual), first);
    // By hand, the overdue rotation happens (its next key is published).
    let step = manual.tick().await.unwrap();
    assert!(step.created.is_some());
}

#[test]
fn start_outside_a_runtime_is_a_typed_error_and_writes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let start = KeyManager::start(
        store.clone(),
        master(),
        short_policy(),
        Arc::new(SystemClock),
    );
    // Polled by a plain executor, not tokio: no runtime to spawn on.
    let result = block_on_without_tokio(start);
    assert!(matches!(result, Err(Error::NoRuntime)), "{result:?}");
    let keys = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(store.signing_keys())
        .unwrap();
    assert!(keys.keys.is_empty());
}

/// A minimal executor: polls `future` on this thread, parking between
/// wake-ups. Enough for a future that returns before touching tokio.
fn block_on_without_tokio<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}
