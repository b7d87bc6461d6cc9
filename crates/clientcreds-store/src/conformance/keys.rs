//! Checks of the signing-key store ([`KeyStore`]).

use std::future::Future;

use time::{Duration, OffsetDateTime, UtcOffset};

use super::support::{Check, Task, Want, join_all, single_winner};
use crate::{KeyChange, KeyRing, KeyStore, StoreError, StoredKey};

/// Runs every key-store check, each against a fresh, empty store made by
/// `make`. It panics at the first failed check, naming it.
///
/// ```
/// use clientcreds_store::{MemoryStore, conformance};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// conformance::run_key_store(|| async { MemoryStore::new() }).await;
/// # }
/// ```
pub async fn run_key_store<S, F, Fut>(mut make: F)
where
    S: KeyStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    key_store_round_trip(&make().await).await;
    key_store_compare_and_set(&make().await).await;
    key_store_atomic_changes(&make().await).await;
    key_store_concurrent_rotation(&make().await).await;
    key_store_withdrawn(&make().await).await;
}

/// Checks [`KeyChange::Withdraw`]: it deletes the key and records its kid
/// in [`KeyRing::withdrawn`] for good (sorted; a kid that is not stored is
/// recorded too, once); an insert of a withdrawn kid is then refused with
/// [`StoreError::InvalidKey`] and writes nothing.
pub async fn key_store_withdrawn(store: &dyn KeyStore) {
    let c = Check("key_store_withdrawn");
    c.ok(
        "inserting two keys",
        store
            .change_signing_keys(
                0,
                &[
                    KeyChange::Insert(key("kid-b", 0)),
                    KeyChange::Insert(key("kid-a", 10)),
                ],
            )
            .await,
    );
    let revision = c.ok(
        "withdrawing one stored and one unknown kid",
        store
            .change_signing_keys(
                1,
                &[
                    KeyChange::Withdraw {
                        kid: "kid-b".into(),
                    },
                    KeyChange::Withdraw {
                        kid: "kid-0".into(),
                    },
                    KeyChange::Withdraw {
                        kid: "kid-b".into(),
                    },
                ],
            )
            .await,
    );
    c.eq("the revision after a withdrawal", revision, 2);
    let ring = c.ok("reading the keys", store.signing_keys().await);
    c.eq(
        "keys after a withdrawal",
        ring.keys.clone(),
        vec![key("kid-a", 10)],
    );
    c.eq(
        "withdrawn kids, sorted, once each",
        ring.withdrawn.clone(),
        vec!["kid-0".to_owned(), "kid-b".to_owned()],
    );
    c.that(
        "is_withdrawn",
        ring.is_withdrawn("kid-b") && !ring.is_withdrawn("kid-a"),
    );
    c.eq(
        "inserting a withdrawn kid again",
        store
            .change_signing_keys(2, &[KeyChange::Insert(key("kid-b", 20))])
            .await
            .map_err(|e| matches!(e, StoreError::InvalidKey { .. })),
        Err(true),
    );
    let after = c.ok("reading the keys", store.signing_keys().await);
    c.eq("a refused insert writes nothing", after, ring);
}

