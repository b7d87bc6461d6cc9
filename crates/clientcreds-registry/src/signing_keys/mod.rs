//! The key manager: signing keys kept in a [`KeyStore`], sealed under the
//! deployment's [`MasterKeys`], rotated publish-before-sign on a schedule,
//! and loaded into the [`KeySet`] that issuers and verifiers read.

mod refresh;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use clientcreds_jwt::{Algorithm, KeySet, SigningKey, VerifyingKey};
use clientcreds_secret::MasterKeys;
use clientcreds_store::{
    AuditAction, AuditEvent, AuditOutcome, KeyChange, KeyRing, KeyStore, StoreError, StoredKey,
    TenantId,
};
use time::OffsetDateTime;

use crate::{Actor, Clock, Error};

mod policy;

pub use policy::KeyRotationPolicy;

/// The tenant the audit records of signing-key operations are filed under
/// unless [`KeyManager::with_audit_tenant`] names another (keys belong to
/// the platform, not to a tenant; keep this id out of real tenants).
pub const SIGNING_KEY_AUDIT_TENANT: &str = "_platform";

/// What one [`KeyManager::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyStep {
    /// The kid of a key this tick created.
    pub created: Option<String>,
    /// Kids of keys this tick purged (past `unpublish_after`).
    pub purged: Vec<String>,
    /// How many keys this tick re-sealed under the current master key.
    pub resealed: usize,
    /// Whether another replica changed the keys first (this tick then only
    /// reloaded).
    pub lost_race: bool,
    /// Kids of stored keys that do not open here (sealed under a master
    /// key this replica lacks, or damaged): skipped, neither signing nor
    /// published, and reported (`tracing` error the first time).
    pub unreadable: Vec<String>,
    /// Kids of stored keys that were withdrawn for good and came back (a
    /// row restored from a backup, say): removed again, never loaded.
    pub removed_withdrawn: Vec<String>,
}

/// A stored key's schedule and status, for operators. No key material.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The kid.
    pub kid: String,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it enters the JWKS.
    pub publish_from: OffsetDateTime,
    /// When it starts signing.
    pub sign_from: OffsetDateTime,
    /// When it stops signing, once scheduled.
    pub sign_until: Option<OffsetDateTime>,
    /// When it leaves the JWKS, once scheduled.
    pub unpublish_after: Option<OffsetDateTime>,
    /// Whether it signs now.
    pub signing: bool,
    /// Whether it is in the JWKS now.
    pub published: bool,
}

