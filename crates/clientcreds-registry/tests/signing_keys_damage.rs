//! The key manager facing a damaged key store (issue 20): a row that does
//! not open is skipped and reported instead of stopping every replica and
//! freezing rotation; a withdrawn kid is recorded for good, so a row
//! restored from a backup is never published again; rotate and withdraw
//! leave audit records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use clientcreds_registry::{
    Actor, Clock as _, Error, KeyManager, KeyRotationPolicy, ManualClock, SIGNING_KEY_AUDIT_TENANT,
};
use clientcreds_secret::MasterKeys;
use clientcreds_store::{
    AuditAction, AuditActor, AuditLog, AuditQuery, KeyChange, KeyRing, KeyStore, MemoryStore,
    StoreError, StoredKey, TenantId,
};
use time::{Duration, OffsetDateTime};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

fn policy() -> KeyRotationPolicy {
    KeyRotationPolicy::default()
        .with_rotate_every(Duration::hours(2))
        .with_publish_lead(Duration::minutes(30))
        .with_jwks_max_age(Duration::minutes(15))
        .with_refresh_every(Duration::minutes(1))
        .with_keep_after_signing(Duration::hours(1) + Duration::minutes(5))
}

async fn manager(
    store: Arc<dyn KeyStore>,
    master: &str,
    clock: &Arc<ManualClock>,
) -> Result<KeyManager, Error> {
    KeyManager::start(
        store,
        Arc::new(MasterKeys::parse(master).unwrap()),
        policy(),
        clock.clone(),
    )
    .await
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
    ))
}

/// A copy of `key` under another kid whose sealed text opens under no
/// master key (a damaged row).
fn damaged(key: &StoredKey, kid: &str) -> StoredKey {
    let mut bad = key.clone();
    bad.kid = kid.to_owned();
    bad.sealed_private_key = "aes256gcm$v1$k1$AAAA$AAAA".to_owned();
    bad
}

fn op() -> Actor {
    Actor::platform_admin("ops")
}

#[tokio::test]
async fn an_unreadable_row_is_skipped_and_rotation_goes_on() {
    let store = Arc::new(MemoryStore::new());
    let clock = clock();
    let first = manager(store.clone(), K1, &clock).await.unwrap();
    let signer = first.key_set().signing_key().unwrap().kid().to_owned();
    drop(first);
    // A retired key, still published, whose row no longer opens.
    let ring = store.signing_keys().await.unwrap();
    let mut bad = damaged(&ring.keys[0], "damaged-kid");
    bad.sign_from -= Duration::hours(3);
    bad.publish_from = bad.sign_from;
    bad.created_at = bad.sign_from;
    bad.sign_until = Some(clock.now() - Duration::minutes(10));
    bad.unpublish_after = Some(clock.now() + Duration::minutes(50));
    store
        .change_signing_keys(ring.revision, &[KeyChange::Insert(bad)])
        .await
        .unwrap();

    // A replica starts: before, the damaged row was a start-up error on
    // every replica.
    let m = manager(store.clone(), K1, &clock).await.unwrap();
    assert_eq!(m.unreadable(), vec!["damaged-kid".to_owned()]);
    assert_eq!(m.key_set().signing_key().unwrap().kid(), signer);
    assert!(m.key_set().verifying_key("damaged-kid").is_none());
    assert_eq!(m.key_set().jwks().keys.len(), 1);

    // A master-key rotation re-seals what opens and leaves the damaged
    // row be (before: every tick failed on it, freezing rotation).
    let resealing = manager(store.clone(), &format!("{K2},{K1}"), &clock)
        .await
        .unwrap();
    let step = resealing.tick().await.unwrap();
    assert_eq!(step.unreadable, vec!["damaged-kid".to_owned()]);
    let ring = store.signing_keys().await.unwrap();
    let good = ring.keys.iter().find(|k| k.kid == signer).unwrap();
    assert!(good.sealed_private_key.starts_with("aes256gcm$v1$k2$"));

    // Time goes on: the next key is made on schedule, and the damaged
    // row is purged at its end like any other.
    clock.advance(Duration::hours(2));
    let step = resealing.tick().await.unwrap();
    assert!(step.created.is_some(), "{step:?}");
    assert!(step.purged.contains(&"damaged-kid".to_owned()), "{step:?}");
    assert!(resealing.unreadable().is_empty());
}

#[tokio::test]
async fn a_replica_that_cannot_open_the_signer_refuses_to_start() {
    let store = Arc::new(MemoryStore::new());
    let clock = clock();
    drop(manager(store.clone(), K1, &clock).await.unwrap());
    let ring = store.signing_keys().await.unwrap();
    // The signer's row is damaged; no other key signs.
    let mut bad = damaged(&ring.keys[0], &ring.keys[0].kid);
    bad.public_jwk.clone_from(&ring.keys[0].public_jwk);
    store
        .change_signing_keys(ring.revision, &[KeyChange::Update(bad)])
        .await
        .unwrap();
    let before = store.signing_keys().await.unwrap();
    let error = manager(store.clone(), K1, &clock).await.unwrap_err();
    assert!(
        matches!(error, Error::SealedSigningKey { ref kid, .. } if *kid == ring.keys[0].kid),
        "{error:?}"
    );
    assert_eq!(
        store.signing_keys().await.unwrap(),
        before,
        "nothing written"
    );
}