/// Checks that an empty store is revision 0 with no keys; that inserted
/// keys read back exactly (every instant to the microsecond, whatever its
/// UTC offset; open ends stay open), ordered by `sign_from` then `kid`;
/// that an update replaces a key's schedule and sealed text; that a remove
/// deletes it; and that each change moves the revision by exactly one.
pub async fn key_store_round_trip(store: &dyn KeyStore) {
    let c = Check("key_store_round_trip");
    let empty = c.ok("reading an empty store", store.signing_keys().await);
    c.eq("an empty store", empty, KeyRing::default());

    let later = key("kid-b", 3_600);
    let mut earlier = key("kid-a", 0);
    earlier.sign_until = Some(at(3_600) + Duration::microseconds(1));
    earlier.unpublish_after = Some(at(7_200).to_offset(UtcOffset::from_hms(5, 30, 0).unwrap()));
    let revision = c.ok(
        "inserting two keys",
        store
            .change_signing_keys(
                0,
                &[
                    KeyChange::Insert(later.clone()),
                    KeyChange::Insert(earlier.clone()),
                ],
            )
            .await,
    );
    c.eq("the revision after one change", revision, 1);
    let ring = c.ok("reading the keys", store.signing_keys().await);
    c.eq("revision read back", ring.revision, 1);
    c.eq(
        "keys read back, ordered by sign_from",
        ring.keys.clone(),
        vec![earlier.clone(), later.clone()],
    );

    let mut scheduled = later.clone();
    scheduled.sign_until = Some(at(10_000));
    scheduled.unpublish_after = Some(at(20_000));
    scheduled.sealed_private_key = "sealed-under-another-master".into();
    c.eq(
        "the revision after an update",
        c.ok(
            "updating a key's schedule",
            store
                .change_signing_keys(1, &[KeyChange::Update(scheduled.clone())])
                .await,
        ),
        2,
    );
    let ring = c.ok("reading the keys", store.signing_keys().await);
    c.eq(
        "an updated key",
        ring.keys,
        vec![earlier.clone(), scheduled.clone()],
    );

    c.eq(
        "the revision after a remove",
        c.ok(
            "removing a key",
            store
                .change_signing_keys(
                    2,
                    &[KeyChange::Remove {
                        kid: "kid-a".into(),
                    }],
                )
                .await,
        ),
        3,
    );
    let ring = c.ok("reading the keys", store.signing_keys().await);
    c.eq("keys after a remove", ring.keys, vec![scheduled]);
    c.eq("revision after a remove", ring.revision, 3);
}

/// Checks the refusals, each of which writes nothing and keeps the
/// revision: a stale or future revision ([`StoreError::Conflict`]), an
/// existing kid ([`StoreError::Duplicate`]), an update or remove of a kid
/// that is not stored ([`StoreError::NotFound`]), and keys that are not
/// storable ([`StoreError::InvalidKey`]: empty kid, instants out of order).
pub async fn key_store_compare_and_set(store: &dyn KeyStore) {
    let c = Check("key_store_compare_and_set");
    let first = key("kid-1", 0);
    c.ok(
        "inserting a key",
        store
            .change_signing_keys(0, &[KeyChange::Insert(first.clone())])
            .await,
    );
    let before = c.ok("reading the keys", store.signing_keys().await);
    let refusals: Vec<(&str, u64, KeyChange, Want)> = vec![
        (
            "a stale revision",
            0,
            KeyChange::Insert(key("kid-2", 10)),
            Want::Conflict,
        ),
        (
            "a revision from the future",
            7,
            KeyChange::Insert(key("kid-2", 10)),
            Want::Conflict,
        ),
        (
            "an existing kid",
            1,
            KeyChange::Insert(key("kid-1", 10)),
            Want::Duplicate,
        ),
        (
            "an update of a missing kid",
            1,
            KeyChange::Update(key("kid-9", 10)),
            Want::NotFound,
        ),
        (
            "a remove of a missing kid",
            1,
            KeyChange::Remove {
                kid: "kid-9".into(),
            },
            Want::NotFound,
        ),
    ];
    for (what, revision, change, want) in refusals {
        c.err(
            what,
            store.change_signing_keys(revision, &[change]).await,
            want,
        );
        c.eq(
            &format!("the store after {what}"),
            c.ok("reading the keys", store.signing_keys().await),
            before.clone(),
        );
    }
    let mut empty_kid = key("", 10);
    empty_kid.kid.clear();
    let mut backwards = key("kid-3", 10);
    backwards.sign_until = Some(at(5));
    let mut unpublished_early = key("kid-4", 10);
    unpublished_early.sign_until = Some(at(100));
    unpublished_early.unpublish_after = Some(at(50));
    let mut published_late = key("kid-5", 10);
    published_late.publish_from = at(20);
    for (what, bad) in [
        ("an empty kid", empty_kid),
        ("sign_until before sign_from", backwards),
        ("unpublish_after before sign_until", unpublished_early),
        ("publish_from after sign_from", published_late),
    ] {
        match store
            .change_signing_keys(1, &[KeyChange::Insert(bad)])
            .await
        {
            Err(StoreError::InvalidKey { .. }) => {}
            other => c.fail(&format!(
                "{what}: expected StoreError::InvalidKey, got {other:?}"
            )),
        }
        c.eq(
            &format!("the store after {what}"),
            c.ok("reading the keys", store.signing_keys().await),
            before.clone(),
        );
    }
}