/// Keeps an issuer's signing keys in a [`KeyStore`], sealed under the
/// deployment's [`MasterKeys`], rotates them publish-before-sign on a
/// schedule, and keeps the [`KeySet`] that issuers and verifiers read
/// current, by itself.
///
/// It lives in the registry (the issuer's crate) rather than in
/// `clientcreds-jwt` because it needs the store contract and the master
/// keys, and a resource server, which depends on `clientcreds-jwt` only,
/// must not compile either.
///
/// # Life of a key
///
/// ```text
///  publish_from ── lead ──▶ sign_from ── rotate_every ──▶ sign_until ── keep ──▶ unpublish_after
///  (in the JWKS, verifies)  (signs new tokens)             (verifies only)       (gone)
/// ```
///
/// Every replica runs [`KeyManager::tick`] every
/// [`KeyRotationPolicy::refresh_every`]. A tick reads the stored keys,
/// performs whatever step is due (the first key, the next key once the
/// current one has less than the lead time left to sign, re-sealing under a
/// new master key, purging unpublished keys) as one compare-and-set change,
/// and reloads the [`KeySet`]. Of several replicas that find the same step
/// due, one writes it and the others see it when they reload.
///
/// # Who runs the tick
///
/// [`KeyManager::start`] spawns a refresh task on the current tokio
/// runtime that ticks every `refresh_every` (logging what it did with
/// `tracing`, and failures as errors while the loaded keys stay in use).
/// The task belongs to the manager: it stops when the manager is dropped
/// or on [`KeyManager::shutdown`]. A host that schedules its own work
/// calls [`KeyManager::start_manual`] instead and runs
/// [`KeyManager::tick`] itself on that interval.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use clientcreds_registry::{KeyManager, KeyRotationPolicy, SystemClock};
/// use clientcreds_secret::MasterKeys;
/// use clientcreds_store::MemoryStore;
///
/// let master = Arc::new(MasterKeys::parse(&MasterKeys::generate_entry("k1")?)?);
/// let manager = KeyManager::start(
///     Arc::new(MemoryStore::new()),
///     master,
///     KeyRotationPolicy::default(),
///     Arc::new(SystemClock),
/// ).await?;
/// // The first start created the first key; it signs and is published.
/// assert!(manager.key_set().signing_key().is_some());
/// assert_eq!(manager.key_set().jwks().keys.len(), 1);
/// // From here on the manager ticks by itself, every `refresh_every`.
/// assert!(manager.is_refreshing());
/// // At shutdown (dropping the manager stops the task as well):
/// manager.shutdown().await;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct KeyManager {
    store: Arc<dyn KeyStore>,
    master: Arc<MasterKeys>,
    policy: KeyRotationPolicy,
    clock: Arc<dyn Clock>,
    keys: Arc<KeySet>,
    /// Opened keys by kid, so a reload decrypts only new keys.
    opened: Arc<Mutex<HashMap<String, Arc<SigningKey>>>>,
    /// The last ring read, so that a tick whose store read fails still
    /// moves the key set on in time (a retired key stops signing, an
    /// unpublished one leaves the JWKS) from what was last known.
    last: Arc<Mutex<Option<KeyRing>>>,
    /// Kids of stored keys that did not open here, as last loaded.
    unreadable: Arc<Mutex<BTreeSet<String>>>,
    /// Where operators' rotations and withdrawals are audited.
    audit_tenant: TenantId,
    /// The refresh task that [`KeyManager::start`] spawned, until shutdown.
    refresh: Mutex<Option<refresh::RefreshTask>>,
}