/// A key store whose reads also return rows "restored from a backup"
/// behind the store's back (as a database restore of the keys table
/// would), until the manager removes them.
#[derive(Debug)]
struct Restored {
    inner: Arc<MemoryStore>,
    rows: Mutex<Vec<StoredKey>>,
}

#[async_trait]
impl KeyStore for Restored {
    async fn signing_keys(&self) -> Result<KeyRing, StoreError> {
        let mut ring = self.inner.signing_keys().await?;
        ring.keys.extend(self.rows.lock().unwrap().iter().cloned());
        Ok(ring)
    }

    async fn change_signing_keys(
        &self,
        expected_revision: u64,
        changes: &[KeyChange],
    ) -> Result<u64, StoreError> {
        let mut passed = Vec::new();
        {
            let mut rows = self.rows.lock().unwrap();
            for change in changes {
                match change {
                    KeyChange::Remove { kid } if rows.iter().any(|r| &r.kid == kid) => {
                        rows.retain(|r| &r.kid != kid);
                    }
                    other => passed.push(other.clone()),
                }
            }
        }
        self.inner
            .change_signing_keys(expected_revision, &passed)
            .await
    }
}

#[tokio::test]
async fn a_withdrawn_key_restored_from_a_backup_is_never_published_again() {
    let store = Arc::new(MemoryStore::new());
    let clock = clock();
    let m = manager(store.clone(), K1, &clock).await.unwrap();
    let compromised = m.key_set().signing_key().unwrap().kid().to_owned();
    let backup = store.signing_keys().await.unwrap().keys;
    m.withdraw(&op(), &compromised).await.unwrap();
    assert!(
        store
            .signing_keys()
            .await
            .unwrap()
            .is_withdrawn(&compromised)
    );
    // The store refuses it back through its own API...
    let revision = store.signing_keys().await.unwrap().revision;
    assert!(matches!(
        store
            .change_signing_keys(revision, &[KeyChange::Insert(backup[0].clone())])
            .await,
        Err(StoreError::InvalidKey { .. })
    ));

    // ...and a row that comes back behind its back is never loaded.
    let restored = Arc::new(Restored {
        inner: store.clone(),
        rows: Mutex::new(backup),
    });
    let replica = manager(restored.clone(), K1, &clock).await.unwrap();
    assert!(replica.key_set().verifying_key(&compromised).is_none());
    assert_ne!(
        replica.key_set().signing_key().unwrap().kid(),
        compromised.as_str()
    );
    assert!(
        restored.rows.lock().unwrap().is_empty(),
        "the start's tick removed the restored row"
    );
    clock.advance(Duration::minutes(1));
    let step = replica.tick().await.unwrap();
    assert!(step.removed_withdrawn.is_empty());
    assert!(replica.key_set().verifying_key(&compromised).is_none());
}

#[tokio::test]
async fn rotate_and_withdraw_are_audited_with_their_actor() {
    let store = Arc::new(MemoryStore::new());
    let clock = clock();
    let m = manager(store.clone(), K1, &clock).await.unwrap();
    let next = m.rotate_now(&op()).await.unwrap();
    m.withdraw(&op(), &next).await.unwrap();
    let trail = store
        .audit(&AuditQuery {
            tenant: TenantId::new(SIGNING_KEY_AUDIT_TENANT).unwrap(),
            client_id: None,
            after_seq: None,
            limit: 10,
        })
        .await
        .unwrap();
    let got: Vec<(AuditAction, AuditActor, Option<String>)> = trail
        .iter()
        .map(|r| {
            (
                r.event.action,
                r.event.actor.clone(),
                r.event.detail.clone(),
            )
        })
        .collect();
    let ops = AuditActor::PlatformAdmin { user: "ops".into() };
    assert_eq!(
        got,
        vec![
            (
                AuditAction::RotateSigningKey,
                ops.clone(),
                Some(next.clone())
            ),
            (AuditAction::WithdrawSigningKey, ops, Some(next)),
        ]
    );
    // A refused withdrawal writes nothing.
    assert!(matches!(
        m.withdraw(&op(), "no-such-kid").await,
        Err(Error::NotFound)
    ));
    let tenant = TenantId::new(SIGNING_KEY_AUDIT_TENANT).unwrap();
    let m = m.with_audit_tenant(TenantId::new("ops-audit").unwrap());
    m.rotate_now(&op()).await.unwrap();
    let query = |tenant: TenantId| AuditQuery {
        tenant,
        client_id: None,
        after_seq: None,
        limit: 10,
    };
    assert_eq!(store.audit(&query(tenant)).await.unwrap().len(), 2);
    assert_eq!(
        store
            .audit(&query(TenantId::new("ops-audit").unwrap()))
            .await
            .unwrap()
            .len(),
        1
    );
}