/// Checks that a list of changes is all or nothing: a valid insert
/// followed by a refused change writes neither; a valid list applies every
/// change under one new revision.
pub async fn key_store_atomic_changes(store: &dyn KeyStore) {
    let c = Check("key_store_atomic_changes");
    c.ok(
        "inserting a key",
        store
            .change_signing_keys(0, &[KeyChange::Insert(key("kid-1", 0))])
            .await,
    );
    let before = c.ok("reading the keys", store.signing_keys().await);
    c.err(
        "an insert followed by a duplicate",
        store
            .change_signing_keys(
                1,
                &[
                    KeyChange::Insert(key("kid-2", 10)),
                    KeyChange::Insert(key("kid-1", 20)),
                ],
            )
            .await,
        Want::Duplicate,
    );
    c.eq(
        "the store after a refused list",
        c.ok("reading the keys", store.signing_keys().await),
        before,
    );
    let mut retired = key("kid-1", 0);
    retired.sign_until = Some(at(10));
    retired.unpublish_after = Some(at(100));
    c.eq(
        "the revision after a list of changes",
        c.ok(
            "a rotation: schedule the old key's end, insert the next",
            store
                .change_signing_keys(
                    1,
                    &[
                        KeyChange::Update(retired.clone()),
                        KeyChange::Insert(key("kid-2", 10)),
                    ],
                )
                .await,
        ),
        2,
    );
    c.eq(
        "the keys after a list of changes",
        c.ok("reading the keys", store.signing_keys().await).keys,
        vec![retired, key("kid-2", 10)],
    );
}

/// Checks that of several writers racing from one revision (replicas that
/// found the same rotation due), exactly one succeeds and the others get
/// [`StoreError::Conflict`]: one new key, not several.
pub async fn key_store_concurrent_rotation(store: &dyn KeyStore) {
    const WRITERS: usize = 8;
    let c = Check("key_store_concurrent_rotation");
    c.ok(
        "inserting the first key",
        store
            .change_signing_keys(0, &[KeyChange::Insert(key("kid-0", 0))])
            .await,
    );
    let tasks: Vec<Task<'_, Result<(), StoreError>>> = (1..=WRITERS)
        .map(|i| {
            let next = key(&format!("kid-next-{i}"), 100);
            Box::pin(async move {
                store
                    .change_signing_keys(1, &[KeyChange::Insert(next)])
                    .await
                    .map(|_| ())
            }) as Task<'_, _>
        })
        .collect();
    let results = join_all(tasks).await;
    let winner = single_winner(c, "racing rotations", &results, |e| {
        matches!(e, StoreError::Conflict)
    });
    let ring = c.ok("reading the keys", store.signing_keys().await);
    c.eq("the revision after the race", ring.revision, 2);
    c.eq(
        "the keys after the race",
        ring.keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(),
        vec!["kid-0".to_owned(), format!("kid-next-{}", winner + 1)],
    );
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_000_000_000 + secs).unwrap()
        + Duration::microseconds(123_456)
}

fn key(kid: &str, sign_from_secs: i64) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".into(),
        public_jwk: format!(r#"{{"kty":"OKP","crv":"Ed25519","kid":"{kid}","x":"AAAA"}}"#),
        sealed_private_key: format!("aes256gcm$v1$m1${kid}"),
        created_at: at(sign_from_secs - 100),
        publish_from: at(sign_from_secs - 50),
        sign_from: at(sign_from_secs),
        sign_until: None,
        unpublish_after: None,
    }
}