impl fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the store: a database store's `Debug` may show connection settings.
        f.debug_struct("KeyManager")
            .field("master", &self.master)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl KeyManager {
    /// Validates the policy, opens every stored key, performs any due step
    /// (on the first start: creates the first key), loads the key set, and
    /// spawns the refresh task that runs [`KeyManager::tick`] every
    /// [`KeyRotationPolicy::refresh_every`] on the current tokio runtime
    /// until the manager is dropped or [`KeyManager::shutdown`].
    ///
    /// A stored key that does not open (sealed under a master key this
    /// replica lacks, or a damaged row) is skipped and reported
    /// ([`KeyManager::unreadable`], a `tracing` error): one bad row must not
    /// stop every replica. Start fails only when no key that opens can sign
    /// now, so a wrong master key is still an error at start, not a
    /// lock-out later.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a tokio runtime (before anything is
    /// read or written); [`Error::KeyPolicy`]; [`Error::SealedSigningKey`]
    /// (or [`Error::SigningKey`]) for the key that should sign now when it
    /// does not open under `master`; [`Error::Store`].
    pub async fn start(
        store: Arc<dyn KeyStore>,
        master: Arc<MasterKeys>,
        policy: KeyRotationPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let manager = Self::start_manual(store, master, policy, clock).await?;
        manager.spawn_refresh(&runtime);
        Ok(manager)
    }

    /// As [`KeyManager::start`], without the refresh task: the host runs
    /// [`KeyManager::tick`] every [`KeyRotationPolicy::refresh_every`]
    /// itself (its own scheduler, or a clock it moves in tests). Without
    /// those ticks no key ever rotates.
    ///
    /// # Errors
    /// As [`KeyManager::start`], but never [`Error::NoRuntime`].
    pub async fn start_manual(
        store: Arc<dyn KeyStore>,
        master: Arc<MasterKeys>,
        policy: KeyRotationPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        policy.validate()?;
        let manager = Self {
            store,
            master,
            policy,
            clock,
            keys: Arc::new(KeySet::empty()),
            opened: Arc::new(Mutex::new(HashMap::new())),
            last: Arc::new(Mutex::new(None)),
            unreadable: Arc::new(Mutex::new(BTreeSet::new())),
            audit_tenant: TenantId::new(SIGNING_KEY_AUDIT_TENANT)
                .map_err(|_| Error::invalid("audit_tenant", "not a tenant id"))?,
            refresh: Mutex::new(None),
        };
        // Before anything is written: a replica that opens none of the
        // stored keys has the wrong master keys (it must not make keys the
        // others cannot open), and one that cannot open the key that signs
        // now cannot mint. Any other unreadable key is skipped.
        let ring = manager.store.signing_keys().await.map_err(Error::Store)?;
        let keys = usable(&ring);
        let mut first_failure = None;
        let mut opened = 0_usize;
        for stored in &keys {
            match manager.open(stored) {
                Ok(_) => opened += 1,
                Err(error) => {
                    first_failure.get_or_insert(error);
                }
            }
        }
        if let Some(error) = first_failure.filter(|_| opened == 0) {
            return Err(error);
        }
        if let Some(signer) = current_signer(&keys, manager.now()) {
            manager.open(signer)?;
        }
        manager.tick().await?;
        if manager.keys.signing_key().is_none() {
            return Err(Error::KeyPolicy {
                reason: "no stored key that opens here can sign now",
            });
        }
        Ok(manager)
    }

    /// Files the audit records of [`KeyManager::rotate_now`] and
    /// [`KeyManager::withdraw`] under `tenant` (default
    /// [`SIGNING_KEY_AUDIT_TENANT`]).
    #[must_use]
    pub fn with_audit_tenant(mut self, tenant: TenantId) -> Self {
        self.audit_tenant = tenant;
        self
    }

    /// Kids of stored keys that did not open at the last load (skipped:
    /// neither signing nor published here).
    #[must_use]
    pub fn unreadable(&self) -> Vec<String> {
        self.unreadable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// The key set to hand to a `TokenIssuer` and `TokenVerifier`. It is
    /// replaced in place by every reload; readers never wait on the store.
    #[must_use]
    pub fn key_set(&self) -> Arc<KeySet> {
        self.keys.clone()
    }

    /// The policy.
    #[must_use]
    pub fn policy(&self) -> &KeyRotationPolicy {
        &self.policy
    }

    /// Performs the step that is due, if any (one compare-and-set write),
    /// then reloads the key set. The refresh task of [`KeyManager::start`]
    /// runs it every [`KeyRotationPolicy::refresh_every`]; after
    /// [`KeyManager::start_manual`] the host does.
    ///
    /// # Errors
    /// [`Error::Store`], [`Error::SealedSigningKey`], [`Error::SigningKey`].
    pub async fn tick(&self) -> Result<KeyStep, Error> {
        let now = self.now();
        let ring = match self.store.signing_keys().await {
            Ok(ring) => ring,
            Err(error) => {
                let last = self
                    .last
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                if let Some(last) = last {
                    self.load(&last, now)?;
                }
                return Err(Error::Store(error));
            }
        };
        let (changes, mut step) = self.due_changes(&ring, now)?;
        let ring = self.apply(ring, &changes, &mut step).await?;
        // A fresh instant: after a lost race the winner's key may have been
        // made a moment after `now`, and must sign here at once too.
        self.load(&ring, self.now())?;
        step.unreadable = self.unreadable();
        Ok(step)
    }

    /// Reloads the key set from the store without changing anything.
    ///
    /// # Errors
    /// [`Error::Store`], [`Error::SealedSigningKey`], [`Error::SigningKey`].
    pub async fn reload(&self) -> Result<(), Error> {
        let ring = self.store.signing_keys().await.map_err(Error::Store)?;
        self.load(&ring, self.now())
    }

    /// "Rotate now": the next key is published at once and signs after the
    /// publish lead (publish-before-sign is kept). If a next key is already
    /// published, it is brought forward to sign as soon as it has been
    /// published for the lead time. Returns the next key's kid.
    ///
    /// The change and its audit record (action
    /// [`AuditAction::RotateSigningKey`], by `actor`) are one store
    /// transaction.
    ///
    /// # Errors
    /// [`Error::Conflict`] when another replica changed the keys meanwhile
    /// (retry); [`Error::Store`]; [`Error::SigningKey`].
    pub async fn rotate_now(&self, actor: &Actor) -> Result<String, Error> {
        let now = self.now();
        let ring = self.store.signing_keys().await.map_err(Error::Store)?;
        let live = usable(&ring);
        let mut changes = Vec::new();
        let current = current_signer(&live, now);
        let next_kid = match successor(&live, current, now) {
            Some(next) => {
                let sign_from = (next.publish_from + self.policy.publish_lead).max(now);
                if sign_from < next.sign_from {
                    let mut moved = next.clone();
                    moved.sign_from = sign_from;
                    changes.push(KeyChange::Update(moved));
                    if let Some(current) = current {
                        changes.push(KeyChange::Update(self.retire(current, sign_from)));
                    }
                }
                next.kid.clone()
            }
            None => {
                let sign_from = now + self.policy.publish_lead;
                let new = self.new_key(now, now, sign_from)?;
                let kid = new.kid.clone();
                changes.push(KeyChange::Insert(new));
                if let Some(current) = current {
                    changes.push(KeyChange::Update(self.retire(current, sign_from)));
                }
                kid
            }
        };
        if !changes.is_empty() {
            changes.push(self.audit(actor, AuditAction::RotateSigningKey, &next_kid, now));
        }
        let mut step = KeyStep::default();
        let ring = self.apply(ring, &changes, &mut step).await?;
        if step.lost_race {
            return Err(Error::Conflict);
        }
        self.load(&ring, now)?;
        Ok(next_kid)
    }

    /// "Withdraw now", for a compromised key: it leaves the store, so it is
    /// out of every replica's JWKS and tokens it signed stop verifying as
    /// soon as each replica reloads. If it was signing, a published next key
    /// signs at once, or else a new key is made that signs at once (a
    /// verifier holding an older JWKS then refetches on the unknown kid).
    ///
    /// Its kid is recorded as withdrawn for good ([`KeyChange::Withdraw`]):
    /// if its row comes back (a restored backup of the keys), no replica
    /// loads it and the next tick removes it again. The change and its audit
    /// record (action [`AuditAction::WithdrawSigningKey`], by `actor`) are
    /// one store transaction.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no stored key has this kid;
    /// [`Error::Conflict`] when another replica changed the keys meanwhile
    /// (retry); [`Error::Store`]; [`Error::SigningKey`].
    pub async fn withdraw(&self, actor: &Actor, kid: &str) -> Result<(), Error> {
        let now = self.now();
        let ring = self.store.signing_keys().await.map_err(Error::Store)?;
        if !ring.keys.iter().any(|k| k.kid == kid) {
            return Err(Error::NotFound);
        }
        let remaining: Vec<StoredKey> =
            usable(&ring).into_iter().filter(|k| k.kid != kid).collect();
        let mut changes = vec![
            KeyChange::Withdraw {
                kid: kid.to_owned(),
            },
            self.audit(actor, AuditAction::WithdrawSigningKey, kid, now),
        ];
        let remaining_signer = current_signer(&remaining, now);
        if let Some(current) = remaining_signer
            && current.sign_until.is_some()
            && successor(&remaining, Some(current), now).is_none()
        {
            // Its successor was withdrawn: it signs on until a tick
            // publishes a new successor, publish-before-sign.
            let mut extended = current.clone();
            extended.sign_until = None;
            extended.unpublish_after = None;
            changes.push(KeyChange::Update(extended));
        }
        if remaining_signer.is_none() {
            match remaining
                .iter()
                .filter(|k| k.publish_from <= now && k.sign_from > now)
                .min_by_key(|k| k.sign_from)
            {
                Some(next) => {
                    let mut promoted = next.clone();
                    promoted.sign_from = now;
                    changes.push(KeyChange::Update(promoted));
                }
                None => changes.push(KeyChange::Insert(self.new_key(now, now, now)?)),
            }
        }
        let mut step = KeyStep::default();
        let ring = self.apply(ring, &changes, &mut step).await?;
        if step.lost_race {
            return Err(Error::Conflict);
        }
        self.forget(kid);
        self.load(&ring, now)
    }

    /// Every stored key with its schedule, for an operator's view.
    ///
    /// # Errors
    /// [`Error::Store`].
    pub async fn keys(&self) -> Result<Vec<KeyInfo>, Error> {
        let now = self.now();
        let ring = self.store.signing_keys().await.map_err(Error::Store)?;
        let signer = current_signer(&ring.keys, now).map(|k| k.kid.clone());
        Ok(ring
            .keys
            .iter()
            .filter_map(|k| {
                Some(KeyInfo {
                    kid: k.kid.clone(),
                    algorithm: Algorithm::from_name(&k.algorithm)?,
                    created_at: k.created_at,
                    publish_from: k.publish_from,
                    sign_from: k.sign_from,
                    sign_until: k.sign_until,
                    unpublish_after: k.unpublish_after,
                    signing: signer.as_deref() == Some(k.kid.as_str()),
                    published: is_published(k, now),
                })
            })
            .collect())
    }

    fn now(&self) -> OffsetDateTime {
        crate::clock::now_micros(self.clock.as_ref())
    }

    /// The audit record of an operator's change, as a change of its own.
    fn audit(
        &self,
        actor: &Actor,
        action: AuditAction,
        kid: &str,
        at: OffsetDateTime,
    ) -> KeyChange {
        KeyChange::Audit(AuditEvent {
            at,
            actor: actor.audit(),
            tenant: self.audit_tenant.clone(),
            client_id: None,
            action,
            outcome: AuditOutcome::Success,
            detail: Some(kid.to_owned()),
        })
    }

    /// The changes due at `now`.
    fn due_changes(
        &self,
        ring: &KeyRing,
        now: OffsetDateTime,
    ) -> Result<(Vec<KeyChange>, KeyStep), Error> {
        let mut changes = Vec::new();
        let mut step = KeyStep::default();
        for key in ring.keys.iter().filter(|k| ring.is_withdrawn(&k.kid)) {
            tracing::error!(
                kid = %key.kid,
                "a withdrawn signing key is back in the store (restored from a backup?): removing it"
            );
            changes.push(KeyChange::Remove {
                kid: key.kid.clone(),
            });
            step.removed_withdrawn.push(key.kid.clone());
        }
        for key in ring.keys.iter().filter(|k| !ring.is_withdrawn(&k.kid)) {
            if key.unpublish_after.is_some_and(|end| end <= now) {
                changes.push(KeyChange::Remove {
                    kid: key.kid.clone(),
                });
                step.purged.push(key.kid.clone());
            }
        }
        let live: Vec<StoredKey> = usable(ring)
            .into_iter()
            .filter(|k| !step.purged.contains(&k.kid))
            .collect();
        let current = current_signer(&live, now);
        match current {
            None if successor(&live, None, now).is_none() => {
                // No key signs and none is scheduled: the first start, or
                // every key withdrawn. A key that signs at once.
                let new = self.new_key(now, now, now)?;
                step.created = Some(new.kid.clone());
                changes.push(KeyChange::Insert(new));
            }
            Some(current) if successor(&live, Some(current), now).is_none() => {
                let due = current.sign_from + self.policy.rotate_every - self.policy.publish_lead;
                if now >= due {
                    let sign_from = (current.sign_from + self.policy.rotate_every)
                        .max(now + self.policy.publish_lead);
                    let new = self.new_key(now, now, sign_from)?;
                    step.created = Some(new.kid.clone());
                    changes.push(KeyChange::Insert(new));
                    changes.push(KeyChange::Update(self.retire(current, sign_from)));
                }
            }
            _ => {}
        }
        // Keys sealed under an older master key are re-sealed under the
        // current one, so the old master key can be retired. A key that
        // does not open is left as it is (and reported by the load): it
        // must not stop the rest of the rotation.
        for key in &live {
            if MasterKeys::sealed_key_id(&key.sealed_private_key) != Some(self.master.current_id())
            {
                let Ok(plaintext) = self
                    .master
                    .open(&aad(&key.kid, &key.algorithm), &key.sealed_private_key)
                else {
                    continue;
                };
                let mut resealed = match changes.iter().find_map(|c| match c {
                    KeyChange::Update(k) if k.kid == key.kid => Some(k.clone()),
                    _ => None,
                }) {
                    Some(updated) => updated,
                    None => key.clone(),
                };
                resealed.sealed_private_key = self
                    .master
                    .seal(&aad(&key.kid, &key.algorithm), &plaintext)?;
                changes.retain(|c| !matches!(c, KeyChange::Update(k) if k.kid == key.kid));
                changes.push(KeyChange::Update(resealed));
                step.resealed += 1;
            }
        }
        Ok((changes, step))
    }

    /// Applies `changes` (if any) against `ring`'s revision. A lost race is
    /// not an error: the ring is re-read and `step.lost_race` set.
    async fn apply(
        &self,
        ring: KeyRing,
        changes: &[KeyChange],
        step: &mut KeyStep,
    ) -> Result<KeyRing, Error> {
        if changes.is_empty() {
            return Ok(ring);
        }
        match self.store.change_signing_keys(ring.revision, changes).await {
            Ok(_) => self.store.signing_keys().await.map_err(Error::Store),
            Err(StoreError::Conflict | StoreError::Duplicate) => {
                *step = KeyStep {
                    lost_race: true,
                    ..KeyStep::default()
                };
                self.store.signing_keys().await.map_err(Error::Store)
            }
            Err(other) => Err(Error::Store(other)),
        }
    }

    /// Rebuilds the key set from `ring` as of `now`. Withdrawn kids are
    /// never loaded; a key that does not open is skipped and reported.
    fn load(&self, ring: &KeyRing, now: OffsetDateTime) -> Result<(), Error> {
        let keys = usable(ring);
        let mut unreadable = BTreeSet::new();
        let mut opened_or_skip = |key: &StoredKey| match self.open(key) {
            Ok(opened) => Some(opened),
            Err(error) => {
                unreadable.insert(key.kid.clone());
                let known = self
                    .unreadable
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains(&key.kid);
                if !known {
                    tracing::error!(
                        kid = %key.kid,
                        %error,
                        "a stored signing key does not open here: skipped (neither signing nor \
                         published by this replica); withdraw it or configure its master key"
                    );
                }
                None
            }
        };
        let signer = current_signer(&keys, now);
        let signing = signer.and_then(&mut opened_or_skip);
        let mut published = Vec::new();
        for key in keys.iter().filter(|k| is_published(k, now)) {
            if signer.is_some_and(|s| s.kid == key.kid) {
                continue;
            }
            let Some(opened) = opened_or_skip(key) else {
                continue;
            };
            published.push((
                Arc::new(VerifyingKey::clone(opened.verifying_key())),
                key.unpublish_after,
            ));
        }
        if signer.is_some() && signing.is_none() {
            tracing::error!("the signing key does not open here: this replica cannot mint tokens");
        }
        *self
            .unreadable
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = unreadable;
        // Keys no longer stored are forgotten.
        {
            let mut opened = self.opened.lock().unwrap_or_else(PoisonError::into_inner);
            opened.retain(|kid, _| ring.keys.iter().any(|k| &k.kid == kid));
        }
        self.keys.replace_all(signing, published)?;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(ring.clone());
        Ok(())
    }

    /// The opened key for a stored one, decrypting it on first use and
    /// checking that it is the key its kid names.
    fn open(&self, stored: &StoredKey) -> Result<Arc<SigningKey>, Error> {
        if let Some(key) = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&stored.kid)
        {
            return Ok(key.clone());
        }
        let algorithm = Algorithm::from_name(&stored.algorithm)
            .filter(|a| *a != Algorithm::HS256)
            .ok_or(clientcreds_jwt::KeyError::Jwk(
                "stored key has an unsupported algorithm",
            ))?;
        let der = self
            .master
            .open(
                &aad(&stored.kid, &stored.algorithm),
                &stored.sealed_private_key,
            )
            .map_err(|source| Error::SealedSigningKey {
                kid: stored.kid.clone(),
                source,
            })?;
        let key = SigningKey::from_pkcs8_der(algorithm, &der)?;
        if key.kid() != stored.kid {
            return Err(clientcreds_jwt::KeyError::Jwk(
                "stored private key does not match its kid",
            )
            .into());
        }
        let key = Arc::new(key);
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(stored.kid.clone(), key.clone());
        Ok(key)
    }

    fn forget(&self, kid: &str) {
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(kid);
    }

    /// A new key of the policy's algorithm, sealed, with this schedule.
    fn new_key(
        &self,
        now: OffsetDateTime,
        publish_from: OffsetDateTime,
        sign_from: OffsetDateTime,
    ) -> Result<StoredKey, Error> {
        let algorithm = self.policy.algorithm;
        let der = SigningKey::generate_pkcs8(algorithm)?;
        let key = SigningKey::from_pkcs8_der(algorithm, &der)?;
        let public_jwk = key
            .verifying_key()
            .public_jwk()
            .ok_or(clientcreds_jwt::KeyError::Jwk("the key has no public JWK"))?;
        let public_jwk = serde_json::to_string(public_jwk)
            .map_err(|_| clientcreds_jwt::KeyError::Jwk("the public JWK does not serialize"))?;
        let kid = key.kid().to_owned();
        let sealed_private_key = self.master.seal(&aad(&kid, algorithm.name()), &der)?;
        Ok(StoredKey {
            kid,
            algorithm: algorithm.name().to_owned(),
            public_jwk,
            sealed_private_key,
            created_at: now,
            publish_from,
            sign_from,
            sign_until: None,
            unpublish_after: None,
        })
    }

    /// `current` with its signing ending at `until`.
    fn retire(&self, current: &StoredKey, until: OffsetDateTime) -> StoredKey {
        let mut retired = current.clone();
        retired.sign_until = Some(until);
        retired.unpublish_after =
            Some(until + self.policy.keep_after_signing + self.policy.refresh_every);
        retired
    }
}

