//! Checks of a [`ReplayStore`]: single use, expiry, races, pruning.

use crate::{ReplayCheck, ReplayStore, StoreError};

#[allow(clippy::wildcard_imports)]
use super::support::*;

/// Runs every replay-store check, each against a fresh store made by
/// `make`.
pub async fn run_replay_store<S, F, Fut>(mut make: F)
where
    S: ReplayStore,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    replay_single_use(&make().await).await;
    replay_expiry(&make().await).await;
    replay_concurrent(&make().await).await;
    replay_prune(&make().await).await;
}

/// A key is [`ReplayCheck::First`] once, then [`ReplayCheck::Replayed`]
/// until it expires; another key is independent; an empty or over-long key
/// is [`StoreError::InvalidReplayKey`].
pub async fn replay_single_use(store: &dyn ReplayStore) {
    let c = Check("replay_single_use");
    let now = at(NOW_SECS);
    let until = at(NOW_SECS + 60);
    let check = |key: &'static str| store.check_and_record(key, until, now);
    c.eq(
        "a new key",
        c.ok("checking a key", check("k-1").await),
        ReplayCheck::First,
    );
    c.eq(
        "the same key again",
        c.ok("checking it again", check("k-1").await),
        ReplayCheck::Replayed,
    );
    c.eq(
        "another key",
        c.ok("checking another", check("k-2").await),
        ReplayCheck::First,
    );
    for (what, key) in [
        ("an empty key", String::new()),
        ("a 129-byte key", "k".repeat(129)),
    ] {
        match store.check_and_record(&key, until, now).await {
            Err(StoreError::InvalidReplayKey) => {}
            other => panic!(
                "replay_single_use: {what}: expected StoreError::InvalidReplayKey, got {other:?}"
            ),
        }
    }
    let longest = "k".repeat(128);
    c.eq(
        "a 128-byte key",
        c.ok(
            "checking a 128-byte key",
            store.check_and_record(&longest, until, now).await,
        ),
        ReplayCheck::First,
    );
}

/// A key seen before is still replayed one microsecond before its expiry,
/// and is first again at its expiry (the earlier entry is over).
pub async fn replay_expiry(store: &dyn ReplayStore) {
    let c = Check("replay_expiry");
    let until = at(NOW_SECS + 60);
    let check = |now| store.check_and_record("k-exp", until, now);
    c.eq(
        "first use",
        c.ok("checking", check(at(NOW_SECS)).await),
        ReplayCheck::First,
    );
    let just_before = until - time::Duration::microseconds(1);
    c.eq(
        "just before the expiry",
        c.ok("checking", check(just_before).await),
        ReplayCheck::Replayed,
    );
    let later = at(NOW_SECS + 120);
    c.eq(
        "at the expiry",
        c.ok(
            "checking",
            store.check_and_record("k-exp", later, until).await,
        ),
        ReplayCheck::First,
    );
    c.eq(
        "and recorded again until the new expiry",
        c.ok(
            "checking",
            store
                .check_and_record("k-exp", later, at(NOW_SECS + 90))
                .await,
        ),
        ReplayCheck::Replayed,
    );
}

/// Writers racing with one key: exactly one sees [`ReplayCheck::First`].
pub async fn replay_concurrent(store: &dyn ReplayStore) {
    let c = Check("replay_concurrent");
    let (now, until) = (at(NOW_SECS), at(NOW_SECS + 60));
    let tasks: Vec<Task<'_, Result<ReplayCheck, StoreError>>> = (0..WRITERS)
        .map(|_| Box::pin(store.check_and_record("k-race", until, now)) as Task<'_, _>)
        .collect();
    let results = join_all(tasks).await;
    let first = results
        .into_iter()
        .map(|r| c.ok("checking in a race", r))
        .filter(|r| *r == ReplayCheck::First)
        .count();
    c.eq("racing writers that saw a first use", first, 1);
}

/// Pruning deletes exactly the expired entries, and a pruned key is new.
pub async fn replay_prune(store: &dyn ReplayStore) {
    let c = Check("replay_prune");
    let now = at(NOW_SECS);
    for (key, secs) in [("p-1", 10), ("p-2", 20), ("p-3", 30)] {
        c.ok(
            "recording",
            store.check_and_record(key, at(NOW_SECS + secs), now).await,
        );
    }
    c.eq(
        "entries pruned at +20 s",
        c.ok("pruning", store.prune_replays(at(NOW_SECS + 20)).await),
        2,
    );
    c.eq(
        "a live key after the prune",
        c.ok(
            "checking",
            store
                .check_and_record("p-3", at(NOW_SECS + 60), at(NOW_SECS + 21))
                .await,
        ),
        ReplayCheck::Replayed,
    );
    c.eq(
        "a pruned key",
        c.ok(
            "checking",
            store
                .check_and_record("p-1", at(NOW_SECS + 60), at(NOW_SECS + 21))
                .await,
        ),
        ReplayCheck::First,
    );
}
