//! Signing keys at rest: the [`KeyStore`] contract.
//!
//! A store keeps each signing key's public JWK in clear and its private key
//! only as the sealed text the issuer hands it (encrypted under the
//! deployment's master keys; the store never sees a private key). The whole
//! set of keys has one revision number, and every change names the revision
//! it was computed from: of several replicas that find the same rotation
//! due, exactly one writes it, and the others get [`StoreError::Conflict`]
//! and re-read.

use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{AuditEvent, StoreError};

/// Longest `kid` a store accepts, in bytes.
pub const MAX_KID_LEN: usize = 128;

/// One signing key as stored, with the instants of its life:
///
/// `publish_from ≤ sign_from < sign_until ≤ unpublish_after`: it is in the
/// JWKS from `publish_from` until `unpublish_after`, and signs from
/// `sign_from` until `sign_until`. An open end (`None`) has not been
/// scheduled yet.
///
/// `Debug` leaves out the sealed private key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The key id (RFC 7638 thumbprint).
    pub kid: String,
    /// The JWS algorithm name (`EdDSA`, `ES256`, `RS256`).
    pub algorithm: String,
    /// The public JWK, as JSON text.
    pub public_jwk: String,
    /// The private key, sealed (encrypted and authenticated) by the issuer.
    pub sealed_private_key: String,
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
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .field("publish_from", &self.publish_from)
            .field("sign_from", &self.sign_from)
            .field("sign_until", &self.sign_until)
            .field("unpublish_after", &self.unpublish_after)
            .finish_non_exhaustive()
    }
}

/// Every stored signing key and the revision of the set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRing {
    /// Increases by one with every applied change; 0 for a store that
    /// never held a key.
    pub revision: u64,
    /// The keys, ordered by `sign_from`, then `kid`.
    pub keys: Vec<StoredKey>,
    /// The kids withdrawn for good ([`KeyChange::Withdraw`]), sorted. A
    /// key whose kid is here must never sign or be published again, even
    /// if its row comes back (restored from a backup, say).
    pub withdrawn: Vec<String>,
}

impl KeyRing {
    /// Whether `kid` was withdrawn for good.
    #[must_use]
    pub fn is_withdrawn(&self, kid: &str) -> bool {
        self.withdrawn
            .binary_search_by(|w| w.as_str().cmp(kid))
            .is_ok()
    }
}

/// One change to the stored signing keys.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyChange {
    /// Adds a key; its kid must be new.
    Insert(StoredKey),
    /// Replaces the schedule of the key with this kid (its instants; the
    /// kid, algorithm, public and sealed private key stay as stored unless
    /// given differently, which lets a master-key rotation re-seal it).
    Update(StoredKey),
    /// Deletes the key with this kid.
    Remove {
        /// The kid.
        kid: String,
    },
    /// Deletes the key with this kid if it is stored, and records the kid
    /// as withdrawn for good ([`KeyRing::withdrawn`]): an insert of it is
    /// refused from then on ([`StoreError::InvalidKey`]).
    Withdraw {
        /// The kid.
        kid: String,
    },
    /// Appends this record to the store's audit trail, in the same
    /// transaction as the other changes (for a store that is also an
    /// [`AuditLog`](crate::AuditLog); any other refuses it with
    /// [`StoreError::InvalidKey`]): an operator's rotation or withdrawal
    /// and its record are written together or not at all.
    Audit(AuditEvent),
}

/// Where signing keys live. Object safe, `Send + Sync + Debug`, with
/// forwarding impls for `&T`, `Box<T>` and `Arc<T>`; the conformance kit
/// (`conformance::run_key_store`) checks an implementation.
#[async_trait]
pub trait KeyStore: Send + Sync + Debug {
    /// Every stored key and the set's revision, read at one instant.
    async fn signing_keys(&self) -> Result<KeyRing, StoreError>;

    /// Applies `changes` in order, atomically, if the set's revision is
    /// still `expected_revision`, and returns the new revision
    /// (`expected_revision + 1`).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the revision moved on;
    /// [`StoreError::Duplicate`] when an insert's kid exists;
    /// [`StoreError::NotFound`] when an update or remove names no key;
    /// [`StoreError::InvalidKey`] for an empty or over-long kid, instants
    /// out of order, or an insert of a withdrawn kid. In every case nothing
    /// is written.
    async fn change_signing_keys(
        &self,
        expected_revision: u64,
        changes: &[KeyChange],
    ) -> Result<u64, StoreError>;
}

/// The checks every store applies to a key before writing it.
///
/// # Errors
/// [`StoreError::InvalidKey`] naming what is wrong.
pub fn validate_stored_key(key: &StoredKey) -> Result<(), StoreError> {
    let invalid = |reason| Err(StoreError::InvalidKey { reason });
    if key.kid.is_empty() || key.kid.len() > MAX_KID_LEN {
        return invalid("kid must be 1 to 128 bytes");
    }
    if key.algorithm.is_empty() || key.public_jwk.is_empty() || key.sealed_private_key.is_empty() {
        return invalid("algorithm, public JWK and sealed private key are required");
    }
    if key.publish_from > key.sign_from {
        return invalid("publish_from is after sign_from");
    }
    if key.sign_until.is_some_and(|until| until < key.sign_from) {
        return invalid("sign_until is before sign_from");
    }
    match (key.sign_until, key.unpublish_after) {
        (Some(until), Some(unpublish)) if unpublish < until => {
            invalid("unpublish_after is before sign_until")
        }
        (None, Some(_)) => invalid("unpublish_after is set without sign_until"),
        _ => Ok(()),
    }
}

/// Sorts keys in the order [`KeyRing::keys`] promises.
pub fn sort_keys(keys: &mut [StoredKey]) {
    keys.sort_by(|a, b| {
        a.sign_from
            .cmp(&b.sign_from)
            .then_with(|| a.kid.cmp(&b.kid))
    });
}

macro_rules! forward_keys {
    ($($wrapper:ty),*) => {$(
        #[async_trait]
        impl<T: KeyStore + ?Sized> KeyStore for $wrapper {
            async fn signing_keys(&self) -> Result<KeyRing, StoreError> {
                (**self).signing_keys().await
            }
            async fn change_signing_keys(&self, expected_revision: u64, changes: &[KeyChange]) -> Result<u64, StoreError> {
                (**self).change_signing_keys(expected_revision, changes).await
            }
        }
    )*};
}

forward_keys!(&T, Box<T>, Arc<T>);