/// The stored keys that were not withdrawn for good.
fn usable(ring: &KeyRing) -> Vec<StoredKey> {
    ring.keys
        .iter()
        .filter(|k| !ring.is_withdrawn(&k.kid))
        .cloned()
        .collect()
}

/// The associated data a signing key is sealed with: its kid and
/// algorithm, so a sealed key cannot be moved to another row.
fn aad(kid: &str, algorithm: &str) -> Vec<u8> {
    format!("clientcreds signing key\u{0}{kid}\u{0}{algorithm}").into_bytes()
}

fn is_published(key: &StoredKey, now: OffsetDateTime) -> bool {
    key.publish_from <= now && key.unpublish_after.is_none_or(|end| end > now)
}

/// The key that signs at `now`: signing has started and not ended; of
/// several, the one that started last.
fn current_signer(keys: &[StoredKey], now: OffsetDateTime) -> Option<&StoredKey> {
    keys.iter()
        .filter(|k| k.sign_from <= now && k.sign_until.is_none_or(|end| end > now))
        .max_by(|a, b| {
            a.sign_from
                .cmp(&b.sign_from)
                .then_with(|| a.kid.cmp(&b.kid))
        })
}

/// A key scheduled to sign after `current` (or after `now` without one).
fn successor<'a>(
    keys: &'a [StoredKey],
    current: Option<&StoredKey>,
    now: OffsetDateTime,
) -> Option<&'a StoredKey> {
    let after = current.map_or(now, |c| c.sign_from);
    keys.iter()
        .filter(|k| k.sign_from > after && current.is_none_or(|c| c.kid != k.kid))
        .min_by_key(|k| k.sign_from)
}
